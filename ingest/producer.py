"""Where a source's output goes: Kafka (the real thing) or stdout (`--dry-run`).

Mentions are keyed by uid so a mention's copies land on one partition; items a source could not
parse go to the dead-letter topic with the reason, never dropped.
"""

from __future__ import annotations

import json
import sys
from typing import Protocol, TextIO

from kafka import KafkaProducer

from core import metrics, topics
from core.config import Settings
from core.errors import Rejected
from core.events import Mention, dead_letter


class Emitter(Protocol):
    def mention(self, source: str, mention: Mention) -> None: ...
    def rejected(self, source: str, item: Rejected) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def create_producer(settings: Settings) -> KafkaProducer:
    """Durable and ordered (acks=all, idempotence), batched for throughput."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=512 * 1024,
        max_in_flight_requests_per_connection=5,
        client_id=f"{settings.namespace}-ingest",
    )


class KafkaEmitter:
    def __init__(self, settings: Settings, producer: KafkaProducer | None = None) -> None:
        self._producer = producer or create_producer(settings)
        self._raw = settings.topic(topics.RAW)
        self._deadletter = settings.topic(topics.DEADLETTER)

    def mention(self, source: str, mention: Mention) -> None:
        self._producer.send(self._raw, key=mention.uid.encode(), value=mention.to_bytes())
        metrics.SENT.labels(f"ingest:{source}").inc()

    def rejected(self, source: str, item: Rejected) -> None:
        record = dead_letter(f"ingest:{source}", item.reason, item.payload)
        self._producer.send(self._deadletter, value=record.to_bytes())
        metrics.DEADLETTERED.labels(f"ingest:{source}").inc()

    def flush(self) -> None:
        """Block until Kafka acknowledged everything sent: only then may a cursor move past it."""
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


class PrintEmitter:
    """`--dry-run`: one JSON object per line, mentions and rejects alike, for trying a config."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout  # looked up now: tests and tools swap sys.stdout

    def mention(self, source: str, mention: Mention) -> None:
        self._out.write(mention.model_dump_json() + "\n")

    def rejected(self, source: str, item: Rejected) -> None:
        self._out.write(json.dumps({"rejected": item.reason, "source": source}, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.flush()
