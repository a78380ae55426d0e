from __future__ import annotations

import pytest

from core.breaker import DeadLetterBreaker
from core.errors import Fatal


def test_a_few_bad_records_at_start_do_not_trip_it() -> None:
    breaker = DeadLetterBreaker("index", 0.5, window=1000, minimum=100)
    for _ in range(99):
        breaker.rejected("not json")  # 99 of 99, but under the minimum
    breaker.accepted(500)


def test_it_trips_when_most_of_the_window_is_dead_lettered() -> None:
    breaker = DeadLetterBreaker("index", 0.5, window=100, minimum=10)
    breaker.accepted(50)
    for _ in range(50):
        breaker.rejected("x")  # exactly half: not more than the share
    with pytest.raises(Fatal, match=r"index: 51 of the last 100 records were dead-lettered"):
        breaker.rejected("schema changed upstream")


def test_old_outcomes_leave_the_window() -> None:
    breaker = DeadLetterBreaker("score", 0.3, window=100, minimum=100)
    for _ in range(30):
        breaker.rejected("x")
    breaker.accepted(100)  # the bad burst has left the window
    for _ in range(30):
        breaker.rejected("x")  # 30 of 100: at the share, not over
    with pytest.raises(Fatal, match="the last reason: a bad deploy"):
        breaker.rejected("a bad deploy")


def test_the_message_says_what_to_do() -> None:
    breaker = DeadLetterBreaker("notify", 0.5, window=10, minimum=10)
    with pytest.raises(Fatal) as caught:
        for _ in range(10):
            breaker.rejected("route refused")
    message = str(caught.value)
    assert "SADA_DEADLETTER_MAX_SHARE" in message and "restart" in message


def test_a_share_of_one_never_trips() -> None:
    breaker = DeadLetterBreaker("index", 1.0, window=10, minimum=1)
    for _ in range(100):
        breaker.rejected("x")


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="max_share"):
        DeadLetterBreaker("index", share)
