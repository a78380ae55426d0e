"""Mastodon hashtag and public timelines on a list of instances (no auth by default).

Each (instance, timeline) polls forward with `min_id`, following the `Link: rel="prev"` page
(the next newer one) until it has caught up, and saves its cursor after every page. Boosts are
unwrapped to the post they boost; the post's ActivityPub `uri` is its id, so one post seen on
two instances (or boosted twice) is one mention downstream. Instances that require login for
timelines answer 401: that instance is reported with what to do and skipped, the others go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url, from_iso, html_to_text
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

NAME = "mastodon"


class Config(SourceConfig):
    URL_FIELDS = ("instances",)

    instances: list[str] = Field(
        min_length=1, description="Instance base URLs, e.g. https://mastodon.social."
    )
    hashtags: list[str] = Field(default=[], description="Hashtags to follow, without '#'.")
    public_timeline: Literal["off", "local", "all"] = Field(
        default="off", description="Also poll the public timeline: only local posts, or all."
    )
    access_tokens: dict[str, SecretStr] = Field(
        default={}, description="Bearer tokens by instance URL, for instances that require login."
    )
    page_limit: int = Field(default=40, ge=1, le=40, description="Statuses per request.")
    max_pages_per_poll: polling.MaxPagesPerPoll = Field(
        default=10, description="Page cap per timeline poll."
    )
    poll_interval_seconds: polling.PollIntervalSeconds = 60.0
    http: polling.Politeness = HttpPolicy()

    @field_validator("instances")
    @classmethod
    def _bare_urls(cls, value: list[str]) -> list[str]:
        return [_instance(url) for url in value]

    @field_validator("access_tokens")
    @classmethod
    def _token_urls(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return {_instance(url): token for url, token in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if not self.hashtags and self.public_timeline == "off":
            raise ValueError("nothing to poll: list hashtags, or set public_timeline")
        stray = sorted(set(self.access_tokens) - set(self.instances))
        if stray:
            raise ValueError(f"access_tokens names {', '.join(stray)}, not in instances")
        return self


def _instance(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an instance URL; write https://host")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def parse(payload: bytes | str, *, instance: str, fetched_at: datetime) -> list[Item]:
    """One timeline page (a JSON array of statuses) to mentions; `instance` qualifies handles."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    if not isinstance(body, list):
        reason = f"{NAME}: expected a JSON array of statuses, got {type(body).__name__}"
        if isinstance(body, dict) and "error" in body:
            reason += f" (server said {str(body['error'])[:200]!r})"
        return [Rejected(payload=text_of(payload), reason=reason)]
    host = urlsplit(instance).netloc or instance
    return each(body, lambda status: _mention(status, host, fetched_at), NAME)


def _mention(status: dict[str, Any], host: str, fetched_at: datetime) -> Mention | None:
    post = status.get("reblog") or status  # a boost: the mention is the boosted post
    account = field(post, "account")
    content = html_to_text(post.get("content") or "")
    spoiler = (post.get("spoiler_text") or "").strip()
    text = f"{spoiler}\n\n{content}" if spoiler and content else spoiler or content
    if not text:
        return None  # media only: nothing a brand could be matched in
    acct = str(field(account, "acct"))
    uri = str(field(post, "uri"))
    return Mention(
        uid=make_uid(NAME, uri),
        source=NAME,
        source_id=uri,
        url=canonical_url(post.get("url") or uri),
        author=Author(
            handle=acct if "@" in acct else f"{acct}@{host}",
            name=account.get("display_name") or None,
            followers=max(0, int(account.get("followers_count") or 0)),
        ),
        text=text,
        language_hint=post.get("language") or None,
        created_at=from_iso(field(post, "created_at")),
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=max(0, int(post.get("favourites_count") or 0)),
            reposts=max(0, int(post.get("reblogs_count") or 0)),
            replies=max(0, int(post.get("replies_count") or 0)),
        ),
    )


def timelines(config: Config) -> list[tuple[str, str, dict[str, str]]]:
    """Every (instance, path, fixed params) the config asks to poll."""
    paths: list[tuple[str, dict[str, str]]] = [
        (f"/api/v1/timelines/tag/{quote(tag.lstrip('#'), safe='')}", {}) for tag in config.hashtags
    ]
    if config.public_timeline != "off":
        paths.append(
            (
                "/api/v1/timelines/public",
                {"local": "true"} if config.public_timeline == "local" else {},
            )
        )
    return [(instance, path, params) for instance in config.instances for path, params in paths]


def _page(response: httpx.Response) -> tuple[int, str | None]:
    """How many statuses a page held, and its newest id (rel="prev" `min_id`, else the JSON)."""
    try:
        statuses = json.loads(response.content)
    except ValueError:
        return 0, None
    if not isinstance(statuses, list):
        return 0, None
    prev = response.links.get("prev", {}).get("url")
    if prev and (ids := parse_qs(urlsplit(prev).query).get("min_id")):
        return len(statuses), ids[0]
    ids = [str(s["id"]) for s in statuses if isinstance(s, dict) and "id" in s]
    return len(statuses), max(ids, key=lambda i: (len(i), i), default=None)


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: every timeline on every instance, forward from its saved position."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client,
        config.http,
        source=NAME,
        reset_header="x-ratelimit-reset",
        allow_private=config.allow_private,
        remaining_header="x-ratelimit-remaining",
        sleep=sleep,
    )

    async def run(target: tuple[str, str, dict[str, str]]) -> AsyncIterator[Item]:
        instance, path, params = target
        key = f"{instance}{path}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
        token = config.access_tokens.get(instance)
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        for _ in range(config.max_pages_per_poll):
            query = {**params, "limit": str(config.page_limit)}
            if since := progress.get(key):
                query["min_id"] = since
            try:
                response = await polite.get(f"{instance}{path}", params=query, headers=headers)
            except SourceError as exc:
                if exc.status == 401:
                    raise SourceError(
                        f"{NAME}: {instance} requires login to read {path} (HTTP 401); add a "
                        f"token for it under access_tokens, or remove it from instances",
                        status=401,
                    ) from exc
                raise
            items = accept_page(
                NAME,
                str(response.url),
                parse(response.content, instance=instance, fetched_at=now()),
                response.content,
            )
            for item in items:
                yield item
            count, newest = _page(response)
            if newest is not None and newest != progress.get(key):
                progress.save(key, newest)
            if count < config.page_limit:
                return

    async for item in each_target(NAME, timelines(config), run):
        yield item


SOURCE = Source(NAME, Config, fetch, "polling", search="hashtags")
