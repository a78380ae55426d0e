"""Which agents and tables a processor worker runs, per `sada process --stage`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from core import connect, topics
from core.config import Settings, load_config
from core.events import Author, Mention, ScoredMention
from core.live import LiveConfig
from processors.app import Stage, create_app
from processors.sentiment import default_model
from processors.sentiment.e5 import E5_MODEL_ID
from sada import SAMPLE_CONFIG as SAMPLE
from sada.topics import ensure_topics
from sada.workers import spawn, stop
from tests.conftest import eventually


@pytest.mark.parametrize(
    ("stage", "agents", "tables", "group"),
    [
        ("all", {"score_mentions", "detect_spikes"}, 2, "t-processors"),
        ("score", {"score_mentions"}, 0, "t-processors-score"),
        ("detect", {"detect_spikes"}, 2, "t-processors"),
    ],
)
def test_a_stage_runs_its_agents_and_tables_under_its_group(
    tmp_path: Path, stage: Stage, agents: set[str], tables: int, group: str
) -> None:
    settings = Settings(namespace="t", cache_dir=tmp_path)
    app = create_app(settings, LiveConfig(load_config(SAMPLE)), stage)
    assert {name.rsplit(".", 1)[-1] for name in app.agents} == agents
    assert len(app.tables) == tables
    assert app.conf.id == group == settings.processor_group(stage)


def test_the_score_stage_scores_with_the_e5_backend_on_kafka(
    settings: Settings, tmp_path: Path
) -> None:
    """SADA_SENTIMENT_BACKEND=e5 reaches a real worker, which scores (in a thread, beside
    Faust's event loop) what it reads from the raw topic."""
    settings = settings.model_copy(
        update={
            "config_path": SAMPLE,
            "sentiment_backend": "e5",
            "cache_dir": tmp_path,
            "sentiment_max_delay_seconds": 0.0,
        }  # a slow start must not hand over to linear
    )
    texts = {
        "Skyline Air lost my luggage again and nobody answers, terrible": "negative",
        "Thank you Skyline Air, the crew was wonderful and kind": "positive",
        "عمرو دياب الحفلة كانت تجنن، أحلى ليلة": "positive",
        "قهوة هاوس الطلب ما وصل والخدمة زفت": "negative",
    }
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings))
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for n, text in enumerate(texts):
        mention = Mention(
            uid=f"e5-{n}",
            source="test",
            source_id=str(n),
            author=Author(handle="h"),
            text=text,
            created_at=at,
            fetched_at=at,
        )
        producer.send(settings.topic(topics.RAW), value=mention.to_bytes()).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(
        settings.topic(topics.SCORED),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    scored: dict[str, ScoredMention] = {}
    worker = spawn("process", settings, tmp_path, "--stage", "score")
    try:

        def all_scored() -> bool:
            for message in consumer:
                record = ScoredMention.from_bytes(message.value)
                scored[record.mention.text] = record
            return len(scored) == len(texts)

        eventually(
            all_scored,
            timeout=180,
            what="the four mentions scored",
            state=lambda: f"{len(scored)} scored",
        )
    finally:
        stop([worker])
        consumer.close()
    assert {text: record.sentiment.label for text, record in scored.items()} == texts
    assert {record.sentiment.model for record in scored.values()} == {E5_MODEL_ID}


def test_a_slow_backend_that_fell_behind_lets_the_linear_model_catch_up(
    settings: Settings, tmp_path: Path
) -> None:
    """Mentions that waited longer than SADA_SENTIMENT_MAX_DELAY_SECONDS in the raw topic are
    scored by the linear model, and say so in `sentiment.model`."""
    settings = settings.model_copy(
        update={
            "config_path": SAMPLE,
            "sentiment_backend": "e5",
            "cache_dir": tmp_path,
            "sentiment_max_delay_seconds": 30.0,
        }
    )
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings))
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    two_minutes_ago = int((time.time() - 120) * 1000)
    for n, text in enumerate(["Skyline Air lost my bag", "Qahwa House coffee is great"]):
        mention = Mention(
            uid=f"late-{n}",
            source="test",
            source_id=str(n),
            author=Author(handle="h"),
            text=text,
            created_at=at,
            fetched_at=at,
        )
        producer.send(
            settings.topic(topics.RAW), value=mention.to_bytes(), timestamp_ms=two_minutes_ago
        ).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(
        settings.topic(topics.SCORED),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    scored: list[ScoredMention] = []
    worker = spawn("process", settings, tmp_path, "--stage", "score")
    try:

        def both_scored() -> bool:
            scored.extend(ScoredMention.from_bytes(m.value) for m in consumer)
            return len(scored) == 2

        eventually(
            both_scored,
            timeout=120,
            what="the two late mentions scored",
            state=lambda: f"{len(scored)} scored",
        )
    finally:
        stop([worker])
        consumer.close()
    assert {record.sentiment.model for record in scored} == {default_model().model_id}
