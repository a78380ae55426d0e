"""Politeness every HTTP source shares, so no source re-implements (or forgets) it.

- one request at a time per host, spaced by that host's rate limit, shared by every source in
  the process (two sources polling one host share its budget);
- a timeout on every call;
- 429, 5xx, timeouts and dropped connections retried with exponential backoff and full jitter,
  waiting at least what the server asked for (`Retry-After`, or the source's own reset header
  once its remaining budget is spent) — the reset header may be epoch seconds, an ISO time or
  seconds remaining, and `core.retry.retry_after` tells them apart;
- errors translated at the boundary: `RetryLater` when retrying did not help (the caller tries
  again on its next poll), `SourceError` when retrying never will (401, 403, 404, or an address
  the outbound policy refuses), both with a message naming the source, the URL (redacted) and
  what to do;
- the outbound address policy (core/outbound.py) on every request and redirect hop, unless the
  source says `allow_private: true` (`SourceConfig`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core import outbound
from core.errors import Refused, RetryLater, SourceError
from core.metrics import ERRORS
from core.redact import redact
from core.retry import backoff_seconds, retry_after

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

USER_AGENT = "sada-ingest (brand monitoring)"  # for hosts that want to know who is calling

_RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
_HINTS = {
    401: "the server wants credentials: set the source's token, or drop this target",
    403: "the server refuses this client: check the token's scopes and the user agent",
    404: "nothing at this address: check the URL, instance or query in the config",
    410: "the resource is gone: remove it from the config",
}


class SourceConfig(BaseModel):
    """Base of a source's Config that names URLs to fetch (`URL_FIELDS`: fields holding a URL
    or a list of them): refuses local and private ones at config load, and carries the
    exemption the source passes to `Polite`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    URL_FIELDS: ClassVar[tuple[str, ...]] = ()

    allow_private: bool = Field(
        default=False,
        description="May fetch from loopback, private, link-local and cloud-metadata addresses "
        "(a server on this machine or network); refused otherwise (docs/security.md).",
    )

    @model_validator(mode="after")
    def _public_urls(self) -> Self:
        if self.allow_private:
            return self
        urls: list[str] = []
        for name in self.URL_FIELDS:
            value = getattr(self, name)
            urls += value if isinstance(value, list) else [value] if value else []
        problems = outbound.url_problems(urls, owner="source")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class HttpPolicy(BaseModel):
    """How politely a source talks to a host; every HTTP source's Config embeds one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_second_per_host: float = Field(
        default=1.0, gt=0, description="Most requests per second sent to one host."
    )
    timeout_seconds: float = Field(default=20.0, gt=0, description="Timeout of each request.")
    max_attempts: int = Field(
        default=5, ge=1, description="Tries per request before giving up until the next poll."
    )
    backoff_initial_seconds: float = Field(
        default=1.0, gt=0, description="Backoff before the second try; doubles each try."
    )
    backoff_max_seconds: float = Field(default=120.0, gt=0, description="Longest backoff.")
    max_wait_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Longest server-requested wait honoured in place; longer ones end the "
        "poll with RetryLater so the runner can schedule the source later.",
    )


class _Host:
    """Spacing and server-imposed pauses for one host."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.next_at = 0.0


_HOSTS: dict[tuple[int, str], _Host] = {}  # by event loop and host: locks belong to a loop


def _host(host: str) -> _Host:
    return _HOSTS.setdefault((id(asyncio.get_running_loop()), host), _Host())


