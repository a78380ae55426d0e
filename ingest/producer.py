"""Where a source's output goes: Kafka (the real thing) or stdout (`--dry-run`).

Mentions are keyed by uid so a mention's copies land on one partition; items a source could not
parse go to the dead-letter topic with the reason, never dropped, unless most of a source's
recent items are (core/breaker.py): then ingest stops with an error rather than dead-letter all.
A broker that is away (restarting, still starting) is waited for: librdkafka keeps the records
and retries them until they are acknowledged, and a flush waits with the stage not ready.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import NamedTuple, Protocol, TextIO

from confluent_kafka import KafkaError, Message, Producer
from prometheus_client import Counter

from core import connect, health, metrics, topics
from core.breaker import DeadLetterBreaker
from core.config import Settings
from core.errors import DeliveryError, Rejected
from core.events import RECORD_MAX_BYTES, Mention, Removal, dead_letter


class Emitter(Protocol):
    def mention(self, source: str, mention: Mention) -> None: ...
    def rejected(self, source: str, item: Rejected) -> None: ...
    def removal(self, source: str, removal: Removal) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


log = logging.getLogger(__name__)
Delivered = Callable[[KafkaError | None, Message], None]

STAGE = "ingest"
FLUSH_WAIT_SECONDS = 5.0  # how often a waiting flush says (and logs) what it waits for


def create_producer(settings: Settings, on_delivery: Delivered | None = None) -> Producer:
    """Durable and ordered (acks=all, idempotence), batched for throughput; `on_delivery` hears
    of every record that failed (one callback for all, not one per record).

    The ingest path produces with librdkafka (confluent-kafka): kafka-python's pure-Python
    producer tops out near 10,000 records/s per core, librdkafka's near 200,000 — the
    difference between meeting and missing the 20,000 mentions/s a core must ingest.
    """
    return Producer(
        {
            **connect.confluent(settings),
            "client.id": f"{settings.namespace}-ingest",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "message.timeout.ms": 0,  # a broker away for minutes delays records, never fails them
            "delivery.report.only.error": True,  # a Python callback only for a failed record
            **({"on_delivery": on_delivery} if on_delivery else {}),
        }
    )


class _Tally(NamedTuple):
    """A source's counters, looked up once: a metric's labels cost more than its increment."""

    sent: Counter
    deadlettered: Counter
    breaker: DeadLetterBreaker


class KafkaEmitter:
    def __init__(self, settings: Settings) -> None:
        self._producer = create_producer(settings, on_delivery=self._delivered)
        self._bootstrap = settings.kafka_bootstrap
        self._max_share = settings.deadletter_max_share
        self._tallies: dict[str, _Tally] = {}  # per source: one broken source trips
        self._raw = settings.topic(topics.RAW)
        self._deadletter = settings.topic(topics.DEADLETTER)
        self._removals = settings.topic(topics.REMOVALS)
        self._failures: list[str] = []
        self._sent = 0

    def mention(self, source: str, mention: Mention) -> None:
        value = mention.to_bytes()
        if len(value) > RECORD_MAX_BYTES:  # Kafka would refuse it: dead-letter it, go on
            reason = f"record of {len(value)} bytes exceeds the {RECORD_MAX_BYTES}-byte limit"
            self.rejected(source, Rejected(payload=value.decode(), reason=reason))
            return
        self._send(self._raw, value, mention.uid.encode())
        tally = self._tally(source)
        tally.sent.inc()
        tally.breaker.accepted()

    def removal(self, source: str, removal: Removal) -> None:
        self._send(self._removals, removal.to_bytes(), removal.uid.encode())
        self._tally(source).sent.inc()

    def rejected(self, source: str, item: Rejected) -> None:
        """Dead-letter an item; raises Fatal when most of the source's recent items were."""
        record = dead_letter(f"ingest:{source}", item.reason, item.payload)
        self._send(self._deadletter, record.to_bytes(), None)
        tally = self._tally(source)
        tally.deadlettered.inc()
        tally.breaker.rejected(item.reason)

    def _tally(self, source: str) -> _Tally:
        if source not in self._tallies:
            stage = f"ingest:{source}"
            self._tallies[source] = _Tally(
                metrics.SENT.labels(stage),
                metrics.DEADLETTERED.labels(stage),
                DeadLetterBreaker(stage, self._max_share),
            )
        return self._tallies[source]

    def _send(self, topic: str, value: bytes, key: bytes | None) -> None:
        full = False
        while True:
            try:
                self._producer.produce(topic, value, key)
                break
            except BufferError:  # the local queue is full: wait for the broker (backpressure)
                if not full:
                    full = True
                    health.waiting(
                        STAGE, f"send queue full: Kafka at {self._bootstrap} is slow or away"
                    )
                self._producer.poll(0.05)
        if full:
            health.recovered(STAGE)
        self._sent += 1
        if self._sent % 1000 == 0:
            self._producer.poll(0)  # run delivery callbacks

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")

    def flush(self) -> None:
        """Block until Kafka acknowledged everything sent: only then may a cursor move past it.
        A broker that is away is waited for, however long, the stage not ready meanwhile."""
        waited = 0.0
        while left := self._producer.flush(FLUSH_WAIT_SECONDS):
            waited += FLUSH_WAIT_SECONDS
            why = f"Kafka at {self._bootstrap} has not acknowledged {left} records in {waited:.0f}s"
            health.waiting(STAGE, why)
            log.warning("%s; waiting", why)
        health.recovered(STAGE)
        failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError(f"Kafka refused {len(failures)} records: {'; '.join(failures[:5])}")

    def close(self) -> None:
        self.flush()


class PrintEmitter:
    """`--dry-run`: one JSON object per line, mentions and rejects alike, for trying a config."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout  # looked up now: tests and tools swap sys.stdout

    def mention(self, source: str, mention: Mention) -> None:
        self._out.write(mention.model_dump_json() + "\n")

    def removal(self, source: str, removal: Removal) -> None:
        self._out.write(removal.model_dump_json() + "\n")

    def rejected(self, source: str, item: Rejected) -> None:
        self._out.write(
            json.dumps({"rejected": item.reason, "source": source}, ensure_ascii=False) + "\n"
        )

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.flush()
