"""One alert, every kind of route a brand can name, each to a real local receiver."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from core.config import ROUTES, SadaConfig, load_config
from core.errors import RetryLater
from core.events import Alert, now
from core.live import LiveConfig
from sada.cli import check_clients_file
from sada.receiver import Receiver
from sinks.alerts import SENDERS, AlertSink
from tests.sinks.support import Answer, Inbox, Scripted, local_name


def _config(routes: dict[str, dict[str, Any]]) -> SadaConfig:
    """One client whose one brand names every route given (local receivers: allow_private,
    unless the route says otherwise)."""
    brand = {"id": "skyline-air", "name": "Skyline Air", "include": ["skyline"]}
    client = {
        "id": "northwind",
        "name": "Northwind",
        "routes": {name: {"allow_private": True, **route} for name, route in routes.items()},
        "brands": [{**brand, "routes": list(routes)}],
    }
    return SadaConfig.model_validate({"clients": [client]})


def test_every_kind_of_route_has_its_sender() -> None:
    """A route kind is a model in core/config.py ROUTES and a sender in sinks/alerts.py SENDERS."""
    assert list(SENDERS) == list(ROUTES)


def _telegram(server: Scripted, chat: str = "42") -> dict[str, Any]:
    return {"type": "telegram", "bot_token": "1:x", "chat_id": chat, "api_url": server.base_url}


async def _write(config: SadaConfig, *batches: list[Alert]) -> list[list[tuple[Alert, str]]]:
    """What the sink refused in each batch, written in turn."""
    sink = AlertSink(LiveConfig(config))
    await sink.start()
    try:
        return [await sink.write(batch) for batch in batches]
    finally:
        await sink.close()


async def test_an_alert_reaches_every_route_of_its_brand(
    scripted: Scripted, smtp: tuple[Inbox, int], alert: Alert
) -> None:
    inbox, port = smtp
    scripted.answers += [Answer(200, "ok"), Answer(202, ""), Answer(200, json.dumps({"ok": True}))]
    with Receiver() as receiver:
        config = _config(
            {
                "hook": {"url": receiver.url},
                "slack": {"type": "slack", "url": f"{scripted.base_url}/services/T/B/x"},
                "teams": {"type": "teams", "url": f"{scripted.base_url}/workflows/x"},
                "telegram": _telegram(scripted, "@ops"),
                "email": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "sender": "sada@agency.example",
                    "to": ["ops@agency.example"],
                },
            }
        )
        assert await _write(config, [alert]) == [[]]
    assert receiver.received == [alert.model_dump(mode="json")]
    assert [p.path for p in scripted.posted] == [
        "/services/T/B/x",
        "/workflows/x",
        "/bot1:x/sendMessage",
    ]
    assert [m["X-Sada-Alert-Id"] for m in inbox.messages] == [alert.id]


async def test_a_route_that_refuses_is_named_in_the_dead_letter_reason(
    scripted: Scripted, alert: Alert
) -> None:
    blocked = {"ok": False, "description": "Forbidden: bot was blocked by the user"}
    scripted.answers.append(Answer(403, json.dumps(blocked)))
    [[(refused, reason)]] = await _write(_config({"tg": _telegram(scripted)}), [alert])
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
    config = _config(
        {
            "slack": {"type": "slack", "url": f"{scripted.base_url}/services/T/B/x"},
            "tg": _telegram(scripted),
        }
    )
    sink = AlertSink(LiveConfig(config))
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


async def test_a_step_raised_again_by_a_rebalanced_detector_is_not_sent_twice(
    scripted: Scripted, alert: Alert
) -> None:
    """The detector stamps a step with the wall clock; processing the same mentions again
    raises the same step later, which says nothing new."""
    scripted.answers += [Answer(200, "ok")] * 3
    sink = AlertSink(
        LiveConfig(_config({"hook": {"type": "webhook", "url": f"{scripted.base_url}/hook"}}))
    )
    await sink.start()
    try:
        first = alert.model_copy(update={"status": "open", "severity": "warning"})
        again = first.model_copy(update={"raised_at": first.raised_at + timedelta(seconds=9)})
        worse = first.model_copy(update={"status": "escalate", "severity": "critical"})
        assert await sink.write([first, again, worse]) == []
    finally:
        await sink.close()
    assert [json.loads(p.body)["status"] for p in scripted.posted] == ["open", "escalate"]


async def test_a_route_hears_only_steps_at_least_as_severe_as_it_asks(
    scripted: Scripted, alert: Alert
) -> None:
    config = _config(
        {
            "team": {"type": "slack", "url": f"{scripted.base_url}/team"},
            "ceo": {"type": "slack", "url": f"{scripted.base_url}/ceo", "min_severity": "critical"},
        }
    )
    steps = [
        alert.model_copy(update={"status": "open", "severity": "warning"}),
        alert.model_copy(update={"status": "escalate", "severity": "critical"}),
        alert.model_copy(update={"status": "resolve", "severity": "critical"}),
    ]
    assert await _write(config, *([step] for step in steps)) == [[], [], []]
    assert [p.path for p in scripted.posted] == ["/team", "/team", "/ceo", "/team", "/ceo"]


async def test_a_route_the_address_policy_refuses_is_dead_lettered_and_the_others_deliver(
    scripted: Scripted, alert: Alert
) -> None:
    """A name that resolves to this machine passes config load and is refused when sent to:
    final (no retry), with the reason; the brand's other routes still get the alert."""
    inside = f"http://{local_name()}:{scripted.base_url.rsplit(':', 1)[1]}/hook?token=s3cr3t-v4lue"
    with Receiver() as receiver:
        config = _config(
            {"inside": {"url": inside, "allow_private": False}, "ops": {"url": receiver.url}}
        )
        [[(refused, reason)]] = await _write(config, [alert])
    assert refused is alert and receiver.received == [alert.model_dump(mode="json")]
    assert reason.startswith(f"route 'inside': webhook http://{local_name()}:")
    assert "is a loopback address" in reason or "is a private address" in reason
    assert "allow_private: true" in reason and "s3cr3t-v4lue" not in reason
    assert scripted.posted == []


