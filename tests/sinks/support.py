"""Real local servers for alert-channel tests: an HTTP server that records each POST and
answers as scripted, and an SMTP handler (aiosmtpd) that keeps the mail it accepts."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core import outbound


@dataclass
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Scripted:
    """Answers each POST with the next scripted Answer (the last one repeats; 200 "ok" if none)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.posted: list[Posted] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                scripted.posted.append(Posted(self.path, dict(self.headers), body))
                answers = scripted.answers
                answer = (
                    (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else Answer()
                )
                payload = answer.body.encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Inbox:
    """An aiosmtpd handler that keeps what it accepts; `rcpt` / `data` override its answers."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rcpt: str | None = None
        self.data: str | None = None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt:
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data:
            return self.data
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_name() -> str:
    """This machine's host name, which resolves to a loopback or private address: a route to
    it passes config load (it is a name) and must be refused at send time. Skips the test on a
    machine whose name resolves to a public address."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if not all(outbound.refusal(str(address)) for address in addresses):
        pytest.skip(f"this machine's name {name!r} resolves to a public address")
    return name
