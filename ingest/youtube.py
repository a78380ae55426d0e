"""YouTube comments through the Data API v3, within the project's daily quota.

Each round lists `commentThreads` (part=snippet,replies, newest first) for the brand's channel
(`allThreadsRelatedToChannelId`: comments on all its videos) and for the videos `search.list`
found for `queries` (type=video, order=date, publishedAfter the last search), walking
`pageToken` pages back to the cursor. Found videos are watched for `watch_days`.

Google counts a project's calls in units per day (search.list 100, commentThreads.list 1,
comments.insert 50; 10,000 by default) and resets the count at midnight Pacific time. Sada keeps
its own count in the cursor store and stops calling before `daily_quota_units` would be passed:
the round ends with a warning and `sada_errors_total{stage="ingest:youtube",kind="quota"}`, and
the next round after the reset goes on where the cursors stopped. A `quotaExceeded` answer (the
project's quota spent elsewhere) marks the day's budget as spent the same way.

Reading needs an API key; replying (`comments.insert`) needs an OAuth user token of the brand's
channel with the youtube.force-ssl scope, got from `refresh_token`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, Field, SecretStr

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from core.metrics import ERRORS
from ingest import polling
from ingest.convert import from_iso
from ingest.cursor import CursorStore, Progress, default_store
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

log = logging.getLogger(__name__)
NAME = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")  # where Google resets the daily quota
COST = {"search": 100, "commentThreads": 1, "comments.insert": 50}


class Config(SourceConfig):
    URL_FIELDS = ("api_url", "token_url")

    api_key: SecretStr = Field(description="A Google Cloud API key with the YouTube Data API v3.")
    channel_id: str | None = Field(
        default=None, description="The brand's channel (UC…): comments on all its videos."
    )
    queries: list[str] = Field(
        default=[], description="Video searches (search.list q); comments on what they find."
    )
    daily_quota_units: int = Field(
        default=10_000, ge=1, description="Units Sada may spend a day (Pacific midnight reset)."
    )
    search_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Least time between two searches of a query (100 units)."
    )
    watch_days: float = Field(
        default=7.0, gt=0, description="How long comments on a found video are followed."
    )
    client_id: str | None = Field(default=None, description="OAuth client id, for replies.")
    client_secret: SecretStr | None = Field(default=None, description="OAuth client secret.")
    refresh_token: SecretStr | None = Field(
        default=None,
        description="OAuth refresh token of the brand's channel (scope youtube.force-ssl), "
        "for replies.",
    )
    api_url: str = Field(
        default="https://www.googleapis.com/youtube/v3", description="Data API root."
    )
    token_url: str = Field(
        default="https://oauth2.googleapis.com/token", description="OAuth token endpoint."
    )
    max_pages_per_poll: polling.MaxPagesPerPoll = 5
    poll_interval_seconds: polling.PollIntervalSeconds = 600.0
    initial_lookback_seconds: polling.InitialLookbackSeconds = 86400
    overlap_seconds: polling.OverlapSeconds = Field(
        default=600, description="Re-read window for comments YouTube listed late."
    )
    http: polling.Politeness = HttpPolicy()


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A `commentThreadListResponse` to mentions: each top-level comment and its replies."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    threads = body.get("items") if isinstance(body, dict) else None
    if not isinstance(threads, list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: not a list with items")]
    return each(_comments(threads), lambda pair: _mention(pair[0], pair[1], fetched_at), NAME)


def _comments(threads: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(thread, comment) for each thread's top-level comment and the replies it carries."""
    for thread in threads:
        replies = thread.get("replies") if isinstance(thread, dict) else None
        carried = replies.get("comments") if isinstance(replies, dict) else None
        for comment in [None, *(carried if isinstance(carried, list) else [])]:
            yield thread, comment


def _mention(thread: Any, reply: Any, fetched_at: datetime) -> Mention:
    top = field(thread, "snippet", "topLevelComment")
    comment = top if reply is None else reply
    data = field(comment, "snippet")
    video, comment_id = str(field(thread, "snippet", "videoId")), str(field(comment, "id"))
    created, updated = from_iso(field(data, "publishedAt")), from_iso(field(data, "updatedAt"))
    name = str(field(data, "authorDisplayName"))
    channel = (data.get("authorChannelId") or {}).get("value")
    return Mention(
        uid=make_uid(NAME, comment_id),
        source=NAME,
        source_id=comment_id,
        url=f"https://www.youtube.com/watch?v={video}&lc={comment_id}",
        author=Author(handle=str(channel or name), name=name),
        text=str(field(data, "textOriginal")),
        created_at=created,
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=int(data.get("likeCount") or 0),
            replies=int(thread["snippet"].get("totalReplyCount") or 0) if reply is None else 0,
        ),
        parent_id=video if reply is None else str(field(data, "parentId")),
        reply_target=str(field(top, "id")),
        edited_at=updated if updated > created else None,
    )


