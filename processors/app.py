"""The Faust app: thin agents that loop, call the pure steps, and forward.

raw mentions --score_mentions--> scored mentions --detect_spikes--> alerts
Any record a step cannot process goes to the dead-letter topic with the reason; the stream goes on.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from pydantic import ValidationError

from core import metrics, topics
from core.config import SadaConfig, Settings
from core.events import Mention, ScoredMention, dead_letter
from processors import detect
from processors.dedupe import Deduper
from processors.detect_state import BrandState
from processors.match import build_matcher
from processors.pipeline import process

log = logging.getLogger(__name__)


def _raw_topic(app: faust.App, name: str, partitions: int) -> Any:
    """Bytes in and out: parsing is ours, so a bad record is dead-lettered, not skipped by Faust."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )


def create_app(settings: Settings, config: SadaConfig) -> faust.App:
    """Build the processor app for one deployment (namespace) and one clients file."""
    datadir = settings.cache_dir / "faust" / settings.namespace
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.group("processors"),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        topic_partitions=topics.SCORED.partitions,
        topic_allow_declare=True,
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
    )
    raw = _raw_topic(app, settings.topic(topics.RAW), topics.RAW.partitions)
    scored = _raw_topic(app, settings.topic(topics.SCORED), topics.SCORED.partitions)
    alerts = _raw_topic(app, settings.topic(topics.ALERTS), topics.ALERTS.partitions)
    deadletter = _raw_topic(app, settings.topic(topics.DEADLETTER), topics.DEADLETTER.partitions)
    detector_state = app.Table(
        "detector-state",
        default=dict,
        partitions=topics.SCORED.partitions,
    )  # no key/value types: plain JSON, since Faust would try to rebuild a `dict` as a model
    matcher = build_matcher(config)
    detector = detect.Detector(config.detection)
    deduper = Deduper()  # per worker: near-duplicates across partitions are linked only
    # when one worker owns them (see README, Operations)

    async def reject(stage: str, reason: str, payload: bytes, topic: str) -> None:
        metrics.DEADLETTERED.labels(stage).inc()
        log.warning("dead-lettered a record from %s: %s", topic, reason)
        await deadletter.send(value=dead_letter(stage, reason, payload, topic).to_bytes())

    @app.agent(raw, concurrency=1)
    async def score_mentions(stream: Any) -> None:
        async for payload in stream:
            metrics.RECEIVED.labels("score").inc()
            try:
                mention = Mention.from_bytes(payload)
            except ValidationError as exc:
                await reject("score", f"not a valid Mention: {exc}", payload, raw.get_topic_name())
                continue
            try:
                records = process(mention, matcher, deduper)
            except Exception as exc:  # one bad record must not stop the stream
                log.exception("scoring failed for %s", mention.uid)
                await reject("score", f"scoring failed: {exc!r}", payload, raw.get_topic_name())
                continue
            for record in records:
                await scored.send(key=record.key.encode(), value=record.to_bytes())
                metrics.SENT.labels("score").inc()

    @app.agent(scored, concurrency=1)
    async def detect_spikes(stream: Any) -> None:
        async for payload in stream:
            metrics.RECEIVED.labels("detect").inc()
            try:
                record = ScoredMention.from_bytes(payload)
            except ValidationError as exc:
                topic = scored.get_topic_name()
                await reject("detect", f"not a valid ScoredMention: {exc}", payload, topic)
                continue
            try:
                state = BrandState.from_dict(detector_state[record.key])
                transitions = detector.add(state, detect.observation(record))
            except Exception as exc:  # one bad record must not stop the stream
                log.exception("detection failed for %s", record.mention.uid)
                await reject("detect", f"detection failed: {exc!r}", payload, scored.get_topic_name())
                continue
            detector_state[record.key] = state.to_dict()
            for status, alert in transitions:
                metrics.ALERTS.labels(alert.kind).inc()
                log.info("alert %s %s: %s", status, alert.id, alert.explanation)
                await alerts.send(key=alert.key.encode(), value=alert.to_bytes())

    return app
