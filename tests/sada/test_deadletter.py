"""`sada deadletter list|show|replay` against the real local Kafka, in a namespace of its own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from typer.testing import CliRunner

from core import connect, topics
from core.config import Settings
from core.events import (
    DEAD_LETTER_PAYLOAD_BYTES,
    Author,
    DeadLetter,
    Mention,
    ScoredMention,
    Sentiment,
    dead_letter,
    make_uid,
)
from sada import deadletter
from sada.cli import app
from sada.topics import end_offsets, ensure_topics
from tests.conftest import read_topic

runner = CliRunner()
NOW = datetime.now(UTC).replace(microsecond=0)


def _mention(text: str = "the flight was late") -> Mention:
    return Mention(
        uid=make_uid("rss", "https://example.org/1"),
        source="rss",
        source_id="https://example.org/1",
        author=Author(handle="someone"),
        text=text,
        created_at=NOW - timedelta(hours=1),
        fetched_at=NOW - timedelta(hours=1),
    )


def _scored() -> ScoredMention:
    mention = _mention()
    return ScoredMention(
        mention=mention,
        client="acme",
        brand="widget",
        matched_terms=["flight"],
        text_normalized=mention.text,
        language="en",
        sentiment=Sentiment(label="negative", probability=0.9, model="test"),
        triage="complaint",
    )


def _letters(settings: Settings) -> list[DeadLetter]:
    """What the stages write: score (a valid mention it failed on), index-mentions (a record
    that does not parse), ingest (never on a topic), and an 80 KB mention, truncated."""
    raw, scored = settings.topic(topics.RAW), settings.topic(topics.SCORED)
    return [
        dead_letter("score", "matching failed: boom", _mention().to_bytes(), raw).model_copy(
            update={"failed_at": NOW - timedelta(days=2)}
        ),
        dead_letter("index-mentions", "not a valid record: token=s3cr3tvalue", b'{"x', scored),
        dead_letter("ingest:rss", "no title in item 3", "<item>nothing</item>"),
        dead_letter("score", "Too Big to process", _mention("ش" * 40_000).to_bytes(), raw),
    ]


@pytest.fixture
def letters(settings: Settings) -> Settings:
    """The namespace's topics, with the four letters on the dead-letter topic (ids 0:0..0:3)."""
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings), acks="all")
    for letter in _letters(settings):
        producer.send(settings.topic(topics.DEADLETTER), value=letter.to_bytes())
    producer.flush()
    producer.close()
    return settings


def _sada(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["deadletter", *args], env={"SADA_NAMESPACE": settings.namespace})
    return result.exit_code, result.output


def test_times_are_iso_8601_or_ages() -> None:
    assert deadletter.parse_time("2h", NOW, "--since") == NOW - timedelta(hours=2)
    assert deadletter.parse_time("2026-12-01T09:30Z", NOW, "--since") == datetime(
        2026, 12, 1, 9, 30, tzinfo=UTC
    )
    assert deadletter.parse_time("2026-12-01", NOW, "--until").tzinfo == UTC
    with pytest.raises(ValueError, match=r"--since 'yesterday': not a time; give ISO 8601"):
        deadletter.parse_time("yesterday", NOW, "--since")
    with pytest.raises(ValueError, match="is after --until"):
        deadletter.filters(None, None, "1h", "2h", None, NOW)
    with pytest.raises(ValueError, match="'0-3' is not a dead letter id"):
        deadletter.parse_id("0-3")


def test_list_filters_by_stage_reason_time_and_limit(letters: Settings) -> None:
    code, out = _sada(letters, "list")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["0:0", f"{NOW - timedelta(days=2):%Y-%m-%d}"]  # oldest first
    assert lines[-1] == f"4 of 4 dead letters on {letters.topic(topics.DEADLETTER)}"
    assert "token=***" in out and "s3cr3tvalue" not in out

    def ids(*args: str) -> list[str]:
        code, out = _sada(letters, "list", *args)
        assert code == 0, out
        return [line.split()[0] for line in out.splitlines()[:-1]]

    assert ids("--stage", "score") == ["0:0", "0:3"]
    assert ids("--stage", "ingest") == ["0:2"]  # every ingest source
    assert ids("--reason", "too big") == ["0:3"]  # case-insensitive substring
    assert ids("--since", "1d") == ["0:1", "0:2", "0:3"]
    assert ids("--until", "1d") == ["0:0"]
    assert ids("--limit", "2") == ["0:2", "0:3"]  # the most recent
    code, out = _sada(letters, "list", "--since", "last tuesday")
    assert code == 2 and "--since 'last tuesday': not a time" in out


