"""Apple App Store customer reviews of the brand's apps, from the public RSS feed per storefront.

`https://itunes.apple.com/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json`
lists a storefront's reviews newest first, 50 a page, pages 1 to 10 (the 500 most recent). It
needs no key. Each round reads every storefront in `countries` from page 1 until a page holds a
review already produced unchanged. A review whose author changed it comes back with the same id
and new text: it is produced again with the same uid and `edited_at`.

A review's text is its title and body; its star rating leads the text as ★ glyphs
(`★★☆☆☆ Title\n\nBody`), a form that reads the same in every language, survives any truncation,
and that search and people see (Mention has no rating field). The feed has no per-review page:
`url` is the app's reviews in that storefront. Answering a review needs the App Store Connect API
and its own key: not supported (`reply_target` is None).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from pydantic import Field

from core.errors import Rejected
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import from_iso
from ingest.cursor import Cursor, CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

NAME = "appstore"
ARAB_STOREFRONTS = ["sa", "ae", "eg", "kw", "qa", "bh", "om", "jo", "ma", "dz", "tn", "lb", "iq"]


class Config(SourceConfig):
    URL_FIELDS = ("feed_url",)

    app_id: str = Field(
        pattern=r"^\d+$", coerce_numbers_to_str=True, description="The app's Apple id (digits)."
    )
    countries: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default=ARAB_STOREFRONTS,
        min_length=1,
        description="Storefronts (ISO 3166 alpha-2, lower case) whose reviews are read.",
    )
    pages: int = Field(default=10, ge=1, le=10, description="Pages (50 reviews) per storefront.")
    feed_url: str = Field(default="https://itunes.apple.com", description="The feed's host.")
    poll_interval_seconds: polling.PollIntervalSeconds = 3600.0
    http: polling.Politeness = HttpPolicy()


def stars(rating: Any) -> str:
    """A 1-5 star rating as five glyphs: ★★★☆☆."""
    value = int(rating)
    if not 1 <= value <= 5:
        raise ValueError(f"a star rating is 1 to 5, not {rating!r}")
    return "★" * value + "☆" * (5 - value)


def parse(payload: bytes | str, *, country: str, app_id: str, fetched_at: datetime) -> list[Item]:
    """A customer-reviews feed page to mentions (the app's own entry, in older feeds, skipped)."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    feed = body.get("feed") if isinstance(body, dict) else None
    if not isinstance(feed, dict):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: not a feed")]
    entries = feed.get("entry", [])
    entries = [entries] if isinstance(entries, dict) else entries  # one review: not a list
    if not isinstance(entries, list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: feed.entry is not a list")]
    updated = feed.get("updated")
    feed_time = updated.get("label") if isinstance(updated, dict) else None
    url = f"https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews"
    return each(entries, lambda e: _mention(e, url, app_id, feed_time, fetched_at), NAME)


def _mention(
    entry: dict[str, Any], url: str, app_id: str, feed_time: str | None, fetched_at: datetime
) -> Mention | None:
    if "im:name" in entry:
        return None  # the app itself, first on page 1 of older feeds
    review_id = str(field(entry, "id", "label"))
    name = str(field(entry, "author", "name", "label"))
    reviewer = str((entry["author"].get("uri") or {}).get("label") or "").rsplit("/", 1)[-1]
    title, body = str(field(entry, "title", "label")), str(field(entry, "content", "label"))
    updated = (entry.get("updated") or {}).get("label") or feed_time  # 2020 feeds: none
    if updated is None:
        raise KeyError("updated")
    return Mention(
        uid=make_uid(NAME, review_id),
        source=NAME,
        source_id=review_id,
        url=url,
        author=Author(handle=reviewer or name, name=name),
        text=f"{stars(field(entry, 'im:rating', 'label'))} {title}\n\n{body}",
        created_at=from_iso(updated),
        fetched_at=fetched_at,
        engagement=Engagement(likes=max(0, int((entry.get("im:voteSum") or {}).get("label") or 0))),
        parent_id=app_id,
    )


class Reviews:
    """The reviews of one listing already produced, each with its first time and a digest of
    its text. App stores list a review again when its author changes it (same id, new text): it
    is produced again with its first time kept and `edited_at` set to the store's new time."""

    def __init__(self, state: Cursor | None, *, keep: int) -> None:
        self.seen: dict[str, list[Any]] = dict(state or {})
        self.keep = keep

    def admit(self, mention: Mention) -> Mention | None:
        """The mention to produce (new, or edited), or None when it was produced as it is."""
        digest = hashlib.sha256(mention.text.encode()).hexdigest()[:16]
        known = self.seen.get(mention.source_id)
        if known is None:
            self.seen[mention.source_id] = [mention.created_at.timestamp(), digest]
            return mention
        first, produced = known
        if produced == digest:
            return None
        self.seen[mention.source_id] = [first, digest]
        return mention.model_copy(
            update={
                "created_at": datetime.fromtimestamp(first, UTC),
                "edited_at": max(mention.created_at, datetime.fromtimestamp(first, UTC)),
            }
        )

    def state(self) -> Cursor:
        newest = sorted(self.seen.items(), key=lambda kv: kv[1][0])[-self.keep :]
        return dict(newest)


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: each storefront newest first, until a page holds a review already produced."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, allow_private=config.allow_private, sleep=sleep
    )

    async def run(country: str) -> AsyncIterator[Item]:
        reviews = Reviews(progress.get(country), keep=20 * 50)
        for page in range(1, config.pages + 1):
            url = (
                f"{config.feed_url}/{country}/rss/customerreviews/page={page}"
                f"/id={config.app_id}/sortby=mostrecent/json"
            )
            response = await polite.get(url)
            parsed = parse(
                response.content, country=country, app_id=config.app_id, fetched_at=now()
            )
            items = accept_page(NAME, url, parsed, response.content)
            reached_cursor = not items  # past the last review
            for item in items:
                if not isinstance(item, Mention):
                    yield item
                elif (admitted := reviews.admit(item)) is not None:
                    yield admitted
                else:
                    reached_cursor = True
            if reached_cursor:
                break
        progress.save(country, reviews.state())

    async for item in each_target(NAME, config.countries, run):
        yield item


SOURCE = Source(NAME, Config, fetch, "polling")
