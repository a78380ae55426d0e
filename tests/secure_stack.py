"""The secured local Kafka (SASL_SSL, SCRAM-SHA-512) and Elasticsearch (HTTPS, file-realm
users) of `sada services up --secure`, on free ports with a cache directory of the session's
own: tests that need credentials use these, never the plain shared services."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

from core.config import Settings
from core.errors import ServiceError
from tests.ports import free_port


@pytest.fixture(scope="session")
def secure_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings with every credential set (Sada's SCRAM user and CA for Kafka, Sada's user and
    CA for Elasticsearch); `services.secured(settings, es_admin=True)` gives the same as the
    `elastic` superuser. The session shares them: a test that writes topics or indices copies
    them with a namespace of its own (`model_copy(update={"namespace": ...})`)."""
    from sada import services

    base = Settings.from_env(
        {
            **{k: v for k, v in os.environ.items() if not k.startswith("SADA_")},
            "SADA_CACHE_DIR": str(tmp_path_factory.mktemp("secure-cache")),
        }
    )
    kafka_port, es_port = free_port(1), free_port(100)
    try:
        yield services.up_secure(base, kafka_port=kafka_port, es_port=es_port)
    finally:  # whatever started, even if the other did not
        with contextlib.suppress(ServiceError):  # no files made: nothing was started
            stack = services.secured(base, kafka_port=kafka_port, es_port=es_port)
            services.down(stack)
            shutil.rmtree(services.Paths.for_settings(stack).es_node, ignore_errors=True)
