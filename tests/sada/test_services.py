"""Local services on ports and a cache directory of a test's own (never the shared ones)."""

from __future__ import annotations

import threading
from pathlib import Path

from core import health
from core.config import Settings
from sada import services
from tests.conftest import eventually
from tests.own_kafka import own_kafka


def test_a_stage_waits_for_a_broker_that_is_not_up_yet(settings: Settings, tmp_path: Path) -> None:
    with own_kafka(settings, tmp_path / "cache") as own:
        assert services.stop_kafka(own)
        assert not services.kafka_reachable(own)
        waiting = threading.Thread(target=services.wait_until_reachable, args=(own,), daemon=True)
        waiting.start()
        eventually(lambda: "services" in health.waits(), timeout=30, what="not ready")
        assert f"Kafka is not reachable at {own.kafka_bootstrap}" in health.waits()["services"]
        assert waiting.is_alive()
        services.start_kafka(own)  # the same data directory: a restart, not a new broker
        waiting.join(timeout=60)
        assert not waiting.is_alive()
        assert "services" not in health.waits()
