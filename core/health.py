"""The small HTTP server every process runs: /metrics, /healthz and /readyz.

/healthz says the process is alive; /readyz asks the process's own readiness check (for
example "Kafka and Elasticsearch answer") so an orchestrator routes work only to ready ones.
A stage that is retrying (the broker restarting, Elasticsearch read-only) says so with
`waiting`, and is not ready until `recovered`: /readyz then answers 503 with what it waits for.
/metrics carries the same answer as `sada_ready`, so a dashboard sees it without probing.

It listens on loopback unless told otherwise (SADA_METRICS_HOST: 0.0.0.0 in a pod, where
Prometheus and the kubelet come from outside).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core import metrics

ReadyCheck = Callable[[], bool]

_WAITING: dict[str, str] = {}  # who (a stage) -> what it is waiting for


def waiting(who: str, why: str) -> None:
    """`who` cannot make progress until `why` clears; the process is not ready meanwhile."""
    _WAITING[who] = why


def recovered(who: str) -> None:
    _WAITING.pop(who, None)


def waits() -> dict[str, str]:
    """What each waiting stage waits for (empty: nothing is stuck)."""
    return dict(_WAITING)


def serve(port: int, ready: ReadyCheck, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the server on a daemon thread and return it (port 0 picks a free port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/metrics":
                metrics.READY.set(readiness(ready)[0])
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"ok\n")
            elif self.path == "/readyz":
                ok, why = readiness(ready)
                self._reply(200 if ok else 503, b"ready\n" if ok else f"not ready\n{why}".encode())
            else:
                self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _reply(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # probes every few seconds would drown the logs

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="sada-health").start()
    return server


def readiness(ready: ReadyCheck) -> tuple[bool, str]:
    """Whether the process is ready: no stage waits and its own check passes; and what the
    waiting stages wait for."""
    stuck = waits()
    why = "".join(f"{who}: {what}\n" for who, what in stuck.items())
    return not stuck and _safe(ready), why


def _safe(check: ReadyCheck) -> bool:
    try:
        return check()
    except Exception:  # a failing check means "not ready", never a crashed probe
        return False
