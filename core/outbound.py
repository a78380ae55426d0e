"""Where Sada may send: the outbound address policy.

A route or a source URL may not reach loopback, private (RFC 1918, ULA), link-local,
cloud-metadata, unspecified, multicast or reserved addresses, unless its config says
`allow_private: true` (a receiver on the same machine or network, on purpose). Otherwise a
clients file could make Sada read a cloud's instance credentials, or POST into a database on
localhost.

Two checks, one rule (`refusal`):
- at config load, literal addresses and names that are always local (`localhost`,
  `metadata.google.internal`) are refused with an explanation (`host_refusal`);
- at send time every address a host resolves to is checked, and the connection goes to the
  address that was checked, so a second DNS answer cannot swap it (DNS rebinding). httpx
  clients made by `client()` do this on every request, each redirect hop included; SMTP uses
  `connect`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from core.errors import Refused

ALLOW_PRIVATE = "sada.allow_private"  # request extension: this request may reach private addresses

POLICY = (
    "Sada refuses private, loopback, link-local and cloud-metadata addresses unless the {owner} "
    "says allow_private: true"
)

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

Resolver = Callable[[str, int], Awaitable[list[str]]]


def refusal(address: str) -> str | None:
    """Why this IP address is forbidden ('a private address'), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: the zone aside
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.5 is 10.0.0.5
    if ip in METADATA_ADDRESSES:
        return "a cloud-metadata address"
    for test, what in (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    ):
        if test:
            return what
    return None


def host_refusal(host: str) -> str | None:
    """Why a host as written in a config is forbidden, without DNS: a literal address, or a
    name that always means this machine or a cloud's metadata service. Other names are checked
    when they are resolved, at send time."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "this machine (loopback)"
    if name in METADATA_HOSTS:
        return "a cloud-metadata name"
    try:
        return refusal(name)
    except ValueError:
        pass
    try:  # the old numeric forms a resolver also takes: 2130706433, 0x7f.1, 127.1
        return refusal(socket.inet_ntoa(socket.inet_aton(name)))
    except OSError:
        return None


def explain(host: str, reason: str, owner: str = "route") -> str:
    """'10.0.0.5 is a private address; Sada refuses ... unless the route says allow_private: true'"""
    return f"{host} is {reason}; {POLICY.format(owner=owner)}"


def url_problems(urls: Iterable[str], owner: str) -> list[str]:
    """Config-time refusals of these URLs (see `host_refusal`), explained."""
    problems = []
    for url in urls:
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL:
            continue  # the field's own validation says what is wrong with it
        reason = host_refusal(host) if host else None
        if reason:
            problems.append(explain(host, reason, owner))
    return problems


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked(host: str, addresses: list[str], exempt: frozenset[str]) -> list[str]:
    """`addresses` if the policy allows every one (`exempt` ones always pass), else Refused."""
    for address in addresses:
        reason = None if address in exempt else refusal(address)
        if reason:
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise Refused(f"{shown} is {reason}; {POLICY.format(owner='route or source')}")
    return addresses


class _CheckingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to resolved addresses the policy allows
    (TLS still names the host, and the pool still keys connections by host)."""

    def __init__(self, resolver: Resolver, exempt: frozenset[str]) -> None:
        self._resolver, self._exempt = resolver, exempt
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self._resolver(host, port), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in _checked(host, addresses, self._exempt):
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class Transport(httpx.AsyncBaseTransport):
    """Sends a request through the checking backend, or, when the request carries the
    `ALLOW_PRIVATE` extension (see `allow`), through a plain one. httpx follows redirects
    above the transport and copies the extensions, so every hop is checked the same way."""

    def __init__(self, resolver: Resolver = resolve, exempt: frozenset[str] = frozenset()) -> None:
        self._open = httpx.AsyncHTTPTransport(trust_env=False)
        self._checked = httpx.AsyncHTTPTransport(trust_env=False)
        # httpx takes no network backend; its pool is replaced by one with the checking backend
        self._checked._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_CheckingBackend(resolver, exempt),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chosen = self._open if request.extensions.get(ALLOW_PRIVATE) else self._checked
        return await chosen.handle_async_request(request)

    async def aclose(self) -> None:
        await self._open.aclose()
        await self._checked.aclose()


def client(
    *, resolver: Resolver = resolve, exempt: frozenset[str] = frozenset(), **kwargs: Any
) -> httpx.AsyncClient:
    """An httpx client that applies the policy to every request. `resolver` and `exempt`
    (addresses treated as public) let a test stand a local server in for a public host.
    Proxies from the environment are not used: through a proxy, the policy could not see
    where a request goes."""
    return httpx.AsyncClient(transport=Transport(resolver, exempt), trust_env=False, **kwargs)


def allow(allow_private: bool) -> dict[str, Any]:
    """Request extensions for a route or source: `client.post(..., extensions=allow(flag))`."""
    return {ALLOW_PRIVATE: allow_private}


async def pinned(url: str, allow_private: bool, resolver: Resolver = resolve) -> dict[str, Any]:
    """Connection arguments (asyncio `create_connection`'s, which `websockets.connect` passes
    on) that send a socket to a checked address of the URL's host: TLS still names the host.
    None are needed when the source says allow_private."""
    if allow_private:
        return {}
    parts = httpx.URL(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return {"host": _checked(parts.host, await resolver(parts.host, port), frozenset())[0]}


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection (blocking, for smtplib) to an address of `host` the policy allows."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = _checked(host, list(dict.fromkeys(str(info[4][0]) for info in infos)), frozenset())
    error: OSError = OSError(f"{host} resolves to no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error
