from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.errors import (
    CommitFailedError,
    CoordinatorNotAvailableError,
    KafkaConnectionError,
    KafkaTimeoutError,
)

from core.errors import Fatal, RetryLater
from core.retry import backoff_seconds, retry_after, transient, until_deadline

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15", 15.0),  # Reddit: seconds remaining
        ("15.0", 15.0),
        (str(int(NOW) + 42), 42.0),  # Bluesky: epoch seconds
        ((datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=90)).isoformat(), 90.0),  # Mastodon
        (
            (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=30)).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            ),
            30.0,
        ),  # Retry-After as an HTTP date
        (str(int(NOW) - 5), 0.0),  # a reset already past: no wait
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", None),
        ("inf", None),
        ("1e400", None),
    ],
)
def test_retry_after_reads_every_form(value: str | None, expected: float | None) -> None:
    got = retry_after(value, NOW)
    assert got == (pytest.approx(expected, abs=1e-6) if expected is not None else None)


def test_retry_after_counts_from_the_clock_by_default() -> None:
    in_a_minute = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 55 <= (retry_after(in_a_minute) or 0) <= 60


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_retry_after_never_raises_and_never_goes_negative(value: str) -> None:
    wait = retry_after(value, NOW)
    assert wait is None or 0 <= wait < float("inf")


def test_backoff_doubles_up_to_a_cap_with_full_jitter() -> None:
    def step(attempt: int, rand: float) -> float:
        return backoff_seconds(attempt, initial=1, maximum=10, rand=lambda: rand)

    assert step(1, 1.0) == 1.0
    assert step(3, 1.0) == 4.0
    assert step(3, 0.5) == 2.0
    assert step(3, 0.0) == 0.0  # full jitter: anywhere from nothing to the whole step
    assert step(20, 1.0) == step(10_000, 1.0) == 10.0
    waits = [backoff_seconds(5) for _ in range(300)]
    assert all(0 <= w <= 8.0 for w in waits) and max(waits) > 4.0 and min(waits) < 4.0


def test_backoff_never_waits_less_than_the_server_asked() -> None:
    assert backoff_seconds(1, hint=30) == 30
    assert backoff_seconds(1, hint=None, rand=lambda: 1.0) == 0.5


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RetryLater("busy"), True),
        (KafkaConnectionError("broker restarting"), True),
        (CoordinatorNotAvailableError("loading offsets"), True),
        (KafkaTimeoutError("Unable to bootstrap"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (CommitFailedError("kicked out of the group"), False),
        (Fatal("bad credentials"), False),
        (ValueError("a bug"), False),
        (FileNotFoundError("no such file"), False),
    ],
)
def test_transient_errors_are_the_ones_worth_another_try(error: Exception, expected: bool) -> None:
    assert transient(error) is expected


def test_until_deadline_waits_out_transient_failures() -> None:
    failures = [CoordinatorNotAvailableError("loading"), KafkaConnectionError("restarting")]
    slept: list[float] = []

    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    assert until_deadline(call, what="lag", sleep=slept.append) == "done"
    assert len(slept) == 2


def test_until_deadline_gives_up_with_a_clear_error() -> None:
    def call() -> None:
        raise CoordinatorNotAvailableError("GROUP/sada-processors")

    with pytest.raises(TimeoutError, match=r"lag of sada-processors: still failing after 1s"):
        until_deadline(call, what="lag of sada-processors", seconds=1.0)


def test_until_deadline_does_not_retry_what_cannot_pass() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        until_deadline(call, what="lag", sleep=lambda _: None)
    assert calls == [1]
