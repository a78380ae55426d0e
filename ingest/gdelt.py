"""News articles worldwide, through the GDELT DOC 2.0 API (ArtList mode, no auth).

Each query asks for the articles GDELT saw between the cursor and now, oldest first; when a
window holds more than one page (`max_records`), the next request starts at the last page's
newest `seendate`. GDELT answers some errors with status 200 and a text or HTML body (a query
too short, a rate limit): such a page raises RetryLater with what GDELT said, and the cursor
stays. Its language field is a name ("Arabic"); it becomes the ISO code the hint carries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import Field

from core.errors import Rejected, RetryLater
from core.events import Author, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url, html_to_text
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

log = logging.getLogger(__name__)
NAME = "gdelt"

_LANGUAGES = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "turkish": "tr",
    "persian": "fa",
    "urdu": "ur",
    "hindi": "hi",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "indonesian": "id",
    "malay": "ms",
    "dutch": "nl",
    "hebrew": "he",
    "bengali": "bn",
}


class Config(SourceConfig):
    URL_FIELDS = ("base_url",)

    queries: list[str] = Field(
        min_length=1, description='GDELT queries, one request each; quote a phrase: "acme bank".'
    )
    source_languages: list[str] = Field(
        default=[],
        description="Only articles in these languages (GDELT names: arabic, english...).",
    )
    base_url: str = Field(
        default="https://api.gdeltproject.org/api/v2/doc/doc", description="DOC 2.0 endpoint."
    )
    max_records: int = Field(default=250, ge=1, le=250, description="Articles per request.")
    max_pages_per_poll: polling.MaxPagesPerPoll = Field(
        default=8, description="Request cap for one poll."
    )
    poll_interval_seconds: polling.PollIntervalSeconds = Field(
        default=900.0, description="Pause between polls (GDELT updates every 15 min)."
    )
    initial_lookback_seconds: polling.InitialLookbackSeconds = 6 * 3600
    overlap_seconds: polling.OverlapSeconds = Field(
        default=900, description="Re-read window for articles GDELT listed late."
    )
    http: polling.Politeness = Field(
        default=HttpPolicy(requests_per_second_per_host=0.2),
        description="Politeness towards the host (GDELT asks for one request per 5 s).",
    )


def query_text(query: str, languages: list[str]) -> str:
    """The query with its `sourcelang:` filter (an OR group when there are several)."""
    if not languages:
        return query
    filters = [f"sourcelang:{lang}" for lang in languages]
    group = filters[0] if len(filters) == 1 else f"({' OR '.join(filters)})"
    return f"{query} {group}"


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """An ArtList JSON response to mentions; an empty result may come as `{}`."""
    text = text_of(payload)
    if not text.lstrip().startswith("{"):
        said = " ".join(html_to_text(text).split())[:200]
        return [
            Rejected(payload=text, reason=f"{NAME}: GDELT answered with text, not JSON: {said!r}")
        ]
    try:
        body = json.loads(text, strict=False)  # GDELT leaves control characters in titles
    except ValueError as exc:
        return [Rejected(payload=text, reason=f"{NAME}: payload is not JSON ({exc})")]
    if not isinstance(body, dict) or not isinstance(body.get("articles", []), list):
        return [Rejected(payload=text, reason=f"{NAME}: expected an object with 'articles'")]
    return each(body.get("articles", []), lambda a: _mention(a, fetched_at), NAME)


def _mention(article: dict[str, Any], fetched_at: datetime) -> Mention:
    url = canonical_url(str(field(article, "url")))
    if url is None:
        raise ValueError(f"article url {article.get('url')!r} is not an http(s) URL")
    title = " ".join(str(field(article, "title")).split())
    if not title:
        raise ValueError("article has an empty title")
    domain = str(article.get("domain") or url.split("/")[2])
    return Mention(
        uid=make_uid(NAME, url),
        source=NAME,
        source_id=url,
        url=url,
        author=Author(handle=domain),
        text=title,
        language_hint=_LANGUAGES.get(str(article.get("language", "")).lower()),
        created_at=datetime.strptime(str(field(article, "seendate")), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC
        ),
        fetched_at=fetched_at,
    )


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d%H%M%S")


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: every query, paging through the time window since its cursor."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, sleep=sleep, allow_private=config.allow_private
    )

    async def run(query: str) -> AsyncIterator[Item]:
        window = progress.window(query, config)
        start, end = window.since, time.time()
        for _ in range(config.max_pages_per_poll):
            response = await polite.get(
                config.base_url,
                params={
                    "query": query_text(query, config.source_languages),
                    "mode": "ArtList",
                    "format": "json",
                    "sort": "DateAsc",
                    "maxrecords": str(config.max_records),
                    "startdatetime": _stamp(start),
                    "enddatetime": _stamp(end),
                },
            )
            if "limit requests" in response.text[:300].lower():
                raise RetryLater(
                    f"{NAME}: GDELT rate limit: {response.text[:200].strip()!r}", after_seconds=5.0
                )
            items = accept_page(
                NAME,
                str(response.url),
                parse(response.content, fetched_at=now()),
                response.content,
            )
            latest = start
            for item in items:
                if not isinstance(item, Mention):
                    yield item
                    continue
                latest = max(latest, item.created_at.timestamp())
                if window.admit(item.source_id, item.created_at.timestamp()):
                    yield item
            if len(items) < config.max_records or latest <= start:
                break
            start = latest  # a full page: the rest of the window starts at its newest article
        else:
            log.warning(
                "%s: %r: more than %d pages since the last poll, newer articles wait "
                "for the next round",
                NAME,
                query,
                config.max_pages_per_poll,
            )
        progress.save(query, window.state())

    async for item in each_target(NAME, config.queries, run):
        yield item


SOURCE = Source(NAME, Config, fetch, "polling", search="plain")
