"""Post an alert to a Microsoft Teams channel through a workflow's webhook.

Teams' "post to a channel when a webhook request is received" workflow (and the older incoming
webhook connector) takes a message whose attachment is an Adaptive Card: the headline in bold,
then one text block per line of the explanation. The URL carries its own signature, so errors
name only the host.
"""

from __future__ import annotations

import httpx

from core.config import TeamsRoute
from core.events import Alert
from sinks import message
from sinks.webhook import post_json

_COLOUR = {"info": "Default", "warning": "Warning", "critical": "Attention"}


def payload(alert: Alert) -> dict[str, object]:
    body: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": message.headline(alert),
            "weight": "Bolder",
            "size": "Medium",
            "color": _COLOUR.get(alert.severity, "Default"),
            "wrap": True,
        }
    ]
    body += [
        {"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"}
        for line in message.lines(alert)
    ]
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


async def notify(client: httpx.AsyncClient, route: TeamsRoute, alert: Alert) -> None:
    await post_json(
        client,
        str(route.url),
        payload(alert),
        timeout=route.timeout_seconds,
        name=f"teams webhook at {route.url.host}",
        allow_private=route.allow_private,
    )
