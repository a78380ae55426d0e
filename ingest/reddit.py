"""Reddit posts and comments, through the OAuth API with an app's client credentials.

Reddit requires OAuth and a descriptive user agent for API access; an application-only token
(client credentials grant) is enough to search. Each query is searched newest first with
`raw_json=1` (so text is not HTML-escaped), walking `after` pages back to the cursor; the
search index lags, so each poll reaches back `overlap_seconds` and drops ids already yielded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field, SecretStr

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url, from_epoch
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

log = logging.getLogger(__name__)
NAME = "reddit"


class Config(SourceConfig):
    URL_FIELDS = ("token_url", "api_url")

    client_id: str = Field(min_length=1, description="The Reddit app's client id.")
    client_secret: SecretStr = Field(description="The Reddit app's secret.")
    user_agent: str = Field(
        min_length=10,
        description="Unique and descriptive, as Reddit requires: "
        "'<platform>:<app id>:<version> (by /u/<username>)'.",
    )
    queries: list[str] = Field(min_length=1, description="Search queries (Reddit syntax).")
    subreddits: list[str] = Field(
        default=[], description="Restrict searches to these subreddits (names without r/)."
    )
    token_url: str = Field(
        default="https://www.reddit.com/api/v1/access_token", description="OAuth token endpoint."
    )
    api_url: str = Field(default="https://oauth.reddit.com", description="OAuth API root.")
    page_limit: int = Field(default=100, ge=1, le=100, description="Results per request.")
    max_pages_per_poll: polling.MaxPagesPerPoll = 5
    poll_interval_seconds: polling.PollIntervalSeconds = 120.0
    initial_lookback_seconds: polling.InitialLookbackSeconds = 3600
    overlap_seconds: polling.OverlapSeconds = Field(
        default=900, description="Re-read window for posts the search index added late."
    )
    http: polling.Politeness = HttpPolicy()


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A `Listing` of posts (t3) or comments (t1) to mentions; other kinds are skipped."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    data = body.get("data") if isinstance(body, dict) else None
    children = data.get("children") if isinstance(data, dict) else None
    if not isinstance(children, list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: not a Listing with children")]
    return each(children, lambda child: _mention(child, fetched_at), NAME)


def _mention(child: dict[str, Any], fetched_at: datetime) -> Mention | None:
    kind = field(child, "kind")
    if kind not in ("t1", "t3"):
        return None  # "more" stubs, subreddits, accounts: not posts
    data = field(child, "data")
    if kind == "t3":
        title, body = str(field(data, "title")), data.get("selftext") or ""
        text = f"{title}\n\n{body}" if body else title
        replies = int(data.get("num_comments") or 0)
    else:
        text, replies = str(field(data, "body")), 0
    name = str(field(data, "name"))
    return Mention(
        uid=make_uid(NAME, name),
        source=NAME,
        source_id=name,
        url=canonical_url(f"https://www.reddit.com{field(data, 'permalink')}"),
        author=Author(handle=str(field(data, "author"))),
        text=text,
        created_at=from_epoch(field(data, "created_utc")),
        fetched_at=fetched_at,
        engagement=Engagement(likes=max(0, int(data.get("score") or 0)), replies=max(0, replies)),
    )


class _Token:
    """The application-only bearer token, fetched on first use and again before it expires."""

    def __init__(self, config: Config, polite: Polite) -> None:
        self.config = config
        self.polite = polite
        self.value = ""
        self.expires_at = 0.0

    async def header(self, *, renew: bool = False) -> dict[str, str]:
        if renew or time.time() >= self.expires_at:
            secret = self.config.client_secret.get_secret_value()
            try:
                response = await self.polite.request(
                    "POST",
                    self.config.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=(self.config.client_id, secret),
                    headers={"User-Agent": self.config.user_agent},
                )
                body = response.json()
                self.value = body["access_token"]
            except SourceError as exc:
                raise SourceError(
                    f"{NAME}: the token endpoint refused the app credentials "
                    f"({exc}); check client_id and client_secret",
                    status=exc.status,
                ) from exc
            except (ValueError, KeyError, TypeError) as exc:
                raise SourceError(
                    f"{NAME}: the token endpoint answered without an access "
                    f"token ({response.text[:120]!r}); check client_id and "
                    "client_secret"
                ) from exc
            self.expires_at = time.time() + float(body.get("expires_in", 3600)) - 60
        return {"Authorization": f"bearer {self.value}", "User-Agent": self.config.user_agent}


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: every query searched newest first, back to its cursor."""
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
    token = _Token(config, polite)
    path = f"/r/{'+'.join(config.subreddits)}/search" if config.subreddits else "/search"

    async def get(params: dict[str, str]) -> httpx.Response:
        try:
            return await polite.get(
                f"{config.api_url}{path}", params=params, headers=await token.header()
            )
        except SourceError as exc:
            if exc.status != 401:
                raise
            return await polite.get(
                f"{config.api_url}{path}", params=params, headers=await token.header(renew=True)
            )

    async def run(query: str) -> AsyncIterator[Item]:
        window = progress.window(query, config)
        params = {
            "q": query,
            "sort": "new",
            "limit": str(config.page_limit),
            "raw_json": "1",
            "type": "link",
            **({"restrict_sr": "1"} if config.subreddits else {}),
        }
        for _ in range(config.max_pages_per_poll):
            response = await get(params)
            items = accept_page(
                NAME,
                str(response.url),
                parse(response.content, fetched_at=now()),
                response.content,
            )
            reached_cursor = False
            for item in items:
                if not isinstance(item, Mention):
                    yield item
                    continue
                stamp = item.created_at.timestamp()
                reached_cursor |= stamp <= window.since
                if window.admit(item.source_id, stamp):
                    yield item
            after = _after(response)
            if reached_cursor or not after:
                break
            params["after"] = after
        else:
            log.warning(
                "%s: %r: more than %d pages since the last poll, older posts skipped; "
                "raise max_pages_per_poll or poll more often",
                NAME,
                query,
                config.max_pages_per_poll,
            )
        progress.save(query, window.state())

    async for item in each_target(NAME, config.queries, run):
        yield item


def _after(response: httpx.Response) -> str | None:
    try:
        after = response.json()["data"]["after"]
    except (ValueError, KeyError, TypeError):
        return None
    return after if isinstance(after, str) and after else None


SOURCE = Source(NAME, Config, fetch, "polling", search="boolean")
