"""Post an alert to a Slack channel through an incoming webhook.

The webhook URL is itself the credential, so errors name only Slack's host. Slack reads `text`
as mrkdwn: `&`, `<` and `>` are escaped, the headline is bold, and links stay links.
"""

from __future__ import annotations

import httpx

from core.config import SlackRoute
from core.events import Alert
from sinks import message
from sinks.webhook import post_json


def payload(alert: Alert) -> dict[str, object]:
    text = "\n".join([f"*{_escape(message.headline(alert))}*", *map(_escape, message.lines(alert))])
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def notify(client: httpx.AsyncClient, route: SlackRoute, alert: Alert) -> None:
    await post_json(
        client,
        str(route.url),
        payload(alert),
        timeout=route.timeout_seconds,
        name=f"slack webhook at {route.url.host}",
        allow_private=route.allow_private,
    )
