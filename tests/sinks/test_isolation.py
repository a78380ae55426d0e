"""Each client's data stays its own: alerts go only to the routes of the alert's client, and a
client's credentials read that client's documents and nothing of another's."""

from __future__ import annotations

from typing import Any

from core.config import SadaConfig
from core.events import Alert
from sada.receiver import Receiver
from sinks.alerts import AlertSink
from tests.sinks.test_elasticsearch import _full_alert


def _client(client_id: str, url: str, brands: list[str]) -> dict[str, Any]:
    """A client whose brands all name its one route, "ops" (every client's route is "ops")."""
    return {
        "id": client_id,
        "name": client_id.title(),
        "routes": {"ops": {"url": url, "allow_private": True}},
        "brands": [{"id": b, "name": b.title(), "include": [b], "routes": ["ops"]} for b in brands],
    }


def _alert(client: str, brand: str) -> Alert:
    return _full_alert().model_copy(
        update={"id": f"{client}/{brand}/1", "client": client, "brand": brand}
    )


async def test_an_alert_never_reaches_another_clients_route() -> None:
    """Same route name, same brand id, ids sharing a prefix: still only the alert's own client.
    A brand only the other client has, or a client no longer in the file, reaches nobody."""
    with Receiver() as to_acme, Receiver() as to_acme_eu:
        config = SadaConfig.model_validate(
            {
                "clients": [
                    _client("acme", to_acme.url, ["widget"]),
                    _client("acme-eu", to_acme_eu.url, ["widget", "gadget"]),
                ]
            }
        )
        alerts = [
            _alert("acme", "widget"),
            _alert("acme-eu", "widget"),
            _alert("acme", "gadget"),  # acme-eu's brand, under acme's name
            _alert("gone", "widget"),
        ]
        sink = AlertSink(config)
        await sink.start()
        try:
            assert await sink.write(alerts) == []
        finally:
            await sink.close()
    assert [a["id"] for a in to_acme.received] == ["acme/widget/1"]
    assert [a["id"] for a in to_acme_eu.received] == ["acme-eu/widget/1"]
