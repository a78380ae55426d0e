"""Feed one topic into one sink: consume, parse, write, and only then commit the offsets.

A record that does not parse, or that the sink refuses for good, goes to the dead-letter topic
with the reason. Every step that talks to Kafka or the sink (connect, poll, write, the
dead-letter flush, the commit) is retried with backoff (core.retry) while it fails transiently
(a broker restarting, Elasticsearch away or read-only), and the stage says not-ready on /readyz
meanwhile: nothing is dropped and the runner resumes by itself. Only `Fatal` ends it (a mapping
clash, refused credentials, a window of mostly dead letters), with a message that says what to do.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaTimeoutError, RebalanceInProgressError
from kafka.producer.future import FutureRecordMetadata
from pydantic import ValidationError

from core import connect, health, metrics
from core.breaker import DeadLetterBreaker
from core.config import Settings
from core.events import dead_letter
from core.retry import backoff_seconds, transient
from core.topics import DEADLETTER, Topic
from sinks.base import Sink

log = logging.getLogger(__name__)

T = TypeVar("T")
KAFKA_TIMEOUT_SECONDS = 10.0  # one flush or commit; then the retry loop takes over
MAX_BACKOFF_SECONDS = 10.0  # back within seconds of the broker or Elasticsearch returning
BULK_MAX_BYTES = 5_000_000  # a write (one bulk request) at most: Elastic advises 5-15 MB
RECONNECT_MAX_MS = 2000  # kafka-python's own reconnect backoff grows to 30 s otherwise


class _Stopped(Exception):
    """stop() was called while a step was waiting to retry."""


class _KeepPositions(ConsumerRebalanceListener):
    """After the group is joined again (the broker restarted, a commit failed), a partition
    resumes after the records this runner already wrote, not at the last committed offset:
    they are committed later instead of being written (and alerts delivered) twice."""

    def __init__(self, runner: SinkRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        return

    def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.runner._consumer
        for tp in assigned:
            if tp in self.runner._written and consumer is not None:
                consumer.seek(tp, self.runner._written[tp])


def by_bytes(sized: Sequence[tuple[T, int]], limit: int) -> list[list[T]]:
    """The items of `sized` (item, bytes on the wire) in order, cut into runs of at most
    `limit` bytes: 500 records of 50,000-character posts would make a request near 100 MB,
    Elasticsearch's limit, and slow for it well before. An item larger than `limit` goes alone."""
    runs: list[list[T]] = []
    size = 0
    for item, length in sized:
        if not runs or size + length > limit:
            runs.append([])
            size = 0
        runs[-1].append(item)
        size += length
    return runs


