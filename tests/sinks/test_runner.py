"""The sink runner against the real Kafka and Elasticsearch: commit after write, dead letters."""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
from kafka import KafkaConsumer, KafkaProducer

from core import topics
from core.config import Settings
from core.errors import RetryLater
from core.events import ScoredMention
from sada.topics import ensure_topics, lag
from sinks.elasticsearch import mentions_sink
from sinks.runner import SinkRunner
from tests.sinks.test_elasticsearch import _scored


class FlakySink:
    """Busy twice, then accepts everything: the runner must retry the same batch."""

    def __init__(self) -> None:
        self.calls = 0
        self.written: list[ScoredMention] = []

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def check(self) -> bool:
        return True

    async def write(self, batch: Sequence[ScoredMention]) -> list[tuple[ScoredMention, str]]:
        self.calls += 1
        if self.calls <= 2:
            raise RetryLater("busy", after_seconds=0.05)
        self.written += batch
        return []


def _produce(settings: Settings, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for value in values:
        producer.send(settings.topic(topics.SCORED), value=value)
    producer.flush()
    producer.close()


def _dead_letters(settings: Settings) -> list[dict[str, str]]:
    consumer = KafkaConsumer(
        settings.topic(topics.DEADLETTER),
        auto_offset_reset="earliest",
        bootstrap_servers=settings.kafka_bootstrap,
        consumer_timeout_ms=2000,
    )
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


async def _drain(runner: SinkRunner, expected: int) -> None:
    handled = 0
    for _ in range(60):
        handled += await runner.step(timeout_ms=500)
        if handled >= expected:
            return
    raise AssertionError(f"handled {handled} of {expected} records")


async def test_offsets_are_committed_only_after_the_sink_accepted_the_batch(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    records = _scored(30)
    _produce(settings, [r.to_bytes() for r in records])
    sink = FlakySink()
    runner = SinkRunner(settings, topics.SCORED, sink, ScoredMention.from_bytes, stage="flaky")
    await _drain(runner, 30)
    assert sink.calls >= 3
    assert sorted(r.mention.uid for r in sink.written) == sorted(r.mention.uid for r in records)
    assert lag(settings, settings.group("flaky"), topics.SCORED) == 0


async def test_bad_records_are_dead_lettered_and_the_rest_indexed(settings: Settings) -> None:
    ensure_topics(settings)
    good = _scored(10)
    _produce(settings, [good[0].to_bytes(), b"{not json", *[r.to_bytes() for r in good[1:]]])
    sink = mentions_sink(settings.es_url, settings.mentions_index)
    runner = SinkRunner(settings, topics.SCORED, sink, ScoredMention.from_bytes, stage="index")
    await sink.start()
    try:
        await _drain(runner, 11)
        httpx.post(f"{settings.es_url}/{settings.mentions_index}/_refresh")
        count = httpx.get(f"{settings.es_url}/{settings.mentions_index}/_count").json()["count"]
        assert count == 10
        letters = _dead_letters(settings)
        assert [(d["stage"], d["payload"]) for d in letters] == [("index", "{not json")]
        assert "not a valid record for index" in letters[0]["reason"]
        assert letters[0]["source_topic"] == settings.topic(topics.SCORED)
    finally:
        await sink.close()
        httpx.delete(f"{settings.es_url}/{settings.mentions_index}")
