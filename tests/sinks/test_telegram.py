from __future__ import annotations

import json

import httpx
import pytest

from core.config import TelegramRoute
from core.errors import RetryLater, Undeliverable
from core.events import Alert
from sinks import message, telegram
from tests.sinks.support import Answer, Scripted

TOKEN = "123456:SADA-test-token"


def route(server: Scripted) -> TelegramRoute:
    return TelegramRoute.model_validate(
        {
            "type": "telegram",
            "bot_token": TOKEN,
            "chat_id": "-1001234567890",
            "api_url": server.base_url,
        }
    )


async def test_the_bot_sends_the_alert_as_plain_text(scripted: Scripted, alert: Alert) -> None:
    scripted.answers.append(Answer(200, json.dumps({"ok": True, "result": {"message_id": 7}})))
    async with httpx.AsyncClient() as client:
        await telegram.notify(client, route(scripted), alert)
    (post,) = scripted.posted
    assert post.path == f"/bot{TOKEN}/sendMessage"
    assert post.json() == {
        "chat_id": "-1001234567890",
        "text": message.plain(alert),
        "disable_web_page_preview": True,
    }


async def test_too_many_requests_waits_what_telegram_asks(scripted: Scripted, alert: Alert) -> None:
    busy = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }
    scripted.answers.append(Answer(429, json.dumps(busy)))
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryLater) as raised:
            await telegram.notify(client, route(scripted), alert)
    assert raised.value.after_seconds == 5


async def test_a_wrong_chat_is_dead_lettered_with_telegrams_reason_and_no_token(
    scripted: Scripted, alert: Alert
) -> None:
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    scripted.answers.append(Answer(400, json.dumps(refused)))
    async with httpx.AsyncClient() as client:
        with pytest.raises(Undeliverable, match="chat not found") as raised:
            await telegram.notify(client, route(scripted), alert)
    assert TOKEN not in str(raised.value) and "SADA-test-token" not in str(raised.value)


def test_a_long_explanation_is_cut_to_what_telegram_takes(alert: Alert) -> None:
    long = alert.model_copy(update={"explanation": "x" * 5000})
    text = telegram.payload(
        TelegramRoute.model_validate({"type": "telegram", "bot_token": TOKEN, "chat_id": "1"}), long
    )
    assert isinstance(text["text"], str)
    assert len(text["text"]) == telegram.MAX_TEXT and text["text"].endswith("…")