class SinkRunner:
    def __init__(
        self,
        settings: Settings,
        topic: Topic,
        sink: Sink[Any],
        parse: Callable[[bytes], Any],
        *,
        stage: str,
        batch_size: int = 500,
    ) -> None:
        self.stage, self._sink, self._parse, self._batch_size = stage, sink, parse, batch_size
        self._settings = settings
        self._topic = settings.topic(topic)
        self._deadletter = settings.topic(DEADLETTER)
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._letters: list[tuple[bytes, FutureRecordMetadata | None]] = []  # not yet acked
        self._written: dict[TopicPartition, int] = {}  # next offset, written but not committed
        self._breaker = DeadLetterBreaker(stage, settings.deadletter_max_share)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            await self._retrying(self._sink.start, "starting the sink")
            while not self._stopping.is_set():
                await self.step()
        except _Stopped:
            pass
        finally:
            health.recovered(self.stage)
            await self._sink.close()
            if self._consumer is not None:
                self._consumer.close()
            if self._producer is not None:
                self._producer.close(timeout=5)

    async def step(self, timeout_ms: int = 500) -> int:
        """One poll -> write -> commit round; returns how many records it handled."""
        consumer = await self._retrying(self._connect, "connecting to Kafka")
        polled = await self._retrying(
            lambda: asyncio.to_thread(
                consumer.poll, timeout_ms=timeout_ms, max_records=self._batch_size
            ),
            "polling Kafka",
        )
        messages = [message for batch in polled.values() for message in batch]
        if not messages and not self._written:
            return 0
        metrics.RECEIVED.labels(self.stage).inc(len(messages))
        sized, letters = [], []
        for message in messages:
            try:
                sized.append((self._parse(message.value), len(message.value)))
            except ValidationError as exc:
                letters.append((f"not a valid record for {self.stage}: {exc}", message.value))
        for batch in by_bytes(sized, BULK_MAX_BYTES):
            refused = await self._retrying(functools.partial(self._sink.write, batch), "writing")
            letters += [(reason, record.to_bytes()) for record, reason in refused]
            metrics.SENT.labels(self.stage).inc(len(batch) - len(refused))
            self._breaker.accepted(len(batch) - len(refused))
        for reason, payload in letters:
            self._reject(reason, payload)
        for message in messages:
            self._written[TopicPartition(message.topic, message.partition)] = message.offset + 1
        # dead letters are durable before their offsets are committed
        await self._retrying(lambda: asyncio.to_thread(self._send_letters), "dead-lettering")
        await self._retrying(lambda: asyncio.to_thread(self._commit), "committing offsets")
        return len(messages)

    def _reject(self, reason: str, payload: bytes) -> None:
        """Queue a dead letter (sent before the commit); stop if most records end up here."""
        metrics.DEADLETTERED.labels(self.stage).inc()
        log.warning("%s dead-lettered a record: %s", self.stage, reason[:500])
        record = dead_letter(self.stage, reason, payload, self._topic)
        self._letters.append((record.to_bytes(), None))
        self._breaker.rejected(reason)

    async def _connect(self) -> KafkaConsumer:
        """The consumer (and the dead-letter producer), created once Kafka answers."""
        if self._consumer is None:
            self._consumer = await asyncio.to_thread(self._new_consumer)
        if self._producer is None:
            self._producer = await asyncio.to_thread(
                KafkaProducer,
                **connect.kafka_python(self._settings),
                acks="all",
                enable_idempotence=True,
                max_block_ms=int(KAFKA_TIMEOUT_SECONDS * 1000),
                reconnect_backoff_max_ms=RECONNECT_MAX_MS,
            )
        return self._consumer

    def _new_consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **connect.kafka_python(self._settings),
            group_id=self._settings.group(self.stage),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
            reconnect_backoff_max_ms=RECONNECT_MAX_MS,
        )
        consumer.subscribe([self._topic], listener=_KeepPositions(self))
        return consumer

    def _send_letters(self) -> None:
        """Send the dead letters not acknowledged yet and wait for them. One whose send failed
        is sent again; one still in flight is not (that would be a copy)."""
        assert self._producer is not None
        pending = []
        for value, sent in self._letters:
            if sent is None or sent.failed():
                sent = self._producer.send(self._deadletter, value=value)
            pending.append((value, sent))
        self._producer.flush(timeout=KAFKA_TIMEOUT_SECONDS)
        self._letters = [(value, sent) for value, sent in pending if not sent.succeeded()]
        if self._letters:
            raise KafkaTimeoutError(f"Kafka has not acknowledged {len(self._letters)} dead letters")

    def _commit(self) -> None:
        """Commit what was written. Out of the group (the broker restarted), the commit waits
        for the next poll to join again; the listener keeps the positions meanwhile."""
        assert self._consumer is not None
        try:
            self._consumer.commit(timeout_ms=int(KAFKA_TIMEOUT_SECONDS * 1000))
        except (CommitFailedError, RebalanceInProgressError) as exc:
            log.warning("%s: commit postponed until the group is joined again: %s", self.stage, exc)
            return
        self._written.clear()

    async def _retrying(self, action: Callable[[], Awaitable[T]], what: str) -> T:
        """`action()`, tried again with backoff while it fails transiently; the stage is not
        ready meanwhile. Anything else (Fatal included) propagates."""
        attempt = 0
        while True:
            try:
                result = await action()
            except Exception as exc:
                if not transient(exc):
                    raise
                attempt += 1
                delay = backoff_seconds(
                    attempt, maximum=MAX_BACKOFF_SECONDS, hint=getattr(exc, "after_seconds", None)
                )
                health.waiting(self.stage, f"{what}: {exc}")
                metrics.ERRORS.labels(self.stage, type(exc).__name__).inc()
                log.warning("%s: %s failed (%s); retrying in %.1fs", self.stage, what, exc, delay)
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay)
                except TimeoutError:
                    continue
                raise _Stopped from exc
            if attempt:
                health.recovered(self.stage)
                log.info("%s: %s works again after %d retries", self.stage, what, attempt)
            return result
