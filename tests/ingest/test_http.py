from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import RetryLater, SourceError
from ingest.http import HttpPolicy, Polite
from tests.ingest.support import ReplayServer, Reply, Sleeps

FAST = HttpPolicy(
    requests_per_second_per_host=1000,
    timeout_seconds=0.3,
    max_attempts=4,
    backoff_initial_seconds=0.5,
    backoff_max_seconds=4,
)
NOW = 1_800_000_000.0


def polite(client: httpx.AsyncClient, sleeps: Sleeps, **kw: object) -> Polite:
    return Polite(client, FAST, source="test", sleep=sleeps, rand=lambda: 1.0, **kw)  # type: ignore[arg-type]


async def test_429_waits_what_retry_after_says(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/a", Reply(429, "slow down", {"Retry-After": "7"}), Reply(200, "ok"))
    response = await polite(client, sleeps).get(server.url("/a"))
    assert response.text == "ok"
    assert sleeps.calls == [pytest.approx(7.0, abs=0.1)]
    assert len(server.seen("/a")) == 2


async def test_429_without_retry_after_uses_the_source_reset_header(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    server.script("/a", Reply(429, "", {"X-RateLimit-Reset": reset}), Reply(200, "ok"))
    await polite(client, sleeps, reset_header="x-ratelimit-reset").get(server.url("/a"))
    assert len(sleeps.calls) >= 1 and 55 < max(sleeps.calls) <= 60


async def test_5xx_and_timeouts_and_cut_bodies_are_retried_with_backoff(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        "/a",
        Reply(503, "down"),
        Reply(200, "x" * 4000, cut=True),
        Reply(200, "late", delay_seconds=0.5),
        Reply(200, "ok"),
    )
    response = await polite(client, sleeps).get(server.url("/a"))
    assert response.text == "ok"
    # backoff doubles (rand=1: the top of the jitter band)
    assert sleeps.calls == pytest.approx([0.5, 1.0, 2.0], abs=0.1)


async def test_gives_up_with_retry_later_after_max_attempts(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/a", Reply(502, "bad gateway"))
    with pytest.raises(RetryLater, match=r"HTTP 502 after 4 tries"):
        await polite(client, sleeps).get(server.url("/a?key=secret"))
    assert len(server.seen("/a")) == 4


async def test_a_wait_longer_than_allowed_ends_the_poll_instead(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/a", Reply(429, "", {"Retry-After": "3600"}))
    with pytest.raises(RetryLater) as info:
        await polite(client, sleeps).get(server.url("/a"))
    assert info.value.after_seconds == 3600
    assert sleeps.calls == []


async def test_4xx_is_not_retried_and_says_what_to_do(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/a", Reply(401, '{"error":"This API requires an authenticated user"}'))
    with pytest.raises(SourceError, match=r"test: GET .*/a\S*: HTTP 401 .*credentials") as info:
        await polite(client, sleeps).get(server.url("/a?access_token=secret"))
    assert "secret" not in str(info.value)
    assert len(server.seen("/a")) == 1


async def test_spent_budget_holds_the_host_until_reset(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        "/a", Reply(200, "ok", {"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "12"})
    )
    session = polite(
        client, sleeps, reset_header="x-ratelimit-reset", remaining_header="x-ratelimit-remaining"
    )
    await session.get(server.url("/a"))
    await session.get(server.url("/a"))
    assert sleeps.calls and 11 < sleeps.calls[0] <= 12


async def test_requests_to_one_host_are_spaced_in_real_time(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script("/a", Reply(200, "ok"))
    session = Polite(client, HttpPolicy(requests_per_second_per_host=10), source="test")
    start = time.monotonic()
    for _ in range(4):
        await session.get(server.url("/a"))
    assert time.monotonic() - start >= 0.29  # three gaps of 0.1 s


async def test_retry_after_is_honoured_in_real_time(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script("/a", Reply(429, "", {"Retry-After": "1"}), Reply(200, "ok"))
    policy = FAST.model_copy(update={"backoff_initial_seconds": 0.01})
    await Polite(client, policy, source="test").get(server.url("/a"))
    first, second = server.seen("/a")
    assert second.at - first.at >= 0.95


async def test_redirects_are_followed(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/old", Reply(301, "", {"Location": "/new"}))
    server.script("/new", Reply(200, "moved here"))
    assert (await polite(client, sleeps).get(server.url("/old"))).text == "moved here"
