"""The detect agent on the real local Kafka: a competitor's crisis is counted and indexed, never
alerted on (the same stream with skyline-air a brand raises one incident: tests/sada/test_demo.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import yaml

from core import connect, topics
from core.config import Settings
from ingest import synthetic
from ingest.producer import KafkaEmitter
from ingest.runner import Job, run
from sada import SAMPLE_CONFIG
from sada.topics import backlog, ensure_topics
from tests.conftest import eventually, pipeline_workers, read_topic


def test_a_competitors_crisis_raises_no_alert(settings: Settings, tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    northwind = next(c for c in data["clients"] if c["id"] == "northwind")
    skyline = next(b for b in northwind["brands"] if b["id"] == "skyline-air")
    skyline.update(competitor=True, routes=[])  # the planted crisis is now a competitor's
    config = tmp_path / "clients.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings = settings.model_copy(update={"config_path": config})
    stream = synthetic.Config(count=800, start=datetime(2026, 1, 1, 10, tzinfo=UTC))
    crisis = sum(
        1
        for m, brand in synthetic.generate_labelled(stream)
        if brand == "skyline-air" and m.text in synthetic.CRISIS
    )
    ensure_topics(settings)
    with pipeline_workers(settings, tmp_path):
        job = Job("synthetic", synthetic.SOURCE, stream)
        asyncio.run(run([job], KafkaEmitter(settings), once=True))

        def crisis_indexed() -> bool:
            with connect.elasticsearch(settings) as es:
                es.options(ignore_status=404).indices.refresh(index=settings.mentions_index)
                query = {"term": {"brand_key": "northwind/skyline-air"}}
                found = es.options(ignore_status=404).count(
                    index=settings.mentions_index, query=query
                )
            return found.body.get("count", 0) > crisis and backlog(settings) == 0

        eventually(crisis_indexed, what="the competitor's mentions indexed, every stage drained")
    assert read_topic(settings, topics.ALERTS) == []