async def test_a_delivery_observes_its_delay_and_logs_the_alert_id(
    scripted: Scripted, alert: Alert, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.answers.append(Answer(403, json.dumps({"ok": False, "description": "blocked"})))
    raised = alert.model_copy(update={"raised_at": now() - timedelta(seconds=5)})
    name = "sada_alert_delivered_delay_seconds"
    labels = {"route": "webhook"}
    count, total = (
        REGISTRY.get_sample_value(f"{name}_{part}", labels) or 0.0 for part in ("count", "sum")
    )
    with Receiver() as receiver, caplog.at_level(logging.INFO, "sinks.alerts"):
        config = _config({"hook": {"url": receiver.url}, "tg": _telegram(scripted)})
        [[(refused, _)]] = await _write(config, [raised])
    assert refused is raised
    assert REGISTRY.get_sample_value(f"{name}_count", labels) == count + 1
    assert 5 <= (REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0) - total < 30
    delivered, refusal = caplog.records
    assert delivered.getMessage() == f"alert {alert.id} delivered to route 'hook'"
    assert refusal.getMessage().startswith(f"route 'tg' refused alert {alert.id}: telegram")
    assert [getattr(r, "alert_id", None) for r in caplog.records] == [alert.id, alert.id]


async def test_a_route_added_to_the_clients_file_hears_the_next_batch(
    scripted: Scripted, alert: Alert, tmp_path: Path
) -> None:
    """The sink reads its routes from the running configuration: a webhook route added to the
    file (and taken up by `LiveConfig.reload`) gets the next alert; nothing was restarted."""
    path = tmp_path / "clients.yaml"
    hook = {"type": "webhook", "url": f"{scripted.base_url}/hook"}
    path.write_text(yaml.safe_dump(_config({}).model_dump(mode="json")), encoding="utf-8")
    live = LiveConfig(load_config(path), path, check=check_clients_file)
    scripted.answers.append(Answer(200, "ok"))
    sink = AlertSink(live)
    await sink.start()
    try:
        assert await sink.write([alert]) == []  # the brand names no route yet
        assert scripted.posted == []
        path.write_text(yaml.safe_dump(_config({"hook": hook}).model_dump(mode="json")))
        assert await live.reload()
        assert await sink.write([alert]) == []
    finally:
        await sink.close()
    assert [json.loads(p.body)["id"] for p in scripted.posted] == [alert.id]