def pacific_day(at: float) -> str:
    """The quota day (Pacific time) an epoch second falls in."""
    return datetime.fromtimestamp(at, PACIFIC).date().isoformat()


class Project(BaseModel):
    """Whose units are counted: the API key's Google Cloud project, so every job (and the reply
    call) using one key shares one count. The key is kept only as a digest."""

    key_sha256: str


class Quota:
    """The units spent today by the project of `config`'s key, kept in the cursor store and
    re-read before each call. `refused` is set once a call was refused for the quota: every
    other call would be too, so the round ends there."""

    def __init__(self, config: Config, store: CursorStore, clock: Any = time.time) -> None:
        self.budget, self.store, self.clock = config.daily_quota_units, store, clock
        digest = hashlib.sha256(config.api_key.get_secret_value().encode()).hexdigest()
        self.project = Project(key_sha256=digest[:16])
        self.refused = False

    def today(self) -> dict[str, Any]:
        """{"day": the Pacific day, "used": units spent that day}."""
        saved = self.store.load(f"{NAME}-quota", self.project)
        day = pacific_day(self.clock())
        return saved if saved.get("day") == day else {"day": day, "used": 0}

    def spend(self, what: str) -> None:
        """Count `what`'s cost, or refuse it when it would pass the daily budget."""
        today = self.today()
        cost = COST[what]
        if today["used"] + cost > self.budget:
            raise self.refuse(
                f"{what} costs {cost} units and {today['used']} of the {self.budget} daily "
                "units are spent"
            )
        self.save(used=today["used"] + cost)

    def refuse(self, why: str) -> RetryLater:
        """The day's units are spent (`why`): no more calls this round, and the error to raise,
        retryable after the Pacific midnight reset."""
        self.refused = True
        ERRORS.labels(stage=f"ingest:{NAME}", kind="quota").inc()
        return RetryLater(
            f"{NAME}: {why}; calls resume after midnight Pacific time",
            after_seconds=until_reset(self.clock()),
        )

    def save(self, *, used: int) -> None:
        self.store.save(f"{NAME}-quota", self.project, {**self.today(), "used": used})

    def exhaust(self) -> None:
        """Google said the project's quota is spent: no calls until the reset."""
        self.save(used=max(self.today()["used"], self.budget))


def until_reset(at: float) -> float:
    """Seconds from `at` to the next midnight Pacific time, when Google resets the quota."""
    local = datetime.fromtimestamp(at, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), dt_time(), PACIFIC)
    return midnight.timestamp() - at


def _reason(exc: SourceError) -> str:
    """The first `error.errors[].reason` of a Google API error body, or ''."""
    body = load_json(exc.body, NAME) if exc.body else None
    try:
        return str(body["error"]["errors"][0]["reason"])  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return ""


