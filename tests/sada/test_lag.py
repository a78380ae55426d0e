"""Consumer lag exported per group and partition, measured on the real local Kafka."""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from core import connect, topics
from core.config import Settings
from sada.lag import refresh
from sada.topics import consumed, ensure_topics, lags


def test_each_worker_names_the_groups_it_reads_and_lags_adds_them_up(settings: Settings) -> None:
    ns = settings.namespace
    assert consumed(settings, "all") == [
        (f"{ns}-processors", topics.RAW),
        (f"{ns}-processors", topics.SCORED),
    ]
    assert consumed(settings, "score") == [(f"{ns}-processors-score", topics.RAW)]
    assert consumed(settings, "detect") == [(f"{ns}-processors", topics.SCORED)]
    assert [group for group, _ in consumed(settings, "sinks")] == [
        f"{ns}-index-mentions",
        f"{ns}-index-alerts",
        f"{ns}-notify",
        f"{ns}-remove-mentions",
    ]


def test_the_lag_of_each_partition_of_a_stage_s_groups_is_a_gauge(settings: Settings) -> None:
    ensure_topics(settings)
    raw = settings.topic(topics.RAW)
    producer = KafkaProducer(**connect.kafka_python(settings))
    for n in range(6):
        producer.send(raw, value=b"{}", partition=n % 2)
    producer.flush()
    producer.close()
    group = settings.processor_group("score")
    committer = KafkaConsumer(**connect.kafka_python(settings), group_id=group)
    committer.commit({TopicPartition(raw, 0): OffsetAndMetadata(2, "", -1)})  # 1 of 3 left
    committer.close()

    admin = KafkaAdminClient(**connect.kafka_python(settings))
    consumer = KafkaConsumer(**connect.kafka_python(settings), enable_auto_commit=False)
    try:
        refresh(admin, consumer, settings, "score")
    finally:
        consumer.close()
        admin.close()

    def gauge(partition: int) -> float | None:
        labels = {"group": group, "topic": raw, "partition": str(partition)}
        return REGISTRY.get_sample_value("sada_consumer_lag", labels)

    assert [gauge(p) for p in range(settings.partitions(topics.RAW))] == [1, 3] + [0] * (
        settings.partitions(topics.RAW) - 2
    )
    assert lags(settings, split=True)[f"{group} on {raw}"] == 4  # the same measure, summed
