from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import HttpUrl

from core import outbound
from core.config import SadaConfig, WebhookRoute
from core.errors import RetryLater, Undeliverable
from core.events import Alert
from core.live import LiveConfig
from sada.receiver import Receiver
from sinks import webhook
from sinks.alerts import AlertSink
from tests.sinks.support import Answer, Scripted

ALERT = Alert(
    id="acme/widget/20260101T000000Z",
    client="acme",
    brand="widget",
    kind="volume_spike",
    window_start=datetime(2026, 1, 1, tzinfo=UTC),
    window_end=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
    observed=80,
    expected=4,
    score=12.5,
    severity="critical",
    explanation="80 against 4 — زين",
    raised_at=datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
)


async def test_an_alert_arrives_as_json_with_its_id_header() -> None:
    with Receiver() as receiver:
        async with httpx.AsyncClient() as client:
            await webhook.notify(client, WebhookRoute(url=HttpUrl(receiver.url)), ALERT)
    assert receiver.received == [ALERT.model_dump(mode="json")]


async def test_busy_receivers_mean_retry_and_refusals_mean_never(scripted: Scripted) -> None:
    route = WebhookRoute(url=HttpUrl(f"{scripted.base_url}/hook"))
    scripted.answers += [
        Answer(429, "busy", {"Retry-After": "7"}),
        Answer(503, "down"),
        Answer(400, "nope"),
    ]
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryLater) as busy:
            await webhook.notify(client, route, ALERT)
        assert busy.value.after_seconds == 7.0
        with pytest.raises(RetryLater, match="503"):
            await webhook.notify(client, route, ALERT)
        with pytest.raises(Undeliverable, match="400 nope"):
            await webhook.notify(client, route, ALERT)


async def test_an_unreachable_receiver_means_retry() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryLater, match="unreachable"):
            await webhook.notify(
                client, WebhookRoute(url=HttpUrl("http://127.0.0.1:9/x"), timeout_seconds=1), ALERT
            )


async def test_alerts_go_to_the_routes_their_brand_names(scripted: Scripted) -> None:
    url = f"{scripted.base_url}/hook"
    scripted.answers.append(Answer(410, "gone"))
    with Receiver() as receiver:
        config = SadaConfig.model_validate(
            {
                "clients": [
                    {
                        "id": "acme",
                        "name": "Acme",
                        "routes": {
                            "ops": {"url": receiver.url, "allow_private": True},
                            "gone": {"url": url, "allow_private": True},
                            "unused": {"url": url, "allow_private": True},
                        },
                        "brands": [
                            {
                                "id": "widget",
                                "name": "Widget",
                                "include": ["widget"],
                                "routes": ["ops", "gone"],
                            },
                            {"id": "quiet", "name": "Quiet", "include": ["quiet"]},
                        ],
                    }
                ]
            }
        )
        sink = AlertSink(LiveConfig(config))
        await sink.start()
        quiet = ALERT.model_copy(update={"brand": "quiet"})
        refused = await sink.write([ALERT, quiet])
        await sink.close()
    assert receiver.received == [ALERT.model_dump(mode="json")]
    assert [(alert.id, reason.split(":")[0]) for alert, reason in refused] == [
        (ALERT.id, "route 'gone'")
    ]


async def test_a_redirect_to_a_private_address_is_refused_for_good(scripted: Scripted) -> None:
    """The receiver plays a public host (its address exempt, names from a test resolver) that
    redirects to an internal one: the second hop is refused, never retried."""
    port = scripted.base_url.rsplit(":", 1)[1]
    scripted.answers.append(Answer(307, "", {"Location": f"http://internal.example:{port}/x"}))
    names = {"hooks.example": "127.0.0.1", "internal.example": "10.0.0.5"}

    async def resolve(host: str, port: int) -> list[str]:
        return [names[host]]

    route = WebhookRoute(url=HttpUrl(f"http://hooks.example:{port}/hook"))
    async with outbound.client(
        resolver=resolve, exempt=frozenset({"127.0.0.1"}), follow_redirects=True
    ) as client:
        with pytest.raises(Undeliverable) as raised:
            await webhook.notify(client, route, ALERT)
    assert "internal.example resolves to 10.0.0.5, which is a private address" in str(raised.value)
    assert [p.path for p in scripted.posted] == ["/hook"]  # the first hop only
