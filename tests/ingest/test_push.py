from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import pytest

from core import topics
from core.config import Settings
from core.errors import Rejected
from core.events import Mention, now
from ingest import push
from ingest.cursor import CursorStore, default_store, set_default_store
from ingest.parsing import Item
from ingest.producer import KafkaEmitter
from sada.topics import ensure_topics
from tests.conftest import read_topic
from tests.ingest.support import fixture

BATCH = fixture("push_batch.json")
TOKEN = "s3cret-token-for-tests"


def test_parse_validates_each_record_and_namespaces_ids_by_origin() -> None:
    desk, whatsapp = push.parse(BATCH, fetched_at=now())
    assert isinstance(desk, Mention) and isinstance(whatsapp, Mention)
    assert desk.source_id == "support-desk:ticket-88412"
    assert desk.created_at == datetime(2026, 11, 25, 9, 4, 5, tzinfo=UTC)
    assert whatsapp.text.startswith("البطاقة ما تشتغل") and whatsapp.engagement.replies == 2
    records = json.loads(BATCH)
    records[0]["created_at"] = "2026-11-25T13:04:05"  # no zone
    del records[1]["author"]
    records.append(
        {
            "origin": "x",
            "id": "1",
            "text": "hi",
            "created_at": "2026-11-25T09:31:00Z",
            "author": {"handle": "a"},
            "extra": True,
        }
    )
    bad = push.parse(json.dumps(records), fetched_at=now())
    assert all(isinstance(b, Rejected) for b in bad)
    reasons = [b.reason for b in bad]  # type: ignore[union-attr]
    assert "record 0" in reasons[0] and "time zone" in reasons[0]
    assert "record 1: invalid author: Field required" in reasons[1]
    assert "record 2: invalid extra: Extra inputs are not permitted" in reasons[2]


def _bad(**changes: object) -> bytes:
    """The batch's first record with `changes`, as a one-record request body."""
    return json.dumps([{**json.loads(BATCH)[0], **changes}]).encode()


def test_only_a_bearer_token_is_accepted_and_the_scheme_is_case_insensitive() -> None:
    token = TOKEN.encode()
    assert push.refusal(f"Bearer {TOKEN}", token) is None
    assert push.refusal(f"bearer {TOKEN}", token) is None  # RFC 9110: schemes ignore case
    assert push.refusal(TOKEN, token) == "Authorization is not a Bearer token"
    assert push.refusal(None, token) == "no Authorization header"
    assert push.refusal("Bearer \udcff", token) == "wrong token"  # undecodable bytes: no crash


@dataclass
class Endpoint:
    server: push.PushServer
    stream: AsyncGenerator[Item, None]
    first: asyncio.Future[Item]  # the runner's first request for a record
    url: str


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    config = push.Config(token=TOKEN, port=0, queue_size=3)  # type: ignore[arg-type]
    server = push.PushServer(config)
    stream = cast(AsyncGenerator[Item, None], push.fetch(config, server=server))
    first = asyncio.ensure_future(anext(stream))  # starts the server, waits for a record
    while server.port == 0:
        await asyncio.sleep(0.01)
    yield Endpoint(server, stream, first, f"http://127.0.0.1:{server.port}/v1/mentions")
    first.cancel()  # the generator's finally stops the server
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await stream.aclose()


