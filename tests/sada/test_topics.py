"""Admin helpers against a broker started for the very first time (its own ports and cache
directory): they wait while it creates and loads its offsets topic, instead of failing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from core import connect, topics
from core.config import Settings
from core.errors import ConfigError
from sada.topics import (
    backlog,
    changelog_name,
    delete_namespace,
    end_offsets,
    ensure_topics,
    lag,
    lags,
)
from tests.own_kafka import own_kafka


def test_a_broker_started_for_the_first_time_is_waited_for(
    settings: Settings, tmp_path: Path
) -> None:
    with own_kafka(settings, tmp_path / "cache") as fresh:
        started = time.monotonic()
        assert set(ensure_topics(fresh)) == {fresh.topic(t) for t in topics.ALL} | {
            changelog_name(fresh, c) for c in topics.CHANGELOGS
        }
        # The first group look-up makes the broker create its offsets topic: until it has
        # loaded, the coordinator is "not available" (what crashed the first `make demo`).
        assert lag(fresh, fresh.processor_group("all"), topics.RAW) == 0
        assert backlog(fresh) == 0
        print(f"coordinator ready {time.monotonic() - started:.1f}s after the broker started")
        producer = KafkaProducer(**connect.kafka_python(fresh))
        for n in range(5):
            producer.send(fresh.topic(topics.RAW), value=b"{}", key=str(n).encode())
        producer.flush()
        producer.close()
        assert end_offsets(fresh, topics.RAW) == 5
        assert lags(fresh)[f"{fresh.processor_group('all')} on {fresh.topic(topics.RAW)}"] == 5
        delete_namespace(fresh)
        assert ensure_topics(fresh) != []  # all gone, so made again


def test_the_detector_changelogs_are_made_with_faust_s_own_settings(settings: Settings) -> None:
    """A detect worker killed in its first seconds must not leave them half-made."""
    ensure_topics(settings)
    admin = KafkaAdminClient(**connect.kafka_python(settings))
    try:
        for changelog in topics.CHANGELOGS:
            name = changelog_name(settings, changelog)
            (described,) = admin.describe_topics([name])
            assert len(described["partitions"]) == topics.SCORED.partitions
            resource = ConfigResource(ConfigResourceType.TOPIC, name)
            values = admin.describe_configs([resource])["topic"][name]
            assert {k: values[k]["value"] for k, _ in changelog.config} == dict(changelog.config)
    finally:
        admin.close()


def test_topics_follow_the_settings_topology(settings: Settings) -> None:
    laid_out = settings.model_copy(
        update={
            "kafka_partitions": {"mentions.raw": 6, "mentions.scored": 2},
            "kafka_min_insync_replicas": {"*": 1},
        }
    )
    ensure_topics(laid_out)
    admin = KafkaAdminClient(**connect.kafka_python(laid_out))
    try:
        names = [laid_out.topic(topics.RAW), changelog_name(laid_out, topics.DETECTOR_STATE)]
        raw, changelog = admin.describe_topics(names)
        assert len(raw["partitions"]) == 6
        assert len(changelog["partitions"]) == 2  # the changelogs follow mentions.scored
        resource = ConfigResource(ConfigResourceType.TOPIC, names[0])
        values = admin.describe_configs([resource])["topic"][names[0]]
        assert values["min.insync.replicas"]["value"] == "1"
    finally:
        admin.close()


def test_more_copies_than_brokers_is_a_clear_error_not_a_hang(settings: Settings) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"\(1 broker\(s\)\): .*wants replication factor 3"):
        ensure_topics(settings.model_copy(update={"kafka_replication_factor": {"*": 3}}))
    assert time.monotonic() - started < 10


def test_an_existing_topic_laid_out_otherwise_is_named_with_both_layouts(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    changed = settings.model_copy(update={"kafka_partitions": {"alerts": 8}})
    with pytest.raises(ConfigError, match=r"\.alerts has 4 partitions, the settings say 8"):
        ensure_topics(changed)
