"""Deliver each alert to the routes its brand names in the clients file, each kind of route
(core/config.py ROUTES) by its sender in SENDERS, one module each."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from core import logs, metrics, outbound
from core.config import Route, SadaConfig
from core.errors import Undeliverable
from core.events import SEVERITY_RANK, Alert, now
from core.live import LiveConfig
from sinks import mail, slack, teams, telegram, webhook

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # deliveries remembered, so a retried batch skips the routes that had it

Sender = Callable[[httpx.AsyncClient, Any, Alert], Awaitable[None]]

SENDERS: dict[str, Sender] = {
    "webhook": webhook.notify,
    "slack": slack.notify,
    "teams": teams.notify,
    "telegram": telegram.notify,
    "email": lambda _client, route, alert: mail.notify(route, alert),  # SMTP: no HTTP client
}
"""The sender of each kind of route, by its `type`: called with the sink's HTTP client, the
route and the alert; raises RetryLater or Undeliverable."""


class AlertSink:
    """Routes alerts: brand -> route names -> destinations. Delivery is at least once; receivers
    can drop repeats by the alert id (also sent as the X-Sada-Alert-Id header).

    When one route is busy the runner retries the whole batch; the routes that already took an
    alert step are remembered and skipped, so a Slack channel does not see it twice because
    Telegram asked to wait. A step is known by what it says (incident, status, severity, the
    window's end in event time), not by when it was raised: a detect worker that processes the
    same mentions again after a rebalance raises the same step anew, and it is not sent twice.
    (After a restart of the sinks, a redelivery can still repeat.)"""

    def __init__(self, live: LiveConfig) -> None:
        self._live = live
        self._client: httpx.AsyncClient | None = None
        self._delivered: OrderedDict[tuple[str, ...], None] = OrderedDict()

    async def start(self) -> None:
        self._client = outbound.client(follow_redirects=True)

    async def write(self, batch: Sequence[Alert]) -> list[tuple[Alert, str]]:
        assert self._client is not None, "start() the sink before writing"
        rejected: list[tuple[Alert, str]] = []
        config = self._live.config  # the routes as the clients file has them now, for the batch
        for alert in batch:
            refusals = []  # one dead letter per alert (the runner counts records), every route
            about = logs.about(alert)
            for name, route in _routes(config, alert):
                step = (alert.id, alert.status, alert.severity, alert.window_end.isoformat(), name)
                if step in self._delivered:
                    continue
                try:
                    await self.notify(route, alert)
                except Undeliverable as exc:
                    metrics.NOTIFIED.labels(route.type, "refused").inc()
                    log.warning("route %r refused alert %s: %s", name, alert.id, exc, extra=about)
                    refusals.append(f"route {name!r}: {exc}")
                    continue
                delay = time.time() - alert.raised_at.timestamp()
                metrics.DELIVERED_DELAY.labels(route.type).observe(delay)
                metrics.NOTIFIED.labels(route.type, "delivered").inc()
                log.info("alert %s delivered to route %r", alert.id, name, extra=about)
                self._remember(step)
            if refusals:
                rejected.append((alert, "; ".join(refusals)))
        return rejected

    def _remember(self, step: tuple[str, ...]) -> None:
        self._delivered[step] = None
        if len(self._delivered) > REMEMBERED:
            self._delivered.popitem(last=False)

    async def notify(self, route: Route, alert: Alert) -> None:
        """Deliver one alert to one route; raises RetryLater or Undeliverable."""
        assert self._client is not None, "start() the sink before notifying"
        await SENDERS[route.type](self._client, route, alert)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def check(self) -> bool:
        return self._client is not None


def _routes(config: SadaConfig, alert: Alert) -> list[tuple[str, Route]]:
    """The routes of the alert's brand that take its severity."""
    client = config.client(alert.client)
    brand = next((b for b in client.brands if b.id == alert.brand), None) if client else None
    if client is None or brand is None:
        return []  # the brand left the config since the alert was raised
    severity = SEVERITY_RANK[alert.severity]
    return [
        (name, client.routes[name])
        for name in brand.routes
        if severity >= SEVERITY_RANK[client.routes[name].min_severity]
    ]


def trial_alert(client: str, route: str) -> Alert:
    """A harmless alert that says it is a test, for `sada config test-route`."""
    at = now()
    return Alert(
        id=f"{client}/route-test/{at:%Y%m%dT%H%M%SZ}",
        client=client,
        brand="route-test",
        kind="volume_spike",
        window_start=at,
        window_end=at,
        observed=0,
        expected=0,
        score=0,
        severity="info",
        explanation=f"A test of route {route!r} from `sada config test-route`: no incident is "
        "open. If you read this, Sada's alerts reach you here.",
        raised_at=at,
    )