def test_show_prints_the_whole_letter_masked(letters: Settings) -> None:
    code, out = _sada(letters, "show", "0:3")
    assert code == 0, out
    assert "stage: score" in out and f"source topic: {letters.topic(topics.RAW)}" in out
    assert "TRUNCATED: only the first 65536 bytes were kept" in out
    code, out = _sada(letters, "show", "0:1")
    assert "token=***" in out and "s3cr3tvalue" not in out and '{"x' in out
    code, out = _sada(letters, "show", "0:9")
    assert code == 2 and f"no dead letter 0:9 on {letters.topic(topics.DEADLETTER)}" in out


def test_replay_sends_a_letter_back_to_its_topic_once(letters: Settings) -> None:
    code, out = _sada(letters, "replay", "0:0", "--dry-run")
    assert code == 0 and "0:0: would be sent to" in out, out
    assert end_offsets(letters, topics.RAW) == 0
    code, out = _sada(letters, "replay", "0:0")
    assert code == 0 and f"0:0: sent to {letters.topic(topics.RAW)}" in out, out
    code, out = _sada(letters, "replay", "--stage", "score", "--until", "1d")
    assert code == 0 and "0:0: skipped: replayed already, to" in out, out
    (record,) = read_topic(letters, topics.RAW, wait_seconds=1.0)
    assert Mention.from_bytes(record.value) == _mention() and record.key == _mention().uid.encode()
    code, out = _sada(letters, "show", "0:0")
    assert f"replayed: to {letters.topic(topics.RAW)} at" in out
    name = letters.topic(topics.REPLAYED)
    admin = KafkaAdminClient(**connect.kafka_python(letters))
    try:
        values = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    assert values["topic"][name]["cleanup.policy"]["value"] == "compact"  # kept for good


def test_two_replays_at_once_send_a_letter_once(letters: Settings) -> None:
    """Each run claims the letter on the replayed topic; only the first claim's run sends."""
    (letter,) = [x for x in deadletter.read(letters) if x.id == "0:0"]
    plan = deadletter.plan(letter, letters.namespace)
    results: list[list[deadletter.Outcome]] = []
    runs = [
        threading.Thread(
            target=lambda: results.append(deadletter.replay(letters, [plan], dry_run=False))
        )
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(o.status for (o,) in results) == ["sent", "skipped", "skipped"]
    assert end_offsets(letters, topics.RAW) == 1


def test_replay_fixed_sends_the_corrected_record(letters: Settings, tmp_path: Path) -> None:
    code, out = _sada(letters, "replay", "0:1")
    assert code == 2 and "its payload is not a valid ScoredMention" in out, out
    assert "pass --fixed FILE" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"mention": {}}', encoding="utf-8")
    code, out = _sada(letters, "replay", "0:1", "--fixed", str(bad))
    assert code == 2 and f"{bad} is not a valid ScoredMention for" in out, out
    assert "mention.uid: Field required" in out
    code, out = _sada(letters, "replay", "0:1", "--fixed", str(tmp_path / "none.json"))
    assert code == 2 and "none.json: cannot read it: No such file or directory" in out, out
    good = tmp_path / "good.json"
    good.write_text(_scored().model_dump_json(indent=2), encoding="utf-8")
    code, out = _sada(letters, "replay", "0:1", "--fixed", str(good))
    assert code == 0 and f"0:1: sent to {letters.topic(topics.SCORED)}" in out, out
    (record,) = read_topic(letters, topics.SCORED, wait_seconds=1.0)
    assert ScoredMention.from_bytes(record.value) == _scored() and record.key == b"acme/widget"


def test_what_cannot_be_replayed_unchanged_is_refused_saying_why(letters: Settings) -> None:
    code, out = _sada(letters, "replay", "0:3", "0:2")
    assert code == 2, out
    assert (
        f"0:3: refused: its payload was truncated to its first {DEAD_LETTER_PAYLOAD_BYTES}" in out
    )
    assert "pass --fixed FILE" in out
    assert "0:2: refused: dead-lettered by ingest:rss" in out and "never on a topic" in out
    assert "2 of 2 dead letters cannot be replayed" in out
    assert end_offsets(letters, topics.RAW) == 0
    code, out = _sada(letters, "replay")
    assert code == 2 and "choose the dead letters by ID or by filters" in out
    code, out = _sada(letters, "replay", "0:0", "--stage", "score")
    assert code == 2 and "choose the dead letters by ID or by filters" in out
    code, out = _sada(letters, "replay", "--stage", "score", "--fixed", "x.json")
    assert code == 2 and "--fixed replaces the payload of one dead letter" in out
    code, out = _sada(letters, "replay", "7:0")
    assert code == 2 and "no dead letter 7:0" in out
