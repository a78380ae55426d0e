"""Replies through the mention's own channel: Telegram's sendMessage against a local double of
the Bot API; a reply marks the mention handled with its first response time; a channel that
cannot answer says why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.console.conftest import GROUP, MENTIONS, Console, csrf_of, version_of
from tests.ingest.support import ReplayServer, Reply, serve

TG1, TG2, CAMP1 = (m.doc_id for m in MENTIONS[:3])
SEND = "/bot7012345678:AAFakeTokenForTestsOnly_abc/sendMessage"


@pytest.fixture
async def telegram_api() -> AsyncIterator[ReplayServer]:
    async with serve() as double:
        yield double


async def test_a_reply_goes_through_telegram_and_marks_the_mention_handled(
    make_console: Callable[..., Awaitable[Console]], telegram_api: ReplayServer
) -> None:
    sent = {"ok": True, "result": {"message_id": 4830, "chat": {"id": GROUP}, "date": 1795603000}}
    telegram_api.script(SEND, Reply(200, json.dumps(sent)))
    console = await make_console(telegram_api=telegram_api.url())
    alice = await console.login("alice")
    page = await (await alice.get(f"/mention/{TG2}")).text()
    assert 'data-testid="reply-off"' not in page
    answer = "نعتذر عن التأخير، الشحنة تصلك غدًا 🙏"
    replied = await alice.post(
        f"/mention/{TG2}",
        allow_redirects=False,
        data={
            "csrf": csrf_of(page),
            "version": version_of(page),
            "action": "reply",
            "detail": answer,
        },
    )
    assert replied.status == 303
    (request,) = telegram_api.seen(SEND)
    assert json.loads(request.body) == {
        "chat_id": GROUP,
        "text": answer,
        "reply_parameters": {"message_id": 4822},
    }
    after = await (await alice.get(f"/mention/{TG2}")).text()
    assert 'data-testid="mention-status">Handled<' in after
    assert f'alice: reply · <bdi dir="auto">{GROUP}:4830: {answer}</bdi>' in after
    assert TG2 not in await (await alice.get("/")).text()
    assert "first response" in (await (await alice.get("/?status=all")).text())


async def test_a_refused_reply_says_why_and_changes_nothing(
    make_console: Callable[..., Awaitable[Console]], telegram_api: ReplayServer
) -> None:
    kicked = {"ok": False, "error_code": 403,
              "description": "Forbidden: bot was kicked from the supergroup chat"}  # fmt: skip
    telegram_api.script(SEND, Reply(403, json.dumps(kicked)))
    console = await make_console(telegram_api=telegram_api.url())
    alice = await console.login("alice")
    page = await (await alice.get(f"/mention/{TG1}")).text()
    refused = await alice.post(
        f"/mention/{TG1}",
        data={
            "csrf": csrf_of(page),
            "version": version_of(page),
            "action": "reply",
            "detail": "sorry",
        },
    )
    text = await refused.text()
    assert refused.status == 502 and "The platform refused the reply" in text
    assert "bot was kicked" in text and 'data-testid="mention-status">Open<' in text


async def test_the_reply_button_is_off_with_the_reason(
    make_console: Callable[..., Awaitable[Console]],
) -> None:
    console = await make_console()
    alice = await console.login("alice")
    bluesky = await (await alice.get(f"/mention/{CAMP1}")).text()
    assert "The source bluesky cannot send replies." in bluesky
    assert 'data-testid="action-reply" disabled' in bluesky
    page = await (await alice.get(f"/mention/{TG1}")).text()
    refused = await alice.post(
        f"/mention/{CAMP1}",
        data={"csrf": csrf_of(page), "version": "", "action": "reply", "detail": "hi"},
    )
    assert refused.status == 400 and "cannot send replies" in await refused.text()


def test_reply_refusals_name_the_reason() -> None:
    from console.app import repliers, reply_refusal
    from tests.console.conftest import config

    replying = repliers(config())
    assert list(replying) == ["telegram"]
    telegram = {"source": "telegram", "reply_target": f"{GROUP}:1"}
    assert reply_refusal(telegram, replying) is None
    assert reply_refusal({**telegram, "reply_target": None}, replying) == ("no_reply_target", {})
    assert reply_refusal({"source": "rss", "reply_target": "x"}, replying) == (
        "no_reply_source",
        {"source": "rss"},
    )
    assert reply_refusal(telegram, {}) == ("no_reply_config", {"source": "telegram"})


def test_a_bad_sources_entry_stops_the_console_at_start_saying_where() -> None:
    from console.app import create_app
    from core.config import SadaConfig, Settings
    from core.errors import ConfigError
    from core.live import LiveConfig
    from tests.console.conftest import config

    broken = SadaConfig.model_validate(
        {**config().model_dump(), "sources": [{"source": "telegram", "chats": ["x"]}]}
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]\.bot_token: Field required"):
        create_app(Settings(), LiveConfig(broken))
