from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from core.errors import Rejected
from core.events import Mention, now
from ingest import bluesky
from ingest.cursor import CursorStore
from ingest.parsing import Item
from tests.ingest.support import ReplayServer, Reply, Sleeps, fixture, only_mentions

FRAMES = fixture("bluesky_jetstream_events.jsonl").decode().splitlines()
BASE_US = 1795600800500000
TERMS = bluesky.compile_terms(["acme", "أكمي"])


def test_keeps_new_posts_with_a_term_and_skips_every_other_event() -> None:
    results = [bluesky.parse(f, terms=TERMS, fetched_at=now()) for f in FRAMES]
    kept = [r[0] for r in results if r]
    english, arabic, broken, shouting = kept
    assert isinstance(english, Mention) and english.text.startswith("Acme Bank's app")
    assert english.url == (
        "https://bsky.app/profile/did:plc:sadatest0000000000000001/post/3mqaaaaaaa21a"
    )
    assert english.source_id == (
        "at://did:plc:sadatest0000000000000001/app.bsky.feed.post/3mqaaaaaaa21a"
    )
    assert english.created_at == datetime(2026, 11, 25, 10, 0, 0, 120000, tzinfo=UTC)
    assert english.language_hint == "en"
    # "أكمي" in the text matches the term written "أكمي" or "اكمي": both are normalised.
    assert isinstance(arabic, Mention) and "أكمي بنك" in arabic.text
    assert arabic.language_hint is None  # two langs: no hint rather than a guess
    assert isinstance(broken, Rejected) and "not a string" in broken.reason
    # A createdAt in 2099 is a wrong clock: the relay's time is used instead.
    assert isinstance(shouting, Mention)
    assert shouting.created_at == datetime.fromtimestamp((BASE_US + 10000) / 1e6, UTC)


def test_garbage_frames_are_rejected_with_the_reason() -> None:
    (bad,) = bluesky.parse(b"\x00\xff not json", terms=TERMS, fetched_at=now())
    assert isinstance(bad, Rejected) and "not JSON" in bad.reason
    (odd,) = bluesky.parse('{"kind": "commit"}', terms=TERMS, fetched_at=now())
    assert isinstance(odd, Rejected) and "time_us" in odd.reason


class Jetstream:
    """A local Jetstream: each connection plays the next session (frames, then an ending)."""

    def __init__(self, *sessions: tuple[list[str], str]) -> None:
        self.sessions = list(sessions)
        self.queries: list[dict[str, list[str]]] = []
        self.url = ""

    def session(self) -> tuple[list[str], str]:
        return self.sessions.pop(0) if len(self.sessions) > 1 else self.sessions[0]

    def refuse(self, connection: ServerConnection, request: Any) -> Any:
        frames, ending = self.sessions[0]
        if ending != "429":
            return None
        self.queries.append(parse_qs(urlsplit(request.path).query))
        self.sessions.pop(0)
        response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "slow down\n")
        response.headers["Retry-After"] = "7"
        return response

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.queries.append(parse_qs(urlsplit(connection.request.path).query))
        frames, ending = self.session()
        for frame in frames:
            await connection.send(frame)
        if ending == "abort":  # the interrupted stream: no close frame, the TCP link just dies
            connection.transport.abort()
        elif ending == "idle":
            await connection.wait_closed()
        else:
            await connection.close()


@pytest.fixture
async def jetstream() -> AsyncIterator[Jetstream]:
    relay = Jetstream(([], "close"))
    async with serve(relay.handle, "127.0.0.1", 0, process_request=relay.refuse) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        relay.url = f"ws://127.0.0.1:{port}/subscribe"
        yield relay


def config(relay: Jetstream, **kw: Any) -> bluesky.Config:
    values = {
        "url": relay.url,
        "terms": ["acme", "أكمي"],
        "resume_rewind_seconds": 0.002,
        "idle_timeout_seconds": 0.3,
        "backoff_initial_seconds": 0.5,
        "allow_private": True,
    }  # the local relay and AppView
    return bluesky.Config.model_validate({**values, **kw})


async def test_interrupted_stream_resumes_from_the_cursor_and_loses_nothing(
    jetstream: Jetstream, sleeps: Sleeps, tmp_path: Path
) -> None:
    jetstream.sessions = [(FRAMES[:5], "abort"), (FRAMES[3:], "close")]
    store = CursorStore(tmp_path)
    items = [
        i async for i in bluesky.fetch(config(jetstream), cursors=store, once=True, sleep=sleeps)
    ]
    assert [type(i).__name__ for i in items] == ["Mention", "Mention", "Rejected", "Mention"]
    first, second = jetstream.queries
    assert first == {"wantedCollections": ["app.bsky.feed.post"]}
    assert second["cursor"] == [str(BASE_US + 5000 - 2000)]  # last event seen, rewound
    assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= 0.5  # backoff, full jitter
    assert store.load("bluesky", config(jetstream)) == {"time_us": BASE_US + 11000}

    # A restart reads the saved cursor.
    jetstream.sessions = [([], "close")]
    assert [
        i
        async for i in bluesky.fetch(
            config(jetstream), cursors=CursorStore(tmp_path), once=True, sleep=sleeps
        )
    ] == []
    assert jetstream.queries[-1]["cursor"] == [str(BASE_US + 11000 - 2000)]


