from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from core.display import FSI, PDI, isolate
from core.events import (
    DEAD_LETTER_PAYLOAD_BYTES,
    Author,
    DeadLetter,
    Mention,
    dead_letter,
    make_uid,
)


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
    assert letter.payload_bytes == 8 and not letter.truncated


def test_an_oversize_dead_letter_keeps_its_head_size_and_digest() -> None:
    payload = ("ص" * 20_000_000).encode()  # 40 MB of two-byte characters
    letter = dead_letter("ingest:replay", "line too long", payload)
    assert letter.truncated and letter.payload_bytes == len(payload)
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert len(letter.payload.encode()) <= DEAD_LETTER_PAYLOAD_BYTES
    assert len(letter.to_bytes()) < 2 * DEAD_LETTER_PAYLOAD_BYTES  # far below Kafka's 1 MB


def test_a_dead_letter_masks_secrets_in_reason_and_payload() -> None:
    letter = dead_letter(
        "notify",
        "https://hooks.example.com/alerts?token=s3cr3t-planted refused: 403",
        b'{"url": "https://user:hunter2-planted@example.com/x"}',
    )
    assert "s3cr3t-planted" not in letter.to_bytes().decode()
    assert "hunter2-planted" not in letter.to_bytes().decode()
    assert "hooks.example.com" in letter.reason


def test_isolate_wraps_right_to_left_text() -> None:
    assert isolate("زين") == f"{FSI}زين{PDI}"
