"""One alert, every kind of route a brand can name, each to a real local receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from core.config import SadaConfig
from core.errors import RetryLater
from core.events import Alert
from sada.receiver import Receiver
from sinks.alerts import AlertSink
from tests.sinks.support import Answer, Scripted
from tests.sinks.test_mail import Inbox, _free_port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


async def test_an_alert_reaches_every_route_of_its_brand(
    scripted: Scripted, inbox: tuple[Inbox, int], alert: Alert
) -> None:
    box, port = inbox
    scripted.answers += [Answer(200, "ok"), Answer(202, ""), Answer(200, json.dumps({"ok": True}))]
    routes: dict[str, dict[str, Any]] = {
        "hook": {"url": "RECEIVER"},
        "slack": {"type": "slack", "url": f"{scripted.base_url}/services/T/B/x"},
        "teams": {"type": "teams", "url": f"{scripted.base_url}/workflows/x"},
        "telegram": {
            "type": "telegram",
            "bot_token": "1:x",
            "chat_id": "@ops",
            "api_url": scripted.base_url,
        },
        "email": {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "sada@agency.example",
            "to": ["ops@agency.example"],
        },
    }
    with Receiver() as receiver:
        routes["hook"]["url"] = receiver.url
        config = SadaConfig.model_validate(
            {
                "clients": [
                    {
                        "id": "northwind",
                        "name": "Northwind",
                        "routes": routes,
                        "brands": [
                            {
                                "id": "skyline-air",
                                "name": "Skyline Air",
                                "include": ["skyline"],
                                "routes": list(routes),
                            }
                        ],
                    }
                ]
            }
        )
        sink = AlertSink(config)
        await sink.start()
        try:
            assert await sink.write([alert]) == []
        finally:
            await sink.close()
    assert receiver.received == [alert.model_dump(mode="json")]
    assert [p.path for p in scripted.posted] == [
        "/services/T/B/x",
        "/workflows/x",
        "/bot1:x/sendMessage",
    ]
    assert [m["X-Sada-Alert-Id"] for m in box.messages] == [alert.id]


async def test_a_route_that_refuses_is_named_in_the_dead_letter_reason(
    scripted: Scripted, alert: Alert
) -> None:
    scripted.answers.append(
        Answer(
            403, json.dumps({"ok": False, "description": "Forbidden: bot was blocked by the user"})
        )
    )
    config = SadaConfig.model_validate(
        {
            "clients": [
                {
                    "id": "northwind",
                    "name": "Northwind",
                    "routes": {
                        "tg": {
                            "type": "telegram",
                            "bot_token": "1:x",
                            "chat_id": "42",
                            "api_url": scripted.base_url,
                        }
                    },
                    "brands": [
                        {
                            "id": "skyline-air",
                            "name": "Skyline Air",
                            "include": ["skyline"],
                            "routes": ["tg"],
                        }
                    ],
                }
            ]
        }
    )
    sink = AlertSink(config)
    await sink.start()
    try:
        ((refused, reason),) = await sink.write([alert])
    finally:
        await sink.close()
    assert refused is alert
    assert reason.startswith("route 'tg': telegram bot api at 127.0.0.1 refused the alert: 403")
    assert "bot was blocked" in reason


async def test_a_retried_batch_skips_the_routes_that_already_had_the_alert(
    scripted: Scripted, alert: Alert
) -> None:
    scripted.answers += [
        Answer(200, "ok"),
        Answer(429, "{}", {"Retry-After": "1"}),
        Answer(200, json.dumps({"ok": True})),
    ]
    config = SadaConfig.model_validate(
        {
            "clients": [
                {
                    "id": "northwind",
                    "name": "Northwind",
                    "routes": {
                        "slack": {"type": "slack", "url": f"{scripted.base_url}/services/T/B/x"},
                        "tg": {
                            "type": "telegram",
                            "bot_token": "1:x",
                            "chat_id": "42",
                            "api_url": scripted.base_url,
                        },
                    },
                    "brands": [
                        {
                            "id": "skyline-air",
                            "name": "Skyline Air",
                            "include": ["skyline"],
                            "routes": ["slack", "tg"],
                        }
                    ],
                }
            ]
        }
    )
    sink = AlertSink(config)
    await sink.start()
    try:
        with pytest.raises(RetryLater):
            await sink.write([alert])  # Slack took it, Telegram asked to wait
        assert await sink.write([alert]) == []  # the runner's retry
        resolved = alert.model_copy(update={"status": "resolve"})
        assert await sink.write([resolved]) == []  # a new step goes everywhere again
    finally:
        await sink.close()
    assert [p.path for p in scripted.posted] == [
        "/services/T/B/x",
        "/bot1:x/sendMessage",
        "/bot1:x/sendMessage",
        "/services/T/B/x",
        "/bot1:x/sendMessage",
    ]


async def test_a_route_hears_only_steps_at_least_as_severe_as_it_asks(
    scripted: Scripted, alert: Alert
) -> None:
    config = SadaConfig.model_validate(
        {
            "clients": [
                {
                    "id": "northwind",
                    "name": "Northwind",
                    "routes": {
                        "team": {"type": "slack", "url": f"{scripted.base_url}/team"},
                        "ceo": {
                            "type": "slack",
                            "url": f"{scripted.base_url}/ceo",
                            "min_severity": "critical",
                        },
                    },
                    "brands": [
                        {
                            "id": "skyline-air",
                            "name": "Skyline Air",
                            "include": ["skyline"],
                            "routes": ["team", "ceo"],
                        }
                    ],
                }
            ]
        }
    )
    opened = alert.model_copy(update={"status": "open", "severity": "warning"})
    escalated = alert.model_copy(update={"status": "escalate", "severity": "critical"})
    resolved = alert.model_copy(update={"status": "resolve", "severity": "critical"})
    sink = AlertSink(config)
    await sink.start()
    try:
        for step in (opened, escalated, resolved):
            assert await sink.write([step]) == []
    finally:
        await sink.close()
    assert [p.path for p in scripted.posted] == ["/team", "/team", "/ceo", "/team", "/ceo"]
