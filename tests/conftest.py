"""Session-wide fixtures: the real local Kafka and Elasticsearch, started if not running.

Integration tests each get their own namespace (topics, indices, consumer groups), so they never
read each other's records and can run against services a developer already has up.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.config import Settings


@pytest.fixture(scope="session")
def local_services() -> Iterator[Settings]:
    from sada import services

    settings = Settings.from_env({k: v for k, v in os.environ.items() if k != "SADA_NAMESPACE"})
    started = not (
        services.kafka_reachable(settings.kafka_bootstrap) and services.es_reachable(settings.es_url)
    )
    if started:
        services.up(settings)
    yield settings
    if started and os.environ.get("SADA_KEEP_SERVICES") != "1":
        services.down(settings)


@pytest.fixture
def settings(local_services: Settings) -> Settings:
    """Settings with a namespace of the test's own."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    return local_services.model_copy(update={"namespace": namespace})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "local_services" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def eventually(check: Callable[[], bool], *, timeout: float = 120.0, what: str = "condition") -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@contextlib.contextmanager
def pipeline_workers(settings: Settings, log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processors and sinks as real processes (`python -m sada process|sinks`)."""
    env = {
        **os.environ,
        "SADA_NAMESPACE": settings.namespace,
        "SADA_CONFIG": str(settings.config_path),
        "SADA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SADA_ES_URL": settings.es_url,
        "SADA_CACHE_DIR": str(log_dir / "cache"),
    }
    procs = []
    for stage in ("process", "sinks"):
        log = (log_dir / f"{stage}.log").open("ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "sada", stage], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