async def test_a_request_is_answered_once_the_runner_produced_its_records(
    endpoint: Endpoint,
) -> None:
    async with httpx.AsyncClient() as http:
        answer = asyncio.ensure_future(
            http.post(
                endpoint.url,
                content=BATCH,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
        )
        mention = await asyncio.wait_for(endpoint.first, 1)
        assert isinstance(mention, Mention)
        assert mention.source_id == "support-desk:ticket-88412"
        second = await asyncio.wait_for(anext(endpoint.stream), 1)
        await asyncio.sleep(0.2)
        assert not answer.done()  # the runner has not come back for more: not produced yet
        third = asyncio.ensure_future(anext(endpoint.stream))
        response = await asyncio.wait_for(answer, 2)
        third.cancel()  # ends the generator (and the server), as stopping the runner would
        with contextlib.suppress(asyncio.CancelledError):
            await third
    assert response.status_code == 202 and response.json() == {"accepted": 2}
    assert isinstance(second, Mention) and endpoint.server.queue.qsize() == 0


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        ({}, BATCH, 401, "no Authorization header; send 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer wrong-token-000000"}, BATCH, 401, "wrong token"),
        ({"Authorization": TOKEN}, BATCH, 401, "Authorization is not a Bearer token"),
        ({"Authorization": f"Token {TOKEN}"}, BATCH, 401, "not a Bearer token"),
        ({"Authorization": f"Basic {TOKEN}"}, BATCH, 401, "not a Bearer token"),
        ({"Authorization": "Bearer"}, BATCH, 401, "not a Bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, BATCH, 401, "wrong token"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, BATCH, 401, "wrong token"),
        ({"Content-Type": "text/plain"}, BATCH, 415, "application/json"),
        ({}, b"{not json", 400, "not JSON"),
        ({}, b"x" * 3_000_000, 413, "smaller batches"),
        ({}, json.dumps([json.loads(BATCH)[0]] * 4).encode(), 503, "queue full"),
        ({}, b'[{"origin": "a", "id": "1"}]', 422, "record 0: invalid text: Field required"),
        (
            {},
            _bad(author={"handle": "a", "followers": 1e30}),
            422,
            "record 0: invalid author.followers: Input should be a valid integer",
        ),
        (
            {},
            _bad(engagement={"likes": 2**63}),
            422,
            "invalid engagement.likes: Input should be less than or equal to 9223372036854775807",
        ),
        (
            {},
            _bad(author={"handle": "h" * 40_000}),
            422,
            "invalid author.handle: String should have at most 256 characters",
        ),
        ({}, _bad(created_at="9999-12-31T00:00:00Z"), 422, "is more than a day ahead of now"),
        (
            {},
            _bad(created_at="0001-01-01T00:00:00Z"),
            422,
            "invalid created_at: Input should be greater than or equal to 2000-01-01T00:00:00Z",
        ),
    ],
)
async def test_bad_requests_get_a_4xx_with_the_reason_and_queue_nothing(
    endpoint: Endpoint, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    server, url = endpoint.server, endpoint.url
    sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if headers.get("Authorization") is None and status == 401:
        sent.pop("Authorization")
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=body, headers={**sent, **headers})
    assert answer.status_code == status
    assert says in answer.text
    assert server.queue.qsize() == 0


async def test_once_stops_after_the_first_request() -> None:
    config = push.Config(token=TOKEN, port=0)  # type: ignore[arg-type]
    server = push.PushServer(config)

    async def send() -> None:
        while server.port == 0:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            await http.post(
                f"http://127.0.0.1:{server.port}/v1/mentions",
                content=BATCH,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )

    sender = asyncio.ensure_future(send())
    items = [i async for i in push.fetch(config, once=True, server=server)]
    await sender
    assert len(items) == 2


async def test_a_202_means_kafka_already_has_the_records(
    settings: Settings, tmp_path: Path
) -> None:
    """With `sada ingest`'s wiring (the Kafka emitter's flush as the barrier), the records of an
    answered request are readable from the raw topic: a crash after the 202 loses nothing."""
    ensure_topics(settings)
    emitter = KafkaEmitter(settings)
    before = default_store()
    flushes: list[int] = []

    def barrier() -> None:
        flushes.append(server.produced)
        emitter.flush()

    set_default_store(CursorStore(tmp_path, barrier=barrier))
    config = push.Config(token=TOKEN, port=0)  # type: ignore[arg-type]
    server = push.PushServer(config)

    async def runner() -> None:  # what ingest.runner does with each item
        async for item in push.fetch(config, server=server):
            assert isinstance(item, Mention)
            emitter.mention("push", item)

    task = asyncio.ensure_future(runner())
    try:
        while server.port == 0:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"http://127.0.0.1:{server.port}/v1/mentions",
                content=BATCH,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
        assert answer.status_code == 202
        assert flushes == [2]  # answered after a flush that covered both records
        uids = {Mention.from_bytes(m.value).source_id for m in read_topic(settings, topics.RAW)}
        assert uids == {
            "support-desk:ticket-88412",
            "whatsapp-bridge:wamid.HBgLOTcxNTAxMjM0NTY3FQIAERgSQ0Y5",
        }
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        set_default_store(before)
        emitter.close()
