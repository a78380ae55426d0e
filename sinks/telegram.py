"""Send an alert to a Telegram chat through a bot (Bot API `sendMessage`).

Plain text, so nothing in a post can break a parse mode; link previews are off so a chat does
not fill with the first negative post's card. The bot token sits in the URL's path, so errors
name only the API host and Telegram's own description ("chat not found", "bot was blocked").
A 429 waits what Telegram asks (`parameters.retry_after`, else the Retry-After header).
"""

from __future__ import annotations

import httpx

from core.config import TelegramRoute
from core.events import Alert
from core.retry import retry_after
from sinks import message
from sinks.webhook import post_json

MAX_TEXT = 4096  # sendMessage refuses longer texts


def payload(route: TelegramRoute, alert: Alert) -> dict[str, object]:
    text = message.plain(alert)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"chat_id": route.chat_id, "text": text, "disable_web_page_preview": True}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        wait = response.json()["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        wait = None
    if isinstance(wait, int | float) and wait >= 0:
        return float(wait)
    return retry_after(response.headers.get("Retry-After"))


async def notify(client: httpx.AsyncClient, route: TelegramRoute, alert: Alert) -> None:
    base = str(route.api_url).rstrip("/")
    await post_json(
        client,
        f"{base}/bot{route.bot_token.get_secret_value()}/sendMessage",
        payload(route, alert),
        timeout=route.timeout_seconds,
        name=f"telegram bot api at {route.api_url.host}",
        allow_private=route.allow_private,
        wait_hint=_retry_after,
    )
