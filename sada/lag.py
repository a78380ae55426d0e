"""Consumer lag as a metric: each consuming worker reports its own groups' lag per partition.

The lag is the end offset of a partition minus its group's committed offset, as `sada.topics.lag`
measures it, asked of the brokers every few seconds on a thread of its own, so the Faust
workers and the sink runners need no hook: one way for every stage. A worker of a group
reports all of the group's partitions (another worker's too); dashboards take the max by
(group, topic, partition). A refresh that fails (a broker away) is counted and logged, and the
gauges keep their last values until the next one succeeds.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError

from core import connect, metrics
from core.config import Settings
from sada.topics import consumed, partition_lags

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


def export(settings: Settings, stage: str) -> threading.Thread:
    """Keep `sada_consumer_lag` current for the groups of `stage` (see `sada.topics.consumed`)
    on a daemon thread; returns it."""
    thread = threading.Thread(target=_refresh_forever, args=(settings, stage), daemon=True)
    thread.name = f"sada-lag-{stage}"
    thread.start()
    return thread


def refresh(
    admin: KafkaAdminClient, consumer: KafkaConsumer, settings: Settings, stage: str
) -> None:
    """Set the gauge of every partition the stage's groups read, once."""
    for group, topic in consumed(settings, stage):
        name = settings.topic(topic)
        for partition, lag in partition_lags(admin, consumer, group, name).items():
            metrics.CONSUMER_LAG.labels(group, name, str(partition)).set(lag)


def _refresh_forever(settings: Settings, stage: str) -> None:
    clients: tuple[KafkaAdminClient, KafkaConsumer] | None = None
    while True:
        try:
            if clients is None:
                clients = (
                    KafkaAdminClient(**connect.kafka_python(settings)),
                    KafkaConsumer(**connect.kafka_python(settings), enable_auto_commit=False),
                )
            refresh(*clients, settings, stage)
        except (KafkaError, OSError) as exc:  # any of Kafka's: a metric never stops a worker
            metrics.ERRORS.labels("lag", type(exc).__name__).inc()
            log.warning("consumer lag of %s not measured (%s); trying again", stage, exc)
            if clients is not None:
                for client in clients:
                    client.close()
                clients = None
        time.sleep(REFRESH_SECONDS)
