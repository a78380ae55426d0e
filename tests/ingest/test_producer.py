"""The Kafka emitter on real brokers: it waits out a broker restart without losing or
repeating a record, and stops a source whose items are mostly dead-lettered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from core import connect, health, topics
from core.config import Settings
from core.errors import DeliveryError, Fatal, Rejected
from ingest import synthetic
from ingest.producer import KafkaEmitter
from sada import services
from sada.topics import ensure_topics
from tests.conftest import eventually, read_topic
from tests.own_kafka import own_kafka


def test_a_flush_waits_out_a_broker_restart_and_nothing_is_lost_or_repeated(
    settings: Settings, tmp_path: Path
) -> None:
    mentions = list(synthetic.generate(synthetic.Config(count=200, spike_minutes=0)))
    with own_kafka(settings, tmp_path / "cache") as own:
        ensure_topics(own)
        emitter = KafkaEmitter(own)
        for mention in mentions[:100]:
            emitter.mention("synthetic", mention)
        emitter.flush()
        services.stop_kafka(own)
        stopped = time.monotonic()
        for mention in mentions[100:]:
            emitter.mention("synthetic", mention)  # queued while the broker is away
        flushing = threading.Thread(target=emitter.flush, daemon=True)
        flushing.start()
        eventually(lambda: "ingest" in health.waits(), timeout=30, what="ingest not ready")
        time.sleep(max(0.0, 12 - (time.monotonic() - stopped)))
        assert flushing.is_alive()  # still waiting, not failed
        services.start_kafka(own)
        flushing.join(timeout=60)
        assert not flushing.is_alive()
        assert "ingest" not in health.waits()
        keys = [m.key for m in read_topic(own, topics.RAW)]
        assert sorted(keys) == sorted(m.uid.encode() for m in mentions)  # each exactly once


def test_a_source_whose_items_mostly_fail_stops_ingest(settings: Settings) -> None:
    ensure_topics(settings)
    emitter = KafkaEmitter(settings.model_copy(update={"deadletter_max_share": 0.5}))
    for mention in synthetic.generate(synthetic.Config(count=20, spike_minutes=0)):
        emitter.mention("rss", mention)
    bad = Rejected(payload="<html>maintenance</html>", reason="rss: not a feed")
    for _ in range(50):
        emitter.rejected("gdelt", bad)  # another source's: not counted against rss
    with pytest.raises(Fatal, match=r"ingest:rss: \d+ of the last \d+ records"):
        for _ in range(200):
            emitter.rejected("rss", bad)
    emitter.flush()


def test_a_record_the_broker_refuses_fails_the_flush_with_the_reason(settings: Settings) -> None:
    ensure_topics(settings)
    raw = ConfigResource(ConfigResource.Type.TOPIC, settings.topic(topics.RAW))
    entry = ConfigEntry("max.message.bytes", "1000", incremental_operation=AlterConfigOpType.SET)
    raw.add_incremental_config(entry)
    admin = AdminClient(connect.confluent(settings))  # kept: the answer needs it alive
    admin.incremental_alter_configs([raw])[raw].result()
    mention = next(iter(synthetic.generate(synthetic.Config(count=1, spike_minutes=0))))
    emitter = KafkaEmitter(settings)
    emitter.mention("synthetic", mention.model_copy(update={"text": "x" * 2000}))
    with pytest.raises(DeliveryError, match=r"refused 1 records: .*mentions.raw: .*too large"):
        emitter.flush()
