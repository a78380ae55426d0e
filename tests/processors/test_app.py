"""Which agents and tables a processor worker runs, per `sada process --stage`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
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


def test_a_running_score_worker_takes_up_a_new_brand_and_refuses_a_broken_file(
    settings: Settings, tmp_path: Path
) -> None:
    """Matching changes live: a brand added to the clients file is scored without restarting
    the worker; a broken file afterwards is refused and the last good one stays in use."""
    clients = tmp_path / "clients.yaml"
    clients.write_bytes(SAMPLE.read_bytes())
    settings = settings.model_copy(
        update={"config_path": clients, "config_reload_seconds": 0.3, "cache_dir": tmp_path}
    )
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings))
    consumer = KafkaConsumer(
        settings.topic(topics.SCORED),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
    )
    log = tmp_path / "process-stage-score.log"
    scored: dict[str, str] = {}  # mention uid -> brand key

    def send(uid: str, text: str) -> None:
        at = datetime.now(UTC)
        mention = Mention(
            uid=uid,
            source="test",
            source_id=uid,
            author=Author(handle="h"),
            text=text,
            created_at=at,
            fetched_at=at,
        )
        producer.send(settings.topic(topics.RAW), value=mention.to_bytes()).get(timeout=10)

    def scored_as(uid: str) -> bool:
        scored.update(
            {(r := ScoredMention.from_bytes(m.value)).mention.uid: r.key for m in consumer}
        )
        return uid in scored

    def logged(line: str) -> bool:
        return log.exists() and line in log.read_text(encoding="utf-8")

    worker = spawn("process", settings, tmp_path, "--stage", "score")
    try:
        send("before", "Nile Cola is the best drink")
        send("known", "Skyline Air lost my bag")  # scored after "before": that one was read
        eventually(lambda: scored_as("known"), timeout=60, what="the worker scoring")
        assert "before" not in scored

        data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
        data["clients"][1]["brands"].append(
            {"id": "nile-cola", "name": "Nile Cola", "include": ['"Nile Cola"']}
        )
        clients.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        eventually(lambda: logged("brands +northwind/nile-cola"), timeout=20, what="the reload")
        send("after", "Nile Cola is the best drink")
        eventually(lambda: scored_as("after"), timeout=20, what="the new brand scored")
        assert scored["after"] == "northwind/nile-cola"

        clients.write_text("clients: [\n", encoding="utf-8")
        eventually(lambda: logged("clients file refused"), timeout=20, what="the refusal")
        assert logged(f"{clients}: not valid YAML")  # as `sada config check` says it
        send("broken", "Nile Cola again")
        eventually(lambda: scored_as("broken"), timeout=20, what="scoring after the refusal")
        assert scored["broken"] == "northwind/nile-cola"
        assert worker.poll() is None  # never restarted
    finally:
        stop([worker])
        consumer.close()
        producer.close()
