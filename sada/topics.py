"""Create Sada's topics with explicit partition counts, and measure how far consumers lag.

Each helper waits out a broker that is starting or restarting (a first start loads, or
creates, its offsets topic: the group coordinator is "not available" for a while) by retrying
transient errors for up to `core.retry.ADMIN_DEADLINE_SECONDS`, then fails naming what it did.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from core import connect, topics
from core.config import Settings
from core.errors import ConfigError
from core.retry import until_deadline


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing topic with the settings' topology; return the names created.

    Existing topics are left alone, but checked: a partition count or replication factor that
    differs from the settings, or a replication factor above the brokers the cluster has, is a
    ConfigError saying what differs (not a hang, and not a silent second layout)."""
    return until_deadline(
        lambda: _ensure_topics(settings), what=f"creating topics at {settings.kafka_bootstrap}"
    )


def wanted_topics(settings: Settings) -> list[NewTopic]:
    """Every topic of the namespace as the settings lay it out (changelogs as mentions.scored,
    whose keys they share)."""
    scored = settings.partitions(topics.SCORED)
    layout: list[tuple[str, int, str, dict[str, str]]] = [
        (settings.topic(t), settings.partitions(t), t.suffix, dict(t.config)) for t in topics.ALL
    ] + [
        (changelog_name(settings, c), scored, "changelogs", dict(c.config))
        for c in topics.CHANGELOGS
    ]
    return [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=settings.replication_factor(kind),
            topic_configs=configs | _min_insync(settings, kind),
        )
        for name, partitions, kind, configs in layout
    ]


def _min_insync(settings: Settings, kind: str) -> dict[str, str]:
    isr = settings.min_insync_replicas(kind)
    return {} if isr is None else {"min.insync.replicas": str(isr)}


def _ensure_topics(settings: Settings) -> list[str]:
    admin = KafkaAdminClient(**connect.kafka_python(settings))
    try:
        wanted = wanted_topics(settings)
        brokers = len(admin.describe_cluster()["brokers"])
        existing = {
            t["name"]: t
            for t in admin.describe_topics([t.name for t in wanted])
            if t["error_code"] == 0
        }
        problems = [
            f"{t.name} wants replication factor {t.replication_factor}"
            for t in wanted
            if t.name not in existing and t.replication_factor > brokers
        ] + [
            problem
            for t in wanted
            if t.name in existing
            for problem in _differs(t, existing[t.name])
        ]
        if problems:
            raise ConfigError(
                f"Kafka at {settings.kafka_bootstrap} ({brokers} broker(s)): "
                + "; ".join(problems)
                + ". Set SADA_KAFKA_PARTITIONS / SADA_KAFKA_REPLICATION_FACTOR to match the "
                "cluster, or move the topics (kafka-reassign-partitions) or use a new "
                "SADA_NAMESPACE"
            )
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        admin.close()


def _differs(wanted: NewTopic, existing: dict[str, Any]) -> list[str]:
    partitions = existing["partitions"]
    copies = {len(p["replica_nodes"]) for p in partitions}
    problems = []
    if len(partitions) != wanted.num_partitions:
        problems.append(
            f"{wanted.name} has {len(partitions)} partitions, the settings say "
            f"{wanted.num_partitions}"
        )
    if copies != {wanted.replication_factor}:
        found = "/".join(str(c) for c in sorted(copies))
        problems.append(
            f"{wanted.name} has replication factor {found}, the settings say "
            f"{wanted.replication_factor}"
        )
    return problems


def changelog_name(settings: Settings, changelog: topics.Changelog) -> str:
    return f"{settings.processor_group('detect')}-{changelog.table}-changelog"


def end_offsets(settings: Settings, topic: topics.Topic) -> int:
    """Records ever written to a topic (sum of its partitions' end offsets)."""
    return until_deadline(
        lambda: _end_offsets(settings, topic), what=f"end offsets of {settings.topic(topic)}"
    )


def _end_offsets(settings: Settings, topic: topics.Topic) -> int:
    name = settings.topic(topic)
    consumer = KafkaConsumer(
        **connect.kafka_python(settings), group_id=None, enable_auto_commit=False
    )
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def lag(settings: Settings, group: str, topic: topics.Topic) -> int:
    """Records in `topic` that consumer group `group` has not committed yet."""
    return until_deadline(
        lambda: _lag(settings, group, topic), what=f"lag of {group} on {settings.topic(topic)}"
    )


def _lag(settings: Settings, group: str, topic: topics.Topic) -> int:
    admin = KafkaAdminClient(**connect.kafka_python(settings))
    consumer = KafkaConsumer(**connect.kafka_python(settings), enable_auto_commit=False)
    try:
        return sum(partition_lags(admin, consumer, group, settings.topic(topic)).values())
    finally:
        consumer.close()
        admin.close()


def partition_lags(
    admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, topic: str
) -> dict[int, int]:
    """Records of each partition of `topic` that `group` has not committed yet (`consumer`:
    any consumer, for the end offsets)."""
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    ends = consumer.end_offsets(parts)
    committed = admin.list_group_offsets({group: parts}).get(group, {})
    done = {tp: max(meta.offset, 0) for tp, meta in committed.items()}
    return {tp.partition: end - done.get(tp, 0) for tp, end in ends.items()}


SINK_STAGES = (  # sada/workers.py's runners: each a consumer group of its own
    ("index-mentions", topics.SCORED),
    ("index-alerts", topics.ALERTS),
    ("notify", topics.ALERTS),
    ("remove-mentions", topics.REMOVALS),
)


def consumed(settings: Settings, stage: str) -> list[tuple[str, topics.Topic]]:
    """The consumer groups of a worker, with the topic each reads: `sada process --stage`
    all, score or detect, or "sinks" (`sada sinks`)."""
    if stage == "sinks":
        return [(settings.group(name), topic) for name, topic in SINK_STAGES]
    reads = {"all": [topics.RAW, topics.SCORED], "score": [topics.RAW], "detect": [topics.SCORED]}
    return [(settings.processor_group(stage), topic) for topic in reads[stage]]


def lags(settings: Settings, *, split: bool = False) -> dict[str, int]:
    """Records each stage has not committed yet, by consumer group and topic.

    `split`: the processors run as separate score and detect workers (`sada process --stage`).
    """
    stages = ["score", "detect"] if split else ["all"]
    return {
        f"{group} on {settings.topic(topic)}": lag(settings, group, topic)
        for stage in [*stages, "sinks"]
        for group, topic in consumed(settings, stage)
    }


def backlog(settings: Settings, *, split: bool = False) -> int:
    """Records some stage has not finished yet: zero when the whole pipeline has caught up."""
    return sum(lags(settings, split=split).values())


def delete_namespace(settings: Settings, timeout_seconds: float = 60.0) -> None:
    """Delete every topic of the namespace (Faust's changelogs too) and wait until they are gone.

    Only the demo does this, on its own `*-demo` namespace, so each demo starts from nothing.
    """
    until_deadline(
        lambda: _delete_namespace(settings, timeout_seconds),
        what=f"deleting the topics of {settings.namespace}",
    )


def _delete_namespace(settings: Settings, timeout_seconds: float) -> None:
    prefixes = (f"{settings.namespace}.", f"{settings.namespace}-")
    admin = KafkaAdminClient(**connect.kafka_python(settings))
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(prefixes)]
        if doomed:
            admin.delete_topics(doomed)
        deadline = time.monotonic() + timeout_seconds
        while set(doomed) & set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka did not delete {doomed} within {timeout_seconds:.0f}s")
            time.sleep(0.5)
    finally:
        admin.close()
