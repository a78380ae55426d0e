"""POST an alert as JSON to a webhook URL.

429, 5xx and network failures mean "try again later"; any other 4xx means the receiver will
never take this alert, so it is dead-lettered with the receiver's answer.
"""

from __future__ import annotations

import httpx

from core.config import WebhookRoute
from core.errors import RetryLater
from core.events import Alert


class Undeliverable(Exception):
    """The receiver refused the alert for good (a 4xx other than 429)."""


async def notify(client: httpx.AsyncClient, route: WebhookRoute, alert: Alert) -> None:
    url = str(route.url)
    try:
        response = await client.post(
            url,
            content=alert.to_bytes(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Sada-Alert-Id": alert.id,
            },
            timeout=route.timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise RetryLater(f"webhook {url} unreachable: {exc!r}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After", "")
        raise RetryLater(
            f"webhook {url} answered {response.status_code}",
            after_seconds=float(retry_after) if retry_after.isdigit() else None,
        )
    if response.status_code >= 400:
        raise Undeliverable(
            f"webhook {url} refused the alert: {response.status_code} {response.text[:300]}"
        )
