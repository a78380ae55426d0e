"""Bluesky posts in real time, from a Jetstream WebSocket (JSON events, no auth).

Jetstream sends every public event of the network; we ask for `app.bsky.feed.post` only and
keep the posts whose text contains a configured term, compared after the shared normalisation
(so "أكمي" matches "اكمي" and "ACME" matches "acme"); the brand matcher downstream decides
precisely. Identity, account and delete events, and edits, carry no new post and are skipped.
Each event's `time_us` is the cursor: after a restart or a dropped connection we reconnect
with `cursor=` a few seconds before the last event seen (Jetstream replays about 36 h), so
nothing is missed and the repeats carry the same uid. A post's `langs` is whatever the client
set, often a default: it is passed on only as a hint, and only when it names one language.
Jetstream names authors by DID only; `ingest/bluesky_profiles.py` fills in their handles and
follower counts from the public AppView.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import websockets
from pydantic import Field, field_validator
from websockets.exceptions import InvalidStatus, WebSocketException

from core import outbound
from core.errors import Rejected
from core.events import Author, Mention, make_uid, now
from core.metrics import ERRORS
from core.retry import backoff_seconds, retry_after
from core.text import normalize
from ingest.bluesky_profiles import Holding, Profiles
from ingest.convert import from_iso
from ingest.cursor import CursorStore, Progress
from ingest.http import USER_AGENT, HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, explain, field, load_json, text_of
from ingest.polling import observe
from ingest.source import Source

NAME = "bluesky"
POST = "app.bsky.feed.post"
_CLOCK_SKEW_US = 300 * 1_000_000  # a createdAt further ahead than this is a wrong clock
_YEAR_3000_US = 32_503_680_000 * 1_000_000
_LONGEST_SERVER_WAIT_SECONDS = 900.0  # a Retry-After beyond this is a misconfigured server

log = logging.getLogger(__name__)


class Config(SourceConfig):
    URL_FIELDS = ("url", "profiles_url")

    url: str = Field(
        default="wss://jetstream2.us-east.bsky.network/subscribe",
        description="Jetstream subscribe endpoint (any public instance).",
    )
    terms: list[str] = Field(
        min_length=1, description="A post is kept when its text contains any of these."
    )
    resume_rewind_seconds: float = Field(
        default=5.0, ge=0, description="Reconnect this far before the last event, for no gap."
    )
    cursor_save_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the cursor is saved while streaming."
    )
    idle_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Reconnect when no event arrived for this long."
    )
    open_timeout_seconds: float = Field(default=10.0, gt=0, description="Handshake timeout.")
    backoff_initial_seconds: float = Field(
        default=1.0, gt=0, description="Wait before the first reconnect; doubles each failure."
    )
    backoff_max_seconds: float = Field(default=120.0, gt=0, description="Longest reconnect wait.")
    max_message_bytes: int = Field(
        default=1_048_576, gt=0, description="Larger frames are a protocol error."
    )
    profiles_url: str = Field(
        default="https://public.api.bsky.app/xrpc/app.bsky.actor.getProfiles",
        description="AppView getProfiles endpoint, for authors' handles, names and follower "
        "counts; empty to skip look-ups (authors stay DIDs).",
    )
    profile_wait_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest a matching post waits so its author's look-up is batched.",
    )
    profile_cache_seconds: float = Field(
        default=3600.0, gt=0, description="How long a looked-up author is reused."
    )
    profiles_http: HttpPolicy = Field(
        default=HttpPolicy(requests_per_second_per_host=5.0, timeout_seconds=5.0, max_attempts=1),
        description="Politeness towards the AppView; one try, so a failure never holds posts.",
    )

    @field_validator("profiles_url")
    @classmethod
    def _http_or_empty(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if value.strip() and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(
                f"{value!r} is not an http(s) URL; write https://host/xrpc/"
                'app.bsky.actor.getProfiles, or "" for no look-ups'
            )
        return value.strip()


def compile_terms(terms: Sequence[str]) -> tuple[str, ...]:
    """The terms as compared: normalised like the text, empty ones dropped."""
    return tuple(t for t in (normalize(term, fold_ta_marbuta=True) for term in terms) if t)


def decode(frame: bytes | str) -> dict[str, Any] | Rejected:
    """One Jetstream frame to its event, or a Rejected saying why it is not one."""
    event = load_json(frame, NAME)
    if isinstance(event, Rejected):
        return event
    stamp = event.get("time_us") if isinstance(event, dict) else None
    if not isinstance(stamp, int) or not 0 <= stamp < _YEAR_3000_US:
        return Rejected(
            payload=text_of(frame), reason=f"{NAME}: event without a plausible integer time_us"
        )
    return event


def parse_event(event: dict[str, Any], *, terms: Sequence[str], fetched_at: datetime) -> list[Item]:
    """A decoded event to [] (not a new post, or no term in it), [Mention] or [Rejected]."""
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return []  # identity and account events
    if commit.get("collection") != POST or commit.get("operation") != "create":
        return []  # other records, deletes, edits
    try:
        record = field(commit, "record")
        text = field(record, "text")
        if not isinstance(text, str):
            raise TypeError(f"record.text is {type(text).__name__}, not a string")
        folded = normalize(text, fold_ta_marbuta=True)
        if not folded or not any(term in folded for term in terms):
            return []  # no term, or no text at all (an image-only post)
        did, rkey = str(field(event, "did")), str(field(commit, "rkey"))
        return [
            Mention(
                uid=make_uid(NAME, f"at://{did}/{POST}/{rkey}"),
                source=NAME,
                source_id=f"at://{did}/{POST}/{rkey}",
                url=f"https://bsky.app/profile/{did}/post/{rkey}",
                author=Author(handle=did),
                text=text,
                language_hint=_language(record.get("langs")),
                created_at=_created(record.get("createdAt"), event["time_us"]),
                fetched_at=fetched_at,
            )
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [
            Rejected(
                payload=json.dumps(event, ensure_ascii=False), reason=f"{NAME}: post {explain(exc)}"
            )
        ]


def parse(frame: bytes | str, *, terms: Sequence[str], fetched_at: datetime) -> list[Item]:
    """One frame to items: `decode` then `parse_event` (for tests and the benchmark)."""
    event = decode(frame)
    if isinstance(event, Rejected):
        return [event]
    return parse_event(event, terms=terms, fetched_at=fetched_at)


def _language(langs: Any) -> str | None:
    if isinstance(langs, list) and len(langs) == 1 and isinstance(langs[0], str):
        return langs[0].split("-")[0].lower() or None
    return None


def _created(value: Any, time_us: int) -> datetime:
    """The post's createdAt, unless missing, unreadable or ahead of the relay's clock."""
    if isinstance(value, str):
        try:
            created = from_iso(value)
        except ValueError:
            created = None
        if created is not None and created.timestamp() * 1e6 <= time_us + _CLOCK_SKEW_US:
            return created
    return datetime.fromtimestamp(time_us / 1e6, UTC)


def subscribe_url(config: Config, cursor_us: int | None) -> str:
    params: dict[str, str | int] = {"wantedCollections": POST}
    if cursor_us is not None:
        params["cursor"] = max(0, cursor_us - int(config.resume_rewind_seconds * 1e6))
    return f"{config.url}?{urlencode(params)}"


async def fetch(
    config: Config,
    client: httpx.AsyncClient | None = None,
    *,
    cursors: CursorStore | None = None,
    once: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """Stream matching posts forever, reconnecting with backoff and resuming from the cursor.

    `client` asks the AppView for authors (without one, authors stay DIDs). With `once`, stop
    on catching up with the live stream, a clean close, or an idle stream.
    """
    progress = Progress(NAME, config, cursors=cursors)
    last: int | None = progress.get("time_us")
    terms = compile_terms(config.terms)
    started_us = int(time.time() * 1e6)
    failures = 0
    saved_at = time.monotonic()
    held = Holding(_profiles(config, client, sleep), config.profile_wait_seconds)
    tick = config.idle_timeout_seconds  # with look-ups, wake up to release held posts in time
    if held.profiles is not None:
        tick = min(tick, config.profile_wait_seconds)
    try:
        while True:
            try:
                async with websockets.connect(
                    subscribe_url(config, last),
                    open_timeout=config.open_timeout_seconds,
                    max_size=config.max_message_bytes,
                    compression=None,
                    user_agent_header=USER_AGENT,
                    **await outbound.pinned(config.url, config.allow_private),
                ) as socket:
                    async for frame in _frames(socket, config.idle_timeout_seconds, tick, once):
                        if frame is not None:
                            failures = 0
                            event = decode(frame)
                            if isinstance(event, Rejected):
                                yield event  # no post, no author to wait for
                            else:
                                last = max(last or 0, event["time_us"])
                                held.hold(
                                    event["time_us"],
                                    observe(
                                        NAME, parse_event(event, terms=terms, fetched_at=now())
                                    ),
                                )
                        if held.due():
                            for item in await held.release():
                                yield item
                        if time.monotonic() - saved_at >= config.cursor_save_interval_seconds:
                            _save(progress, held.cursor(last))
                            saved_at = time.monotonic()
                        if once and last is not None and last >= started_us:
                            break
                for item in await held.release():
                    yield item
                if once:
                    return
                problem: Exception = ConnectionError("the server closed the stream")
            except (OSError, TimeoutError, WebSocketException) as exc:
                problem = exc
                ERRORS.labels(stage=f"ingest:{NAME}", kind=type(exc).__name__).inc()
            failures += 1
            wait = backoff_seconds(
                failures, initial=config.backoff_initial_seconds, maximum=config.backoff_max_seconds
            )
            if isinstance(problem, InvalidStatus):
                told = retry_after(problem.response.headers.get("Retry-After"), time.time())
                wait = max(wait, min(told or 0.0, _LONGEST_SERVER_WAIT_SECONDS))
            log.warning(
                "%s: %s (%s); reconnecting in %.1fs from cursor %s",
                NAME,
                config.url,
                problem,
                wait,
                last,
            )
            for item in await held.release():
                yield item
            _save(progress, last)
            await sleep(wait)
    finally:
        _save(progress, held.cursor(last))  # on stop too: the barrier flushes what was yielded


def _profiles(config: Config, client: httpx.AsyncClient | None, sleep: Sleep) -> Profiles | None:
    if client is None or not config.profiles_url:
        return None
    polite = Polite(
        client, config.profiles_http, source=NAME, sleep=sleep, allow_private=config.allow_private
    )
    return Profiles(polite, config.profiles_url, ttl_seconds=config.profile_cache_seconds)


async def _frames(
    socket: Any, idle_seconds: float, tick: float, once: bool
) -> AsyncIterator[str | bytes | None]:
    """The socket's frames, and None every `tick` seconds without one (held posts may be due).

    An idle stream ends quietly with `once`, else raises TimeoutError.
    """
    quiet = 0.0
    while True:
        try:
            frame = await asyncio.wait_for(socket.recv(), tick)
        except TimeoutError:
            quiet += tick
            if quiet < idle_seconds:
                yield None
                continue
            if once:
                return
            raise TimeoutError(f"no event for {idle_seconds}s") from None
        except websockets.ConnectionClosedOK:
            return
        quiet = 0.0
        yield frame


def _save(progress: Progress, last: int | None) -> None:
    if last is not None:
        progress.save("time_us", last)


SOURCE = Source(NAME, Config, fetch, "streaming")
