"""A Kafka broker of a test's own, on free ports with a cache directory of its own, to stop and
start at will: the broker the rest of the session shares is never touched."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from core.config import Settings


def _free_pair() -> int:
    """A free port p whose p + 1 (the KRaft controller's) is free too."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free neighbouring ports on 127.0.0.1")


@contextlib.contextmanager
def own_kafka(base: Settings, cache_dir: Path) -> Iterator[Settings]:
    """`base` pointed at a new broker (first start: it formats its storage) in `cache_dir`,
    stopped at the end."""
    from sada import services

    settings = base.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{_free_pair()}", "cache_dir": cache_dir}
    )
    services.start_kafka(settings)
    try:
        yield settings
    finally:
        services.stop_kafka(settings)
