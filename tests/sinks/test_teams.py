from __future__ import annotations

import httpx
import pytest

from core.config import TeamsRoute
from core.errors import Undeliverable
from core.events import Alert
from sinks import message, teams
from tests.sinks.support import Answer, Scripted

SIGNED = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=sadatestsecret"


async def test_the_alert_posts_as_an_adaptive_card(scripted: Scripted, alert: Alert) -> None:
    scripted.answers.append(Answer(202, ""))  # what a Teams workflow answers
    route = TeamsRoute.model_validate({"type": "teams", "url": scripted.base_url + SIGNED})
    async with httpx.AsyncClient() as client:
        await teams.notify(client, route, alert)
    (post,) = scripted.posted
    assert post.path == SIGNED
    (attachment,) = post.json()["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    texts = [block["text"] for block in card["body"]]
    assert texts == [message.headline(alert), *message.lines(alert)]
    assert card["body"][0]["color"] == "Attention" and card["body"][0]["weight"] == "Bolder"


async def test_a_refused_card_is_dead_lettered_without_the_signature(
    scripted: Scripted, alert: Alert
) -> None:
    scripted.answers.append(Answer(400, "InvalidRequestContent"))
    route = TeamsRoute.model_validate({"type": "teams", "url": scripted.base_url + SIGNED})
    async with httpx.AsyncClient() as client:
        with pytest.raises(Undeliverable, match="400 InvalidRequestContent") as raised:
            await teams.notify(client, route, alert)
    assert "sadatestsecret" not in str(raised.value)