class Polite:
    """An httpx client wrapped with the politeness above, for one source.

    `reset_header` names the source's rate-limit reset header (read when the matching
    `remaining_header` reaches 0, or on a 429 without Retry-After). `allow_private` is the
    source's exemption from the outbound address policy (the client must be an
    `outbound.client()` for the policy to apply). `sleep`, `rand` and `clock` are injectable so
    tests run the real retry logic with scaled-down waits.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: HttpPolicy,
        *,
        source: str,
        reset_header: str | None = None,
        remaining_header: str | None = None,
        allow_private: bool = False,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.policy = policy
        self.source = source
        self.reset_header = reset_header
        self.remaining_header = remaining_header
        self.allow_private = allow_private
        self.sleep = sleep
        self.rand = rand
        self.clock = clock

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx/304 response, raise SourceError or RetryLater."""
        host = httpx.URL(url).netloc.decode()
        what = f"{self.source}: {method} {redact(url)}"
        problem = ""
        hint: float | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            if attempt > 1:
                wait = backoff_seconds(
                    attempt - 1,
                    initial=self.policy.backoff_initial_seconds,
                    maximum=self.policy.backoff_max_seconds,
                    hint=hint,
                    rand=self.rand,
                )
                if wait > self.policy.max_wait_seconds:
                    raise RetryLater(
                        f"{what}: {problem}; server asks to wait {wait:.0f}s", after_seconds=wait
                    )
                log.info("%s: %s; retry %d in %.2fs", what, problem, attempt, wait)
                self._pause(host, wait)  # the host's spacing does the waiting, for every caller
            try:
                response = await self._send(host, method, url, **kwargs)
            except httpx.TimeoutException as exc:
                problem, hint = f"timed out after {self.policy.timeout_seconds}s", None
                ERRORS.labels(stage=f"ingest:{self.source}", kind="timeout").inc()
                log.debug("%s: %r", what, exc)
                continue
            except Refused as exc:
                ERRORS.labels(stage=f"ingest:{self.source}", kind="refused").inc()
                raise SourceError(f"{what}: {exc}") from None
            except httpx.TransportError as exc:
                problem, hint = redact(f"connection failed ({type(exc).__name__}: {exc})"), None
                ERRORS.labels(stage=f"ingest:{self.source}", kind="network").inc()
                continue
            status = response.status_code
            if status in _RETRIED or status >= 500:
                kind = "http_5xx" if status >= 500 else f"http_{status}"
                ERRORS.labels(stage=f"ingest:{self.source}", kind=kind).inc()
                problem = f"HTTP {status}"
                hint = self.server_wait(response, status == 429)
                continue
            if status >= 400:
                ERRORS.labels(stage=f"ingest:{self.source}", kind=f"http_{status}").inc()
                snippet = redact(response.text[:200].strip().replace("\n", " "))
                advice = _HINTS.get(status, "check the request parameters in the config")
                raise SourceError(
                    f"{what}: HTTP {status} ({snippet!r}); {advice}",
                    status=status,
                    body=response.text,
                )
            self._note_budget(host, response)
            return response
        raise RetryLater(
            f"{what}: {problem} after {self.policy.max_attempts} tries; "
            "will try again on the next poll",
            after_seconds=hint,
        )

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def _send(self, host: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        state = _host(host)
        async with state.lock:
            delay = state.next_at - self.clock()
            if delay > 0:
                await self.sleep(delay)
            state.next_at = self.clock() + 1.0 / self.policy.requests_per_second_per_host
            kwargs.setdefault("follow_redirects", True)  # feeds and APIs move; follow them
            return await self.client.request(
                method,
                url,
                timeout=self.policy.timeout_seconds,
                extensions=outbound.allow(self.allow_private),
                **kwargs,
            )

    def server_wait(self, response: httpx.Response, throttled: bool) -> float | None:
        """Seconds the server asked to wait before a retry (`Retry-After`, or the reset header
        of a 429), or None. The hook for a platform that says it otherwise (a 429's body) or
        means "stop" (a spent cap): a subclass overrides it."""
        now = self.clock()
        after = retry_after(response.headers.get("retry-after"), now)
        if after is None and throttled and self.reset_header:
            after = retry_after(response.headers.get(self.reset_header), now)
        return after

    def _note_budget(self, host: str, response: httpx.Response) -> None:
        """Once the server says the budget is spent, hold the host until its reset time."""
        if not (self.remaining_header and self.reset_header):
            return
        try:
            remaining = float(response.headers.get(self.remaining_header, "nan"))
        except ValueError:
            return
        if remaining < 1:
            wait = retry_after(response.headers.get(self.reset_header), self.clock())
            if wait is not None:
                self._pause(host, min(wait, self.policy.max_wait_seconds))

    def _pause(self, host: str, seconds: float) -> None:
        state = _host(host)
        state.next_at = max(state.next_at, self.clock() + seconds)
