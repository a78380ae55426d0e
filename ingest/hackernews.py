"""Hacker News stories and comments, through the Algolia search API (no auth).

Polls `search_by_date` (newest first) per query with `numericFilters=created_at_i>X`. Algolia
indexes items some minutes after they are posted, so each poll reaches back `overlap_seconds`
before the cursor and drops the ids it already yielded. Typo-tolerance false positives (a
search for "apple" matching "applauded") are left to the brand matcher downstream.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field

from core.errors import Rejected
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url, from_epoch, from_iso, html_to_text
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

log = logging.getLogger(__name__)
NAME = "hackernews"


class Config(SourceConfig):
    URL_FIELDS = ("base_url",)

    queries: list[str] = Field(min_length=1, description="Search queries, one request each.")
    tags: str = Field(
        default="(story,comment)", description="Algolia tags filter: stories, comments or both."
    )
    base_url: str = Field(
        default="https://hn.algolia.com/api/v1", description="Algolia HN API root."
    )
    hits_per_page: int = Field(default=100, ge=1, le=1000, description="Hits per request.")
    max_pages_per_poll: polling.MaxPagesPerPoll = 10
    poll_interval_seconds: polling.PollIntervalSeconds = 60.0
    initial_lookback_seconds: polling.InitialLookbackSeconds = 3600
    overlap_seconds: polling.OverlapSeconds = Field(
        default=600, description="Re-read window for items Algolia indexed late."
    )
    http: polling.Politeness = HttpPolicy()


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """One `search_by_date` response to mentions; a hit that does not map is rejected alone."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    hits = body.get("hits") if isinstance(body, dict) else None
    if not isinstance(hits, list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: response has no 'hits' list")]
    return each(hits, lambda hit: _mention(hit, fetched_at), NAME)


def _mention(hit: dict[str, Any], fetched_at: datetime) -> Mention:
    object_id = str(field(hit, "objectID"))
    title = html.unescape(hit.get("title") or hit.get("story_title") or "")
    body = hit.get("comment_text") or hit.get("story_text") or ""
    is_comment = bool(hit.get("comment_text")) or "comment" in (hit.get("_tags") or [])
    text = html_to_text(body) if body else ""
    if not is_comment and title:
        text = f"{title}\n\n{text}" if text else title
    if not text:
        raise ValueError("hit has neither title nor text")
    created = (
        from_epoch(hit["created_at_i"])
        if hit.get("created_at_i") is not None
        else from_iso(field(hit, "created_at"))
    )
    return Mention(
        uid=make_uid(NAME, object_id),
        source=NAME,
        source_id=object_id,
        url=canonical_url(f"https://news.ycombinator.com/item?id={object_id}"),
        author=Author(handle=str(field(hit, "author"))),
        text=text,
        created_at=created,
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=max(0, int(hit.get("points") or 0)),
            replies=0 if is_comment else max(0, int(hit.get("num_comments") or 0)),
        ),
    )


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: every query, from its saved cursor to now."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, sleep=sleep, allow_private=config.allow_private
    )

    async def run(query: str) -> AsyncIterator[Item]:
        window = progress.window(query, config)
        for page in range(config.max_pages_per_poll):
            response = await polite.get(
                f"{config.base_url}/search_by_date",
                params={
                    "query": query,
                    "tags": config.tags,
                    "numericFilters": f"created_at_i>{int(window.since)}",
                    "hitsPerPage": config.hits_per_page,
                    "page": page,
                },
            )
            items = accept_page(
                NAME,
                str(response.url),
                parse(response.content, fetched_at=now()),
                response.content,
            )
            for item in items:
                if not isinstance(item, Mention) or window.admit(
                    item.source_id, item.created_at.timestamp()
                ):
                    yield item
            if len(items) < config.hits_per_page:
                break
        else:
            log.warning(
                "%s: %r: more than %d pages since the last poll, older hits skipped; "
                "raise max_pages_per_poll or poll more often",
                NAME,
                query,
                config.max_pages_per_poll,
            )
        progress.save(query, window.state())

    async for item in each_target(NAME, config.queries, run):
        yield item


SOURCE = Source(NAME, Config, fetch, "polling", search="plain")
