from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from core.display import FSI, PDI, isolate
from core.events import Author, DeadLetter, Mention, dead_letter, make_uid


def _mention(**changes: object) -> Mention:
    fields: dict[str, object] = {
        "uid": make_uid("bluesky", "at://x/1"),
        "source": "bluesky",
        "source_id": "at://x/1",
        "author": Author(handle="nour"),
        "text": "عمرو دياب 😍",
        "created_at": datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=3))),
        "fetched_at": datetime(2026, 1, 1, 9, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return Mention.model_validate(fields)


def test_uid_is_stable_and_distinguishes_sources() -> None:
    assert make_uid("mastodon", "1") == make_uid("mastodon", "1")
    assert make_uid("mastodon", "1") != make_uid("reddit", "1")


def test_timestamps_become_utc_and_round_trip_on_the_wire() -> None:
    mention = _mention()
    assert mention.created_at == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert mention.created_at.tzinfo == UTC
    assert Mention.from_bytes(mention.to_bytes()) == mention
    assert "عمرو دياب" in mention.to_bytes().decode()


def test_naive_timestamps_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="no time zone"):
        _mention(created_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="extra"):
        _mention(mood="happy")


def test_dead_letter_keeps_the_payload_whole() -> None:
    letter = dead_letter("score", "not JSON", b"\xff{broken", "sada.mentions.raw")
    assert isinstance(letter, DeadLetter)
    assert letter.payload.endswith("{broken") and letter.reason == "not JSON"
    assert letter.source_topic == "sada.mentions.raw"


def test_isolate_wraps_right_to_left_text() -> None:
    assert isolate("زين") == f"{FSI}زين{PDI}"
