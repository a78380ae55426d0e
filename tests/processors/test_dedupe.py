from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors import dedupe
from processors.dedupe import Deduper, signature, similarity

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIRST = "Vodafone network is down again in Cairo, no signal since this morning https://t.co/a"
ARABIC = "شبكة فودافون واقعة من الصبح في القاهرة ومفيش اشارة خالص"

DUPLICATES = [
    "RT @someone: Vodafone network is down again in Cairo, no signal since this morning",
    "vodafone network is down AGAIN in cairo... no signal since this morning!! https://t.co/b",
    "@vodafone Vodafone network is down again in Cairo, no signal since this morning",
    "Vodafone network is down again in Cairo, no signal since this morning 😡",
]
DIFFERENT = [
    "Vodafone network is down again in Alexandria, no signal since the evening",
    "Orange has the best customer service I have ever seen, thanks team",
    "Cairo traffic is terrible this morning, stuck for two hours on the bridge",
]


@pytest.mark.parametrize("text", DUPLICATES)
def test_reposts_link_to_the_first(text: str) -> None:
    deduper = Deduper()
    assert deduper.check("first", FIRST, T0) is None
    assert deduper.check("second", text, T0 + timedelta(minutes=5)) == "first"


@pytest.mark.parametrize("text", DIFFERENT)
def test_different_posts_are_new(text: str) -> None:
    deduper = Deduper()
    assert deduper.check("first", FIRST, T0) is None
    assert deduper.check("second", text, T0 + timedelta(minutes=5)) is None


@pytest.mark.parametrize(
    "text",
    [
        "شبكه فودافون واقعه من الصبح في القاهره ومفيش اشاره خالص 😡",
        "شَبَكة فودافون واقعة من الصبح في القاهرة و مفيش إشارة خالص",
    ],
)
def test_arabic_variants_are_duplicates(text: str) -> None:
    deduper = Deduper()
    assert deduper.check("first", ARABIC, T0) is None
    assert deduper.check("second", text, T0) == "first"


def test_a_chain_of_copies_links_to_the_root() -> None:
    deduper = Deduper()
    for i, text in enumerate([FIRST, *DUPLICATES]):
        assert deduper.check(f"u{i}", text, T0 + timedelta(minutes=i)) == (None if i == 0 else "u0")


def test_replays_give_the_same_answer() -> None:
    deduper = Deduper()
    deduper.check("first", FIRST, T0)
    deduper.check("second", DUPLICATES[0], T0)
    assert deduper.check("first", FIRST, T0) is None
    assert deduper.check("second", DUPLICATES[0], T0) == "first"


def test_the_window_forgets() -> None:
    deduper = Deduper(window_seconds=3600)
    deduper.check("first", FIRST, T0)
    assert deduper.check("later", FIRST, T0 + timedelta(hours=2)) is None
    assert len(deduper) == 1


def test_short_texts_are_never_duplicates() -> None:
    deduper = Deduper()
    assert deduper.check("a", "thanks!", T0) is None
    assert deduper.check("b", "thanks!", T0) is None


def test_memory_is_bounded() -> None:
    deduper = Deduper(max_entries=10)
    for i in range(50):
        deduper.check(f"u{i}", f"post number {i} about a completely different topic {i * 7919}", T0)
    assert len(deduper) == 10


def test_signature_similarity_tracks_overlap() -> None:
    a, b, c = signature(FIRST), signature(DUPLICATES[1]), signature(DIFFERENT[1])
    assert a is not None and b is not None and c is not None
    assert similarity(a, a) == 1.0
    assert similarity(a, b) > 0.7 > similarity(a, c)
    assert signature("hi") is None


def test_slots_must_divide_into_bands() -> None:
    with pytest.raises(ValueError, match="multiple of bands"):
        Deduper(slots=64, bands=10)


def test_a_long_campaign_links_every_copy_to_the_first() -> None:
    """More copies than a band bucket holds: the first leaves the buckets, yet every later copy
    still links to it through the copies that stayed."""
    deduper = Deduper()
    assert deduper.check("first", FIRST, T0) is None
    for i in range(40):
        copy = f"{DUPLICATES[i % len(DUPLICATES)]} #{i}"
        assert deduper.check(f"copy{i}", copy, T0 + timedelta(seconds=i)) == "first"


def test_a_mention_pushed_out_of_memory_is_not_linked() -> None:
    deduper = Deduper(max_entries=3)
    deduper.check("first", FIRST, T0)
    for i, text in enumerate(DIFFERENT):
        deduper.check(f"other{i}", text, T0)
    assert len(deduper) == 3
    assert deduper.check("late", DUPLICATES[0], T0) is None
    assert deduper.check("later", DUPLICATES[1], T0) == "late"


def test_arrival_numbers_start_again_before_they_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The band table holds int32 arrival numbers; renumbering keeps every link and answer."""
    monkeypatch.setattr(dedupe, "_NUMBERS_MAX", 40)
    deduper = Deduper(max_entries=16)
    at = T0
    for round_ in range(6):  # 6 x 8 arrivals: past the limit more than once
        post = " ".join(f"{word}{round_}" for word in DIFFERENT[round_ % 3].split())
        assert deduper.check(f"first{round_}", post, at) is None
        for copy in range(7):
            at += timedelta(seconds=1)
            text = ("RT @fan: ", "@brand ", "", "so true: ")[copy % 4] + post + "!" * copy
            assert deduper.check(f"copy{round_}.{copy}", text, at) == f"first{round_}"
        assert deduper.check(f"first{round_}", post, at) is None  # a replay: same answer
    assert deduper._next < 40 and len(deduper) == 16
