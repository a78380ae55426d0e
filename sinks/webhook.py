"""POST an alert as JSON to a webhook URL; `post_json` is also how Slack, Teams and Telegram
are reached.

429, 5xx and network failures mean "try again later"; any other 4xx means the receiver will
never take this alert, so it is dead-lettered with the receiver's answer. So is a destination
the outbound address policy refuses (core/outbound.py: checked on every redirect hop, at the
address actually connected to), unless the route says `allow_private: true`. No error text
carries a secret: URLs in them are redacted, or named by their host alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from core import outbound
from core.config import WebhookRoute
from core.errors import Refused, RetryLater, Undeliverable
from core.events import Alert
from core.redact import redact
from core.retry import retry_after


async def notify(client: httpx.AsyncClient, route: WebhookRoute, alert: Alert) -> None:
    await post_json(
        client,
        str(route.url),
        alert.to_bytes(),
        timeout=route.timeout_seconds,
        name=f"webhook {redact(str(route.url))}",
        allow_private=route.allow_private,
        headers={"X-Sada-Alert-Id": alert.id},
    )


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after(response.headers.get("Retry-After"))


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: bytes | dict[str, object],
    *,
    timeout: float,
    name: str,
    allow_private: bool,
    headers: dict[str, str] | None = None,
    wait_hint: Callable[[httpx.Response], float | None] = _retry_after,
) -> httpx.Response:
    """POST JSON (bytes already encoded, or a dict to encode); `name` says in errors who
    refused (never a URL that holds a secret); `allow_private` is the route's exemption from
    the outbound address policy."""
    if not isinstance(payload, bytes):
        payload = json.dumps(payload, ensure_ascii=False).encode()
    try:
        response = await client.post(
            url,
            content=payload,
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
            timeout=timeout,
            extensions=outbound.allow(allow_private),
        )
    except Refused as exc:
        raise Undeliverable(f"{name} not sent: {exc}") from None
    except httpx.HTTPError as exc:
        raise RetryLater(redact(f"{name} unreachable: {type(exc).__name__} {exc}")) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryLater(
            f"{name} answered {response.status_code}", after_seconds=wait_hint(response)
        )
    if response.status_code >= 400:
        raise Undeliverable(
            redact(f"{name} refused the alert: {response.status_code} {response.text[:300]}")
        )
    return response
