"""Feed one topic into one sink: consume, parse, write, and only then commit the offsets.

A record that does not parse, or that the sink refuses for good, goes to the dead-letter topic
with the reason. RetryLater retries the same batch with exponential backoff (honouring the
server's hint), so nothing is dropped while Elasticsearch or a webhook is away.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from pydantic import ValidationError

from core import metrics
from core.config import Settings
from core.errors import RetryLater
from core.events import dead_letter
from core.topics import DEADLETTER, Topic
from sinks.base import Sink

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


def backoff_seconds(attempt: int, hint: float | None = None, base: float = 0.5) -> float:
    """Exponential backoff with full jitter, never shorter than the server's own hint."""
    delay = random.uniform(0, min(MAX_BACKOFF_SECONDS, base * 2**attempt))
    return max(delay, hint or 0.0)


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
        self._topic = settings.topic(topic)
        self._deadletter = settings.topic(DEADLETTER)
        self._consumer = KafkaConsumer(
            self._topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.group(stage),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
        )
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self._retrying(self._sink.start)
        try:
            while not self._stopping.is_set():
                await self.step()
        finally:
            await self._sink.close()
            self._consumer.close()
            self._producer.flush()
            self._producer.close()

    async def step(self, timeout_ms: int = 500) -> int:
        """One poll -> write -> commit round; returns how many records it handled."""
        polled = await asyncio.to_thread(
            self._consumer.poll, timeout_ms=timeout_ms, max_records=self._batch_size
        )
        raw = [message.value for messages in polled.values() for message in messages]
        if not raw:
            return 0
        metrics.RECEIVED.labels(self.stage).inc(len(raw))
        batch = []
        for value in raw:
            try:
                batch.append(self._parse(value))
            except ValidationError as exc:
                self._reject(f"not a valid record for {self.stage}: {exc}", value)
        if batch:
            refused = await self._retrying(lambda: self._sink.write(batch))
            for record, reason in refused:
                self._reject(reason, record.to_bytes())
            metrics.SENT.labels(self.stage).inc(len(batch) - len(refused))
        self._producer.flush()  # dead letters are durable before their offsets are committed
        await asyncio.to_thread(self._consumer.commit)
        return len(raw)

    def _reject(self, reason: str, payload: bytes) -> None:
        metrics.DEADLETTERED.labels(self.stage).inc()
        log.warning("%s dead-lettered a record: %s", self.stage, reason[:500])
        record = dead_letter(self.stage, reason, payload, self._topic)
        self._producer.send(self._deadletter, value=record.to_bytes())

    async def _retrying(self, action: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return await action()
            except RetryLater as exc:
                delay = backoff_seconds(attempt, exc.after_seconds)
                metrics.ERRORS.labels(self.stage, "retry_later").inc()
                log.warning("%s: %s; retrying in %.1fs", self.stage, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
