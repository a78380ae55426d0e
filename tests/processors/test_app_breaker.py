"""The dead-letter circuit breaker in a real processor worker on the real Kafka."""

from __future__ import annotations

import json
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from core import connect, topics
from core.config import Settings
from sada import SAMPLE_CONFIG
from sada.topics import ensure_topics, lag
from sada.workers import spawn, stop


def test_a_worker_fed_mostly_garbage_stops_with_one_clear_line(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={
            "config_path": SAMPLE_CONFIG,
            "cache_dir": tmp_path / "cache",
            "deadletter_max_share": 0.5,
        }
    )
    ensure_topics(settings)
    producer = KafkaProducer(**connect.kafka_python(settings))
    for n in range(300):
        producer.send(settings.topic(topics.RAW), key=str(n).encode(), value=b"<html>oops")
    producer.flush()
    producer.close()
    worker = spawn("process", settings, tmp_path, "--stage", "score")
    try:
        code = worker.wait(timeout=90)
    finally:
        stop([worker])
    log = (tmp_path / "process-stage-score.log").read_text(errors="replace")
    assert code != 0, log[-2000:]
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, log[-2000:]
    assert errors[0].startswith("error: score: ") and "SADA_DEADLETTER_MAX_SHARE" in errors[0]
    consumer = KafkaConsumer(
        settings.topic(topics.DEADLETTER),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    letters = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(letters) < 300  # it stopped instead of dead-lettering everything
    # what it had not finished is left uncommitted, to be read again once the cause is fixed
    assert lag(settings, settings.processor_group("score"), topics.RAW) >= 200