def _explained(exc: SourceError, quota: Quota) -> SourceError | RetryLater:
    """The API's error as what to do about it; a spent quota stops calls until the reset."""
    reason = _reason(exc)
    if reason in ("quotaExceeded", "dailyLimitExceeded"):
        quota.exhaust()
        return quota.refuse(f"Google says the project's daily quota is spent ({reason})")
    if reason in ("keyInvalid", "keyExpired"):
        return SourceError(
            f"{NAME}: the API key is refused ({reason}); renew api_key in the Google Cloud "
            "console (APIs & Services > Credentials)",
            status=exc.status,
        )
    if exc.status == 401:
        return SourceError(
            f"{NAME}: the OAuth token is refused; renew refresh_token (sign in again as the "
            "brand's channel, scope youtube.force-ssl)",
            status=401,
        )
    return exc


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: the searches that are due, then each followed thread list back to its cursor;
    a call refused for the quota ends the round (each_target logs it)."""
    progress = Progress(NAME, config, cursors=cursors)
    quota = Quota(config, progress.store)
    polite = Polite(
        client, config.http, source=NAME, allow_private=config.allow_private, sleep=sleep
    )
    headers = {"X-Goog-Api-Key": config.api_key.get_secret_value()}
    horizon = time.time() - config.watch_days * 86400
    videos = {v: at for v, at in progress.get("videos", {}).items() if at > horizon}
    progress.cursor["videos"] = videos  # saved with every target's state

    async def call(what: str, params: dict[str, str]) -> httpx.Response:
        quota.spend(what)
        try:
            return await polite.get(f"{config.api_url}/{what}", params=params, headers=headers)
        except SourceError as exc:
            raise _explained(exc, quota) from None

    async def search(query: str) -> AsyncIterator[Item]:
        """Finds videos for `query` (100 units, so at most once per search_interval_seconds);
        they are followed from the next target on; nothing is yielded."""
        last = progress.get(f"search:{query}")
        started = time.time()
        if last is not None and started - last < config.search_interval_seconds:
            return
        since = started - config.initial_lookback_seconds if last is None else last
        since -= config.overlap_seconds
        response = await call(
            "search",
            {
                "part": "snippet",
                "q": query,
                "type": "video",
                "order": "date",
                "maxResults": "50",
                "publishedAfter": datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        for video in _video_ids(response):
            videos.setdefault(video, started)
        progress.save(f"search:{query}", started)
        return
        yield  # an async generator, for each_target

    async def threads(target: tuple[str, str]) -> AsyncIterator[Item]:
        kind, value = target
        window = progress.window(f"{kind}:{value}", config)
        params = {
            "part": "snippet,replies",
            kind: value,
            "order": "time",
            "maxResults": "100",
            "textFormat": "plainText",
        }
        for _ in range(config.max_pages_per_poll):
            try:
                response = await call("commentThreads", params)
            except SourceError as exc:
                if _reason(exc) != "commentsDisabled":
                    raise
                log.info("%s: comments are disabled on video %s; no longer followed", NAME, value)
                videos.pop(value, None)
                progress.save(f"{kind}:{value}", None)
                return
            parsed = parse(response.content, fetched_at=now())
            items = accept_page(NAME, str(response.url), parsed, response.content)
            reached_cursor = False
            for item in items:
                if not isinstance(item, Mention):
                    yield item
                    continue
                at = (item.edited_at or item.created_at).timestamp()
                if item.reply_target == item.source_id:  # a top-level comment: threads' order
                    reached_cursor |= at <= window.since
                if window.admit(f"{item.source_id}@{at:.0f}", at):  # an edit is a new version
                    yield item
            token = _next_page(response)
            if reached_cursor or not token:
                break
            params["pageToken"] = token
        else:
            log.warning(
                "%s: %s=%s: more than %d pages since the last poll, older comments skipped; "
                "raise max_pages_per_poll or poll more often",
                NAME,
                kind,
                value,
                config.max_pages_per_poll,
            )
        progress.save(f"{kind}:{value}", window.state())

    def affordable(targets: list[Any]) -> Iterator[Any]:
        return takewhile(lambda _: not quota.refused, targets)

    async for item in each_target(NAME, affordable(config.queries), search):
        yield item
    targets = [("allThreadsRelatedToChannelId", config.channel_id)] if config.channel_id else []
    targets += [("videoId", v) for v in list(videos)]
    async for item in each_target(NAME, affordable(targets), threads):
        yield item


def _video_ids(response: httpx.Response) -> list[str]:
    """The video ids of a search.list answer (anything else in it is skipped)."""
    try:
        items = response.json()["items"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RetryLater(f"{NAME}: search answered without items ({exc})") from None
    return [
        i["id"]["videoId"] for i in items if isinstance(i, dict) and i.get("id", {}).get("videoId")
    ]


def _next_page(response: httpx.Response) -> str | None:
    try:
        token = response.json().get("nextPageToken")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and token else None


async def google_token(
    polite: Polite, url: str, form: dict[str, str], renew: str
) -> tuple[str, float]:
    """An access token and its lifetime in seconds from Google's OAuth token endpoint; a refused
    grant is a SourceError naming the source and `renew`, what to change."""
    try:
        response = await polite.request("POST", url, data=form)
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 3600))
    except SourceError as exc:
        refusal = load_json(exc.body, polite.source) if exc.body else None
        said = (
            refusal.get("error_description") or refusal.get("error")
            if isinstance(refusal, dict)
            else None
        )
        raise SourceError(
            f"{polite.source}: the token endpoint refused the credentials "
            f"({said or f'HTTP {exc.status}'}); {renew}",
            status=exc.status,
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(
            f"{polite.source}: the token endpoint answered without an access token ({exc}); {renew}"
        ) from None


async def reply(config: Config, client: httpx.AsyncClient, target: str, text: str) -> str:
    """Answers the top-level comment `target` as the brand's channel (comments.insert, 50 units);
    sent once, never retried, so an answer is never posted twice. Returns the new comment's id."""
    if not (config.client_id and config.client_secret and config.refresh_token):
        raise SourceError(
            f"{NAME}: replying needs client_id, client_secret and refresh_token (an OAuth token "
            "of the brand's channel with the youtube.force-ssl scope)"
        )
    once = config.http.model_copy(update={"max_attempts": 1})
    polite = Polite(client, once, source=NAME, allow_private=config.allow_private)
    quota = Quota(config, default_store())
    quota.spend("comments.insert")
    token, _ = await google_token(
        polite,
        config.token_url,
        {
            "grant_type": "refresh_token",
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
            "refresh_token": config.refresh_token.get_secret_value(),
        },
        "renew refresh_token (sign in again as the brand's channel, scope youtube.force-ssl) "
        "or check client_id and client_secret",
    )
    try:
        response = await polite.request(
            "POST",
            f"{config.api_url}/comments",
            params={"part": "snippet"},
            json={"snippet": {"parentId": target, "textOriginal": text}},
            headers={"Authorization": f"Bearer {token}"},
        )
    except SourceError as exc:
        raise _explained(exc, quota) from None
    return str(field(response.json(), "id"))


SOURCE = Source(NAME, Config, fetch, "polling", reply=reply, search="plain")
