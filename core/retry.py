"""One retry policy for every stage: exponential backoff with full jitter, at least the wait the
server asked for, and one rule for which failures are worth another try.

Full jitter (a wait drawn from zero to the step) spreads out the clients that failed together
(every worker when the broker restarts), so they do not all come back in the same instant.
"""

from __future__ import annotations

import math
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from core.errors import RetryLater

T = TypeVar("T")

ADMIN_DEADLINE_SECONDS = 180.0  # a broker started for the first time loads its offsets topic


def backoff_seconds(
    attempt: int,
    *,
    initial: float = 0.5,
    maximum: float = 60.0,
    hint: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait before retry number `attempt` (1 = the first retry): drawn from zero to
    `initial * 2**(attempt-1)`, capped at `maximum`, and never shorter than the server's `hint`."""
    ceiling = min(maximum, initial * 2 ** min(max(attempt, 1) - 1, 60))
    return max(ceiling * rand(), hint or 0.0)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from a Retry-After or rate-limit reset header; None if unreadable.

    Servers write one of: seconds remaining (Reddit `15`, `Retry-After: 120`), epoch seconds
    (Bluesky `RateLimit-Reset: 1747676784`), an ISO time (Mastodon `X-RateLimit-Reset`), or an
    HTTP date (`Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`).
    """
    if not value or not (value := value.strip()):
        return None
    now = time.time() if now is None else now
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        return max(0.0, number - now) if number > 1_000_000_000 else number
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed: the other side said so (RetryLater), a Kafka error
    marked retriable (no broker yet, broker restarting, coordinator loading, leader moving), or a
    connection, DNS or timeout failure."""
    return (
        isinstance(exc, RetryLater | ConnectionError | socket.gaierror | TimeoutError)
        or getattr(exc, "retriable", False) is True
    )


def until_deadline(
    call: Callable[[], T],
    *,
    what: str,
    seconds: float = ADMIN_DEADLINE_SECONDS,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """`call()`, tried again with backoff while it fails transiently, for at most `seconds`;
    then a TimeoutError naming `what` and the last failure."""
    deadline = time.monotonic() + seconds
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if not transient(exc):
                raise
            attempt += 1
            wait = backoff_seconds(attempt, maximum=5.0, hint=getattr(exc, "after_seconds", None))
            if time.monotonic() + wait > deadline:
                raise TimeoutError(
                    f"{what}: still failing after {seconds:.0f}s ({type(exc).__name__}: {exc}); "
                    "check that Kafka is running and reachable (`sada services status`)"
                ) from exc
            sleep(wait)
