"""Deliver each alert to the routes its brand names in the clients file."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from core import metrics
from core.config import SadaConfig
from core.events import Alert
from sinks import webhook


class AlertSink:
    """Routes alerts: brand -> route names -> destinations. Delivery is at least once; receivers
    can drop repeats by the alert id (also sent as the X-Sada-Alert-Id header)."""

    def __init__(self, config: SadaConfig) -> None:
        self._config = config
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient()

    async def write(self, batch: Sequence[Alert]) -> list[tuple[Alert, str]]:
        assert self._client is not None, "start() the sink before writing"
        rejected: list[tuple[Alert, str]] = []
        for alert in batch:
            for name, route in self._routes(alert):
                try:
                    await webhook.notify(self._client, route, alert)
                    metrics.NOTIFIED.labels(route.type, "delivered").inc()
                except webhook.Undeliverable as exc:
                    metrics.NOTIFIED.labels(route.type, "refused").inc()
                    rejected.append((alert, f"route {name!r}: {exc}"))
        return rejected

    def _routes(self, alert: Alert) -> list[tuple[str, webhook.WebhookRoute]]:
        client = next((c for c in self._config.clients if c.id == alert.client), None)
        brand = next((b for b in client.brands if b.id == alert.brand), None) if client else None
        if client is None or brand is None:
            return []  # the brand left the config since the alert was raised
        return [(name, client.routes[name]) for name in brand.routes]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def check(self) -> bool:
        return self._client is not None
