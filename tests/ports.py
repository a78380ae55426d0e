"""Free loopback ports for services a test starts itself."""

from __future__ import annotations

import socket


def free_port(*offsets: int) -> int:
    """A port p such that p + each offset is free too (Kafka's controller listens on p + 1,
    Elasticsearch's transport on p + 100)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + max(offsets, default=0) < 65000 and all(_is_free(port + o) for o in offsets):
            return port
    raise RuntimeError("no free group of ports on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