async def test_a_refused_handshake_waits_for_retry_after(
    jetstream: Jetstream, sleeps: Sleeps
) -> None:
    jetstream.sessions = [([], "429"), (FRAMES[:1], "close")]
    items = [i async for i in bluesky.fetch(config(jetstream), once=True, sleep=sleeps)]
    assert len(items) == 1 and sleeps.calls[0] >= 7


async def test_an_idle_stream_reconnects_and_a_live_one_keeps_streaming(
    jetstream: Jetstream, sleeps: Sleeps
) -> None:
    jetstream.sessions = [(FRAMES[:1], "idle"), (FRAMES[6:7], "idle")]
    stream = cast(AsyncGenerator[Item, None], bluesky.fetch(config(jetstream), sleep=sleeps))
    first, second = only_mentions([await anext(stream), await anext(stream)])
    await stream.aclose()
    assert [first.text[:4], second.text[:5]] == ["Acme", "تطبيق"]
    assert jetstream.queries[1]["cursor"] == [str(BASE_US + 1000 - 2000)]


async def test_authors_get_handles_and_followers_from_the_appview(
    jetstream: Jetstream, server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/profiles", Reply(body=fixture("bluesky_getProfiles.json")))
    jetstream.sessions = [(FRAMES, "close")]
    looked_up = config(jetstream, profiles_url=server.url("/profiles"))
    items = [i async for i in bluesky.fetch(looked_up, client, once=True, sleep=sleeps)]
    english, arabic, _, shouting = items
    assert isinstance(english, Mention) and english.author.followers == 12840
    assert english.author.handle == "laylawatches.bsky.social"
    assert isinstance(arabic, Mention) and arabic.author.name == "نورة"
    assert isinstance(shouting, Mention)
    assert shouting.author.handle == "did:plc:sadatest0000000000000003"  # handle.invalid
    (request,) = server.seen("/profiles")  # one request for the whole stream
    assert request.headers["User-Agent"] == "sada-ingest (brand monitoring)"
    assert [v for k, v in request.pairs if k == "actors"] == [
        "did:plc:sadatest0000000000000001",
        "did:plc:sadatest0000000000000000",
        "did:plc:sadatest0000000000000003",
    ]


async def test_a_held_post_goes_out_on_a_quiet_stream_and_a_dead_appview_loses_nothing(
    jetstream: Jetstream, server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/profiles", Reply(status=503))
    jetstream.sessions = [(FRAMES[:1], "idle")]
    looked_up = config(
        jetstream,
        profiles_url=server.url("/profiles"),
        profile_wait_seconds=0.05,
        idle_timeout_seconds=30,
    )
    stream = cast(AsyncGenerator[Item, None], bluesky.fetch(looked_up, client, sleep=sleeps))
    (post,) = only_mentions([await anext(stream)])  # well before the 30 s idle timeout
    await stream.aclose()
    assert post.author.handle == "did:plc:sadatest0000000000000001"
    assert len(server.seen("/profiles")) == 1


class Recording(CursorStore):
    """Keeps every cursor saved, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[int] = []

    def save(self, source: str, config: Any, cursor: dict[str, Any]) -> None:
        self.saved.append(cursor["time_us"])
        super().save(source, config, cursor)


async def test_a_saved_cursor_never_passes_a_post_waiting_for_its_author(
    jetstream: Jetstream, server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/profiles", Reply(body=fixture("bluesky_getProfiles.json")))
    jetstream.sessions = [(["not json", *FRAMES[:2]], "close")]
    store = Recording()
    looked_up = config(
        jetstream, profiles_url=server.url("/profiles"), cursor_save_interval_seconds=1e-9
    )  # a save after every frame
    items = [
        i async for i in bluesky.fetch(looked_up, client, cursors=store, once=True, sleep=sleeps)
    ]
    assert [type(i).__name__ for i in items] == ["Rejected", "Mention"]
    first_post = BASE_US + 1000  # FRAMES[0], held while FRAMES[1] arrives
    assert store.saved and all(first_post - 1 <= c for c in store.saved)
    assert store.saved[-1] == BASE_US + 2000


def test_a_profiles_url_without_a_scheme_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="'public.api.bsky.app/xrpc' is not an http"):
        bluesky.Config(terms=["acme"], profiles_url="public.api.bsky.app/xrpc")
    assert bluesky.Config(terms=["acme"], profiles_url=" ").profiles_url == ""


def test_fixture_frames_are_real_jetstream_shapes() -> None:
    kinds = {json.loads(f)["kind"] for f in FRAMES}
    assert kinds == {"commit", "identity", "account"}
