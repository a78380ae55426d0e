"""The outbound address policy: the rule, the config-time check, and the send-time check on a
real local HTTP server (a test resolver stands in for DNS; `exempt` lets the local server play
a public host, so a redirect from it to a private address is a real second hop)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from core import outbound
from core.config import load_config
from core.errors import ConfigError, Refused


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a cloud-metadata address"),
        ("fd00:ec2::254", "a cloud-metadata address"),
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("169.254.10.1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_local_private_and_metadata_addresses_are_refused(address: str, reason: str) -> None:
    assert outbound.refusal(address) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert outbound.refusal(address) is None


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "api.localhost",
        "LOCALHOST.",
        "[::1]",
        "metadata.google.internal",
        "2130706433",
        "0x7f.1",
        "10.0.0.5",
    ],
)
def test_hosts_that_are_always_local_are_refused_without_dns(host: str) -> None:
    assert outbound.host_refusal(host) is not None


def test_names_are_left_to_send_time() -> None:
    assert outbound.host_refusal("hooks.slack.com") is None


def test_config_check_explains_each_refused_route(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text(
        """
clients:
  - id: northwind
    name: Northwind
    routes:
      ops: {url: "http://10.0.0.5/hook"}
      meta: {url: "http://169.254.169.254/latest/meta-data/"}
      es: {url: "http://localhost:9200/_delete_by_query"}
      redis: {url: "http://[::1]:6379/"}
      tg: {type: telegram, bot_token: "1:x", chat_id: "1", api_url: "http://192.168.1.1"}
      mail: {type: email, host: 127.0.0.1, sender: a@b.example, to: [c@d.example]}
      lab: {url: "http://10.0.0.6/hook", allow_private: true}
    brands: [{id: skyline-air, name: Skyline Air, include: [skyline]}]
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert (
        "route northwind/ops: 10.0.0.5 is a private address; Sada refuses private, loopback, "
        "link-local and cloud-metadata addresses unless the route says allow_private: true"
    ) in message
    assert "route northwind/meta: 169.254.169.254 is a cloud-metadata address" in message
    assert "route northwind/es: localhost is this machine (loopback)" in message
    assert "route northwind/redis: [::1] is a loopback address" in message
    assert "route northwind/tg: 192.168.1.1 is a private address" in message
    assert "route northwind/mail: 127.0.0.1 is a loopback address" in message
    assert "northwind/lab" not in message


class _Server:
    """A real local HTTP server: /redirect answers 307 to `location`, anything else 200."""

    def __init__(self, location: str = "") -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                server.paths.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                redirect = self.path == "/redirect"
                self.send_response(307 if redirect else 200)
                if redirect:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _dns(names: dict[str, str]) -> outbound.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return [names[host]]

    return resolve


async def test_a_name_resolving_to_a_private_address_is_refused_at_send_time() -> None:
    server = _Server()
    try:
        async with outbound.client(resolver=_dns({"hooks.example": "127.0.0.1"})) as client:
            with pytest.raises(Refused, match="hooks.example resolves to 127.0.0.1"):
                await client.post(f"http://hooks.example:{server.port}/hook")
            allowed = await client.post(  # a route that says allow_private
                f"http://127.0.0.1:{server.port}/hook", extensions=outbound.allow(True)
            )
    finally:
        server.close()
    assert allowed.status_code == 200
    assert server.paths == ["/hook"]  # only the allowed request arrived


async def test_every_redirect_hop_is_checked() -> None:
    inside = _Server()
    public = _Server(location=f"http://internal.example:{inside.port}/steal")
    names = {"public.example": "127.0.0.1", "internal.example": "127.0.0.2"}
    try:
        async with outbound.client(
            resolver=_dns(names), exempt=frozenset({"127.0.0.1"}), follow_redirects=True
        ) as client:
            assert (await client.post(f"http://public.example:{public.port}/ok")).status_code == 200
            with pytest.raises(Refused, match="internal.example resolves to 127.0.0.2"):
                await client.post(f"http://public.example:{public.port}/redirect")
    finally:
        public.close()
        inside.close()
    assert public.paths == ["/ok", "/redirect"]
    assert inside.paths == []


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """A resolver answering a public address first and a private one later (DNS rebinding)
    cannot make the checked request connect to the private one: every connection resolves,
    checks and connects in one step."""
    server = _Server()
    answers = iter(["127.0.0.1", "10.0.0.5"])

    async def rebinding(host: str, port: int) -> list[str]:
        return [next(answers)]

    try:
        async with outbound.client(resolver=rebinding, exempt=frozenset({"127.0.0.1"})) as client:
            first = await client.post(
                f"http://rebind.example:{server.port}/a", headers={"Connection": "close"}
            )
            with pytest.raises(Refused, match="10.0.0.5, which is a private address"):
                await client.post(f"http://rebind.example:{server.port}/b")
    finally:
        server.close()
    assert first.status_code == 200 and server.paths == ["/a"]


async def test_a_websocket_is_pinned_to_a_checked_address() -> None:
    resolver = _dns({"jetstream.example": "151.101.1.1", "evil.example": "169.254.169.254"})
    assert await outbound.pinned("wss://jetstream.example/subscribe", False, resolver) == {
        "host": "151.101.1.1"
    }
    assert await outbound.pinned("wss://evil.example/subscribe", True, resolver) == {}
    with pytest.raises(Refused, match="cloud-metadata"):
        await outbound.pinned("wss://evil.example/subscribe", False, resolver)


def test_smtp_connections_are_checked() -> None:
    with pytest.raises(Refused, match="127.0.0.1 is a loopback address"):
        outbound.connect("127.0.0.1", 25, 1.0)
