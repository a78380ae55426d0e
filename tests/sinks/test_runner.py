"""The sink runner against the real Kafka and Elasticsearch: commit after write, dead letters,
a broker restart in the middle of a batch, the dead-letter circuit breaker."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from core import connect, health, topics
from core.config import Settings
from core.errors import Fatal, RetryLater
from core.events import ScoredMention
from sada import services
from sada.topics import ensure_topics, lag
from sinks.elasticsearch import ElasticsearchSink, mentions_sink
from sinks.runner import SinkRunner, by_bytes
from tests.conftest import read_topic
from tests.own_kafka import own_kafka
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
    producer = KafkaProducer(**connect.kafka_python(settings))
    for value in values:
        producer.send(settings.topic(topics.SCORED), value=value)
    producer.flush()
    producer.close()


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
    sink = mentions_sink(settings)
    runner = SinkRunner(settings, topics.SCORED, sink, ScoredMention.from_bytes, stage="index")
    await sink.start()
    try:
        await _drain(runner, 11)
        httpx.post(f"{settings.es_url}/{settings.mentions_index}/_refresh")
        count = httpx.get(f"{settings.es_url}/{settings.mentions_index}/_count").json()["count"]
        assert count == 10
        letters = [json.loads(m.value) for m in read_topic(settings, topics.DEADLETTER)]
        assert [(d["stage"], d["payload"]) for d in letters] == [("index", "{not json")]
        assert "not a valid record for index" in letters[0]["reason"]
        assert letters[0]["source_topic"] == settings.topic(topics.SCORED)
    finally:
        await sink.close()


class GatedSink:
    """The real Elasticsearch sink, holding a write until the test opens the gate, and counting
    how often each mention was written."""

    def __init__(self, inner: ElasticsearchSink[ScoredMention]) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.written: Counter[str] = Counter()

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def check(self) -> bool:
        return await self.inner.check()

    async def write(self, batch: Sequence[ScoredMention]) -> list[tuple[ScoredMention, str]]:
        self.entered.set()
        await self.gate.wait()
        refused = await self.inner.write(batch)
        self.written.update(record.mention.uid for record in batch)
        return refused


async def _eventually(check: Callable[[], bool], what: str, timeout: float = 90.0) -> float:
    """Seconds until `check()` (run in a thread: it may block) holds; fails after `timeout`."""
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def test_the_runner_rides_out_a_broker_restart_in_the_middle_of_a_batch(
    settings: Settings, tmp_path: Path
) -> None:
    """The broker stops while a batch is being written, so the dead letter and the commit
    meet a dead broker; 15 s later it is back. Nothing lost, nothing written twice."""
    with own_kafka(settings, tmp_path / "cache") as own:
        await asyncio.to_thread(ensure_topics, own)
        records = _scored(200)
        first, second = records[:100], records[100:]
        sink = GatedSink(mentions_sink(own))
        runner = SinkRunner(own, topics.SCORED, sink, ScoredMention.from_bytes, stage="index")
        group = own.group("index")
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.to_thread(_produce, own, [b"{not json", *(r.to_bytes() for r in first)])
            await asyncio.wait_for(sink.entered.wait(), 60)
            await asyncio.to_thread(services.stop_kafka, own)
            stopped = time.monotonic()
            sink.gate.set()
            await _eventually(lambda: "index" in health.waits(), "the runner to say not ready")
            await asyncio.sleep(15 - (time.monotonic() - stopped))
            assert not task.done()
            await asyncio.to_thread(services.start_kafka, own)
            restarted = time.monotonic()
            await asyncio.to_thread(_produce, own, [r.to_bytes() for r in second])
            await _eventually(
                lambda: sum(sink.written.values()) >= 200 and lag(own, group, topics.SCORED) == 0,
                "every record written and committed",
            )
            print(f"caught up {time.monotonic() - restarted:.1f}s after the broker came back")
            assert not task.done()
            assert "index" not in health.waits()
            assert sink.written == Counter(r.mention.uid for r in records)  # each exactly once
            httpx.post(f"{own.es_url}/{own.mentions_index}/_refresh")
            count = httpx.get(f"{own.es_url}/{own.mentions_index}/_count").json()["count"]
            assert count == 200
            letters = read_topic(own, topics.DEADLETTER)
            assert [json.loads(m.value)["payload"] for m in letters] == ["{not json"]
        finally:
            runner.stop()
            await asyncio.wait_for(task, 60)


async def test_a_stream_of_mostly_bad_records_stops_the_runner_uncommitted(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    strict = settings.model_copy(update={"deadletter_max_share": 0.5})
    _produce(strict, [r.to_bytes() for r in _scored(20)] + [b"{not json"] * 200)
    runner = SinkRunner(
        strict, topics.SCORED, FlakySink(), ScoredMention.from_bytes, stage="breaker"
    )
    with pytest.raises(Fatal, match="breaker: .* records were dead-lettered"):
        await _drain(runner, 220)
    assert lag(strict, strict.group("breaker"), topics.SCORED) == 220  # read again after a fix


async def test_a_read_only_index_is_waited_out_and_nothing_is_dead_lettered(
    settings: Settings,
) -> None:
    """The flood-stage disk watermark makes an index read-only (429 cluster_block_exception on
    every document): the runner waits, not ready, and indexes everything once it is lifted."""
    ensure_topics(settings)
    index = f"{settings.es_url}/{settings.mentions_index}"
    sink = mentions_sink(settings)
    await sink.start()
    records = _scored(40)
    assert await sink.write(records[:1]) == []  # the month's index, to block
    block = {"index.blocks.read_only_allow_delete": True}
    assert httpx.put(f"{index}/_settings", json=block).status_code == 200
    _produce(settings, [r.to_bytes() for r in records])
    runner = SinkRunner(settings, topics.SCORED, sink, ScoredMention.from_bytes, stage="ro")
    task = asyncio.create_task(runner.run())
    try:
        await _eventually(lambda: "read-only" in health.waits().get("ro", ""), "not ready")
        await asyncio.sleep(3)
        assert not task.done()
        lifted = {"index.blocks.read_only_allow_delete": None}
        assert httpx.put(f"{index}/_settings", json=lifted).status_code == 200
        await _eventually(
            lambda: lag(settings, settings.group("ro"), topics.SCORED) == 0, "caught up", 60
        )
        httpx.post(f"{index}/_refresh")
        assert httpx.get(f"{index}/_count").json()["count"] == 40
        assert read_topic(settings, topics.DEADLETTER) == []
        assert "ro" not in health.waits()
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)


def test_a_write_is_cut_by_bytes_in_order_and_a_large_record_goes_alone() -> None:
    sized = [("a", 4), ("b", 4), ("c", 3), ("d", 12), ("e", 1), ("f", 9)]
    assert by_bytes(sized, 10) == [["a", "b"], ["c"], ["d"], ["e", "f"]]
    assert by_bytes([], 10) == []
    assert by_bytes(sized, 100) == [["a", "b", "c", "d", "e", "f"]]
