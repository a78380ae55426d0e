"""The score stage holds the wire contract: what a newer release or a broken producer put on the
raw topic is dead-lettered with the reason, and the records around it are scored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from core import connect, topics
from core.config import Settings
from core.events import Author, DeadLetter, Mention, ScoredMention
from sada import SAMPLE_CONFIG as SAMPLE
from sada.topics import ensure_topics
from sada.workers import spawn, stop
from tests.conftest import eventually


def test_the_score_stage_dead_letters_newer_schemas_and_out_of_bounds_fields(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"config_path": SAMPLE, "cache_dir": tmp_path})
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    good = Mention(
        uid="good",
        source="test",
        source_id="1",
        author=Author(handle="h"),
        text="Skyline Air lost my luggage again",
        created_at=at,
        fetched_at=at,
    )
    model = good.model_dump(mode="json")
    bad = {  # uid: (the record, what its dead letter's reason says)
        "newer": (
            {**model, "schema_version": 2, "mood": "new field"},
            "schema_version 2 is newer than this stage knows (1)",
        ),
        "year-9999": (
            {**model, "created_at": "9999-12-31T00:00:00Z"},
            "is more than a day ahead of now",
        ),
        "followers": (
            {**model, "author": {"handle": "h", "followers": 1e30}},
            "followers\n  Input should be a valid integer",
        ),
        "likes": (
            {**model, "engagement": {"likes": 2**63}},
            "less than or equal to 9223372036854775807",
        ),
    }
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings))
    for uid, (record, _) in bad.items():
        value = json.dumps({**record, "uid": uid}).encode()
        producer.send(settings.topic(topics.RAW), value=value).get(timeout=10)
    producer.send(settings.topic(topics.RAW), value=good.to_bytes()).get(timeout=10)
    producer.close()
    scored, letters = _consumer(settings, topics.SCORED), _consumer(settings, topics.DEADLETTER)
    seen: list[ScoredMention] = []
    dead: list[DeadLetter] = []
    worker = spawn("process", settings, tmp_path, "--stage", "score")
    try:

        def settled() -> bool:
            seen.extend(ScoredMention.from_bytes(m.value) for m in scored)
            dead.extend(DeadLetter.from_bytes(m.value) for m in letters)
            return bool(seen) and len(dead) == len(bad)

        eventually(
            settled,
            timeout=180,
            what="the good mention scored, the rest dead-lettered",
            state=lambda: f"{len(seen)} scored, {len(dead)} dead-lettered",
        )
    finally:
        stop([worker])
        scored.close()
        letters.close()
    assert {s.mention.uid for s in seen} == {"good"}
    for letter in dead:
        uid = json.loads(letter.payload)["uid"]
        assert letter.stage == "score" and bad[uid][1] in letter.reason, letter.reason


def _consumer(settings: Settings, topic: topics.Topic) -> KafkaConsumer:
    return KafkaConsumer(
        settings.topic(topic),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
