"""Admin helpers against a broker started for the very first time (its own ports and cache
directory): they wait while it creates and loads its offsets topic, instead of failing."""

from __future__ import annotations

import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from core import connect, topics
from core.config import Settings
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
