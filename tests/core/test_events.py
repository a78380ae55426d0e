from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from core.display import FSI, PDI, isolate
from core.events import (
    COUNT_MAX,
    DEAD_LETTER_PAYLOAD_BYTES,
    EARLIEST,
    HANDLE_MAX,
    NAME_MAX,
    RECORD_MAX_BYTES,
    SCHEMA_VERSION,
    TEXT_MAX,
    URL_MAX,
    Alert,
    Author,
    DeadLetter,
    Engagement,
    Mention,
    Removal,
    ScoredMention,
    Sentiment,
    dead_letter,
    make_uid,
    now,
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


def test_records_go_on_the_wire_as_pydantic_writes_them() -> None:
    """`to_bytes` (orjson) writes what `model_dump_json` would: escapes, zones, floats, nesting."""
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    mention = _mention(
        text='\x00\x1f\u2028 "quoted" \\ </b> & 😀 أكمي',
        author=Author(handle="h", name=None, followers=COUNT_MAX),
        engagement=Engagement(likes=3),
        edited_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=3))),
        fetched_at=at,
    )
    scored = ScoredMention(
        mention=mention,
        client="c",
        brand="b",
        matched_terms=["acme", "أكمي"],
        text_normalized="t",
        language="ar",
        sentiment=Sentiment(label="negative", probability=0.1 + 0.2, model="m"),
        triage="complaint",
    )
    alert = Alert(
        id="a",
        client="c",
        brand="b",
        kind="volume_spike",
        window_start=at,
        window_end=at,
        observed=1e300,
        expected=float("inf"),
        score=float("nan"),
        severity="critical",
        sample_uids=[mention.uid],
        raised_at=at,
    )
    removal = Removal(uid="u", source="x", source_id="1", removed_at=at)
    letter = dead_letter("ingest:x", "why", b"\xff not utf-8")
    for record in (mention, scored, alert, removal, letter):
        assert record.to_bytes() == record.model_dump_json().encode()


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


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {"author": {"handle": "h", "followers": 1e30}},
            "author.followers\n  Input should be a valid integer [type=int_type, input_value=1e+30",
        ),
        ({"author": {"handle": "h", "followers": 5.0}}, "Input should be a valid integer"),
        ({"engagement": {"likes": True}}, "engagement.likes\n  Input should be a valid integer"),
        ({"engagement": {"reposts": "5"}}, "engagement.reposts\n  Input should be a valid int"),
        (
            {"engagement": {"likes": 2**63}},
            f"engagement.likes\n  Input should be less than or equal to {COUNT_MAX}",
        ),
        ({"engagement": {"replies": -1}}, "engagement.replies\n  Input should be greater than"),
        (
            {"author": {"handle": "h" * 40_000}},
            f"author.handle\n  String should have at most {HANDLE_MAX} characters",
        ),
        (
            {"author": {"handle": "h", "name": "n" * (NAME_MAX + 1)}},
            f"author.name\n  String should have at most {NAME_MAX} characters",
        ),
        (
            {"url": "https://x.example/" + "a" * URL_MAX},
            f"url\n  String should have at most {URL_MAX} characters",
        ),
        ({"text": "ص" * (TEXT_MAX + 1)}, f"text\n  String should have at most {TEXT_MAX}"),
        (
            {"created_at": "9999-12-31T23:00:00-05:00"},
            "created_at\n  Value error, 9999-12-31T23:00:00-05:00 is more than a day ahead of now",
        ),
        (
            {"created_at": "0001-01-01T00:00:00+03:00"},
            "created_at\n  Input should be greater than or equal to 2000-01-01T00:00:00Z",
        ),
        ({"created_at": "1999-12-31T23:59:59Z"}, "greater than or equal to 2000-01-01"),
        ({"fetched_at": "9999-12-31T00:00:00Z"}, "fetched_at\n  Value error, 9999-12-31"),
        (
            {"schema_version": 2},
            "schema_version\n  Value error, schema_version 2 is newer than this stage knows (1)",
        ),
        ({"schema_version": 0}, "schema_version\n  Input should be greater than or equal to 1"),
    ],
)
def test_out_of_bounds_fields_are_refused_naming_the_field_and_the_bound(
    changes: dict[str, object], says: str
) -> None:
    record = {**_mention().model_dump(mode="json"), **changes}
    with pytest.raises(ValidationError) as refused:
        Mention.from_bytes(json.dumps(record))
    assert says in str(refused.value)


def test_the_bounds_themselves_are_accepted_and_keep_a_record_far_below_kafkas_limit() -> None:
    soon = now() + timedelta(hours=23)
    worst = "\x01"  # six bytes on the wire (\u0001), the most any character takes
    mention = _mention(
        author=Author(handle=worst * HANDLE_MAX, name=worst * NAME_MAX, followers=COUNT_MAX),
        engagement=Engagement(likes=COUNT_MAX, reposts=0, replies=COUNT_MAX),
        url=worst * URL_MAX,
        source_id=worst * URL_MAX,
        text=worst * TEXT_MAX,
        created_at=EARLIEST,
        fetched_at=soon,
    )
    assert Mention.from_bytes(mention.to_bytes()) == mention
    assert len(mention.to_bytes()) < RECORD_MAX_BYTES // 2  # a scored record carries text twice


def test_a_record_written_before_the_bounds_is_still_read() -> None:
    """A raw record as release 1 wrote it (no schema_version field on old writers' records)."""
    old = (
        b'{"uid":"synthetic-1","source":"synthetic","source_id":"7-1","url":null,'
        b'"author":{"handle":"user1","name":null,"followers":120},"text":"hi",'
        b'"language_hint":null,"created_at":"2026-01-01T00:00:00Z",'
        b'"fetched_at":"2026-01-01T00:00:01Z",'
        b'"engagement":{"likes":3,"reposts":0,"replies":1}}'
    )
    mention = Mention.from_bytes(old)
    assert mention.schema_version == SCHEMA_VERSION and mention.author.followers == 120


def test_a_scored_record_is_refused_for_its_mention_out_of_bounds() -> None:
    scored = ScoredMention(
        mention=_mention(),
        client="c",
        brand="b",
        matched_terms=["x"],
        text_normalized="x",
        language="ar",
        sentiment=Sentiment(label="neutral", probability=0.5, model="m"),
        triage="other",
    ).model_dump(mode="json")
    scored["mention"]["created_at"] = "9999-12-31T00:00:00Z"
    with pytest.raises(ValidationError, match="mention.created_at"):
        ScoredMention.from_bytes(json.dumps(scored))
