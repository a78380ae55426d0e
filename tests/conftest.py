"""Session-wide fixtures: the real local Kafka and Elasticsearch, started if not running.

Integration tests each get their own namespace (topics, indices, consumer groups), so they never
read each other's records and can run against services a developer already has up.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from core import connect
from core.config import Settings
from core.topics import Topic
from sada import SAMPLE_CONFIG
from tests.secure_stack import secure_settings  # noqa: F401  (a session fixture)


@pytest.fixture(scope="session")
def local_services() -> Iterator[Settings]:
    from sada import services

    settings = Settings.from_env({k: v for k, v in os.environ.items() if k != "SADA_NAMESPACE"})
    started = not (services.kafka_reachable(settings) and services.es_reachable(settings))
    if started:
        services.up(settings)
    yield settings
    if started and os.environ.get("SADA_KEEP_SERVICES") != "1":
        services.down(settings)


@pytest.fixture
def settings(local_services: Settings) -> Iterator[Settings]:
    """Settings with a namespace of the test's own, whose topics and indices go afterwards."""
    from sada.retention import delete_indices
    from sada.topics import delete_namespace

    namespace = f"t{uuid.uuid4().hex[:10]}"
    yield local_services.model_copy(update={"namespace": namespace})
    for own in (namespace, f"{namespace}-demo"):  # the demo works in `<namespace>-demo`
        leftover = local_services.model_copy(update={"namespace": own})
        delete_namespace(leftover)
        delete_indices(leftover)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"local_services", "secure_settings"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def eventually(
    check: Callable[[], bool],
    *,
    timeout: float = 120.0,
    what: str = "condition",
    state: Callable[[], object] | None = None,
) -> None:
    """Poll `check` until it holds; fail naming `what` (and `state()`, if given, to show where
    things stood) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    where = f"; {state()}" if state else ""
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{where}")


@contextlib.contextmanager
def pipeline_workers(
    settings: Settings, log_dir: Path, *, split: bool = False, metrics: list[str] | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processors and sinks as real processes (`python -m sada process|sinks`); with
    `split`, the processors' score and detect stages each in a process of its own. Given a
    `metrics` list, each serves /metrics on a free port and its URL is added to the list."""
    from sada.workers import processor_stages, spawn, stop
    from tests.ports import free_port

    settings = settings.model_copy(update={"cache_dir": log_dir / "cache"})

    def start(stage: str, *options: str) -> subprocess.Popen[bytes]:
        port = 0 if metrics is None else free_port()
        if metrics is not None:
            metrics.append(f"http://127.0.0.1:{port}/metrics")
        return spawn(stage, settings.model_copy(update={"metrics_port": port}), log_dir, *options)

    procs = [start("process", "--stage", s) for s in processor_stages(split)]
    procs.append(start("sinks"))
    try:
        yield procs
    finally:
        stop(procs)


def config_with_webhook(url: str, path: Path) -> Path:
    """The sample clients file with every alert route pointed at `url` (a local receiver, so
    `allow_private`), written to `path`."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    for client in data["clients"]:
        for route in client["routes"].values():
            route.update(url=url, allow_private=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def read_topic(
    settings: Settings, topic: Topic, *, wait_seconds: float = 3.0
) -> list[ConsumerRecord]:
    """Every record on `topic` from its start, once nothing new came for `wait_seconds`."""
    consumer = KafkaConsumer(
        settings.topic(topic),
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(wait_seconds * 1000),
    )
    try:
        return list(consumer)
    finally:
        consumer.close()
