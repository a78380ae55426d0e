"""The chaos suite's own Kafka broker and Elasticsearch node, on free ports and a cache directory
of their own: faults are done to these, never to the services a developer (or the rest of the
test session) uses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from core.config import Settings
from tests.ports import free_port


@pytest.fixture(scope="session")
def chaos_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from sada import services

    settings = Settings.from_env(
        {
            **{k: v for k, v in os.environ.items() if k != "SADA_NAMESPACE"},
            "SADA_CACHE_DIR": str(tmp_path_factory.mktemp("chaos-cache")),
            "SADA_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port(1)}",
            "SADA_ES_URL": f"http://127.0.0.1:{free_port(100)}",
        }
    )
    services.up(settings)
    try:
        yield settings
    finally:
        services.down(settings)
