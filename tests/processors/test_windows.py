"""Event-time minutes closed by watermarks, and the origin marks that make replays harmless."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from core.events import Author, Mention, ScoredMention, Sentiment
from processors.windows import (
    EventTimeWindow,
    applied,
    counted,
    marked,
    origin_headers,
    read_origin,
)

HOUR = 3600.0
T = datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp()


def minutes() -> EventTimeWindow:
    return EventTimeWindow(60, expires=HOUR, sources=2)


def test_nothing_closes_until_every_raw_partition_was_heard_from() -> None:
    window = minutes()
    assert window.place(T, 0, ("0", 1)) == (T, T + 59.9)
    assert window.place(T - 2 * HOUR, 0, ("0", 2)) is not None  # raw partition 1: not yet
    assert not window.stale(T - 2 * HOUR, time.time())


def test_a_minute_an_hour_behind_the_slowest_raw_partition_is_closed() -> None:
    window = minutes()
    window.place(T + 2 * HOUR, 0, ("0", 1))  # raw partition 0 runs ahead (a replay)
    window.place(T, 0, ("1", 1))
    assert window.place(T - 30 * 60, 0, ("0", 2)) is not None  # behind 0, within an hour of 1
    assert window.place(T - 2 * HOUR, 0, ("1", 2)) is None
    assert window.place(T + 3 * HOUR, 0, None) is not None  # no origin: the clocks stay
    assert window.place(T - 30 * 60, 0, ("1", 3)) is not None


def test_the_cleanup_drops_minutes_behind_the_slowest_scored_partition_not_the_wall_clock() -> None:
    window = minutes()
    for raw in ("0", "1"):
        window.place(T + 5 * HOUR, 0, (raw, 1))
        window.place(T, 1, (raw, 1))
    assert not window.stale(T - 30 * 60, time.time())  # scored partition 1 still fills it
    assert window.stale(T - 2 * HOUR, time.time())
    assert not EventTimeWindow(60, expires=HOUR, sources=2).stale(T - 2 * HOUR, time.time())


def test_an_origin_goes_out_in_a_header_and_comes_back() -> None:
    assert origin_headers(3, 1234) == {"sada-origin": b"3:1234"}
    assert read_origin(origin_headers(3, 1234)) == ("3", 1234)
    assert read_origin({}) is None  # not from the score agent


def test_a_record_at_or_below_its_raw_partitions_mark_is_applied() -> None:
    value = marked({"total": 1}, {"origins": {"1": 7}}, ("0", 40))
    assert value == {"total": 1, "origins": {"0": 40, "1": 7}}
    assert applied(value, ("0", 40)) and applied(value, ("0", 39)) and applied(value, ("1", 7))
    assert not applied(value, ("0", 41)) and not applied(value, ("2", 0))
    assert not applied(value, None)  # an unknown origin is always counted
    assert marked({}, value, None) == {"origins": {"0": 40, "1": 7}}


def test_a_minutes_counts_add_a_record_by_source_and_language() -> None:
    at = datetime.fromtimestamp(T, UTC)
    mention = Mention(
        uid="bluesky-1",
        source="bluesky",
        source_id="1",
        url="https://bsky.app/x/1",
        author=Author(handle="alice", followers=12),
        text="Acme broke again",
        created_at=at,
        fetched_at=at,
    )
    record = ScoredMention(
        mention=mention,
        client="acme",
        brand="widget",
        matched_terms=["acme"],
        text_normalized="acme broke again",
        language="en",
        sentiment=Sentiment(label="negative", probability=0.9, model="test"),
        triage="complaint",
    )
    before = {"total": 2, "negative": 0, "source": {"rss": 2}, "language": {"en": 2}}
    after = counted(counted({}, record), record)
    assert after == {"total": 2, "negative": 2, "source": {"bluesky": 2}, "language": {"en": 2}}
    assert counted(before, record) == {
        "total": 3,
        "negative": 1,
        "source": {"rss": 2, "bluesky": 1},
        "language": {"en": 3},
    }
    assert before["source"] == {"rss": 2}  # the table's value is not changed in place
