"""The Telegram Bot API source against a local double of api.telegram.org.

Fixture provenance: tests/ingest/fixtures/telegram_getUpdates.json is written by the project in
the shapes of the Bot API reference (https://core.telegram.org/bots/api: `getUpdates` answers
`{"ok": true, "result": [Update]}`; `Update`, `Message` with `from`/`sender_chat`/`chat`,
`reply_to_message`, `caption` and `caption_entities`, `edit_date`, `MessageEntity` offsets in
UTF-16 code units). The error bodies below follow the reference's "Making requests" section
(`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`) with the
descriptions Telegram sends for a revoked token (401 Unauthorized) and the two conflicts (409).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Mention, make_uid, now
from core.metrics import ERRORS
from ingest import telegram
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture

UPDATES = fixture("telegram_getUpdates.json")
TOKEN = "7012345678:AAFakeTokenForTestsOnly_abcdefghij"
CHATS = ["@acmebank_community", "@AcmeBank", "-1002233445566"]
PATH = f"/bot{TOKEN}/getUpdates"
EMPTY = b'{"ok": true, "result": []}'
GROUP, CHANNEL, PRIVATE = -1001987654321, -1001122334455, -1002233445566


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def config(server: ReplayServer, **kw: object) -> telegram.Config:
    values: dict[str, object] = {
        "bot_token": TOKEN,
        "chats": CHATS,
        "api_url": server.url(),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=2),
        "allow_private": True,  # the local server
    }
    return telegram.Config.model_validate({**values, **kw})


def chats() -> list[str]:
    return telegram.Config(bot_token=SecretStr(TOKEN), chats=CHATS).chats


def unlisted() -> float:
    return ERRORS.labels(stage="ingest:telegram", kind="unlisted_chat")._value.get()


def test_parse_maps_every_field_of_groups_channels_and_edits() -> None:
    fetched = now()
    before = unlisted()
    items = telegram.parse(UPDATES, chats=chats(), fetched_at=fetched)
    assert unlisted() == before + 1  # the unrelated chat; the sticker is skipped, not counted
    complaint, answer, post, edit, private, bad, admin = items
    assert complaint == Mention(
        uid=make_uid("telegram", f"{GROUP}:4821"),
        source="telegram",
        source_id=f"{GROUP}:4821",
        url="https://t.me/acmebank_community/4821",
        author=Author(handle="sara_otb", name="سارة العتيبي"),
        text="@AcmeBank_Support التطبيق واقف من الصبح 😡😡 ما أقدر أحول فلوس #أكمي_بنك",
        created_at=at(1795601455),
        fetched_at=fetched,
        parent_id=str(GROUP),
        reply_target=f"{GROUP}:4821",
    )
    assert isinstance(answer, Mention)
    assert answer.text == (
        "wallah el app 3ndkom ba6ee2 jeddan, 7awalt 3 marrat 🙄 https://acme.example/status"
    )
    assert answer.author.handle == "7712345002" and answer.author.name == "Omar Haddad"
    assert answer.parent_id == f"{GROUP}:4821" and answer.reply_target == f"{GROUP}:4822"
    assert isinstance(post, Mention)
    assert (
        post.text
        == "\u200fتحديث: خدمة التحويلات عادت للعمل ✅ رقم الطلب \u2066AB-2291\u2069 \u200f"
    )
    assert post.author.handle == "acmebank" and post.author.name == "Acme Bank | أكمي بنك"
    assert post.url == "https://t.me/acmebank/311" and post.parent_id == str(CHANNEL)
    assert isinstance(edit, Mention)
    assert edit.uid == complaint.uid and edit.edited_at == at(1795603100)
    assert edit.created_at == complaint.created_at and edit.text.endswith("🙏 شكراً")
    assert isinstance(private, Mention)
    assert private.url is None and private.source_id == f"{PRIVATE}:77"
    assert private.text == "\u202bرقم الحساب لا يظهر\u202c in the app (iOS 18) 🤷‍♀️"
    assert isinstance(bad, Rejected) and "missing or malformed field 'date'" in bad.reason
    assert isinstance(admin, Mention)
    assert admin.author.handle == "acmebank_community" and admin.author.name is not None
    assert admin.author.name.startswith("مجتمع")


def test_decode_refuses_what_is_not_a_getupdates_answer() -> None:
    (html,) = telegram.parse(b"<html>502 Bad Gateway</html>", chats=chats(), fetched_at=now())
    assert isinstance(html, Rejected) and "not JSON (HTML" in html.reason
    (error,) = telegram.parse(
        b'{"ok": false, "error_code": 400, "description": "Bad Request"}',
        chats=chats(),
        fetched_at=now(),
    )
    assert isinstance(error, Rejected) and "expected {'ok': true" in error.reason


@pytest.mark.skipif(not SHARED.exists(), reason="shared recorded payloads not present")
def test_recorded_payloads_map() -> None:
    wire = (SHARED / "telegram_getUpdates_channel_post_wire_2018.json").read_bytes()
    first, second = telegram.parse(wire, chats=["-1001241558182"], fetched_at=now())
    assert isinstance(first, Mention) and isinstance(second, Mention)
    assert first.source_id == "-1001241558182:21" and first.url is None  # no username
    assert first.author.handle == "-1001241558182" and first.author.name == "VVV talk"
    assert first.text.endswith("Phoenix 1.3 更新之后，推荐使用 context")
    assert first.created_at == at(1529758950)
    reported = (SHARED / "telegram_getUpdates_channel_post_REPORTED.json").read_bytes()
    (post,) = telegram.parse(reported, chats=["-1001310120257"], fetched_at=now())
    assert isinstance(post, Mention) and post.text == "The message"
    assert post.author.name == "My new channel" and post.parent_id == "-1001310120257"
    update = json.loads((SHARED / "telegram_update_supergroup_reply_bot_command.json").read_text())
    (command,) = telegram.parse_updates([update], chats=["@cryptoinside_talk"], fetched_at=now())
    assert isinstance(command, Mention)
    assert command.url == "https://t.me/cryptoinside_talk/134546"
    assert command.parent_id == "-1001293752024:134545"
    assert command.author.handle == "spacewhaleblues" and command.text == "/report"
    assert telegram.next_offset([update]) == 439432601


async def test_fetch_pages_waits_on_429_and_resumes_from_the_offset(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    throttled = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    server.script(PATH, Reply(200, UPDATES), Reply(429, json.dumps(throttled)), Reply(200, EMPTY))
    cfg = config(server, page_limit=9)  # the fixture holds 9 updates: a full page, ask again
    items = [
        i
        async for i in telegram.fetch(
            cfg, client, cursors=CursorStore(tmp_path), once=True, sleep=sleeps
        )
    ]
    assert len(items) == 7
    calls = [json.loads(seen.body) for seen in server.seen(PATH)]
    assert calls[0] == {
        "timeout": 0,
        "limit": 9,
        "allowed_updates": ["message", "edited_message", "channel_post", "edited_channel_post"],
    }
    assert calls[1]["offset"] == calls[2]["offset"] == 900109
    assert any(6.9 < s <= 7 for s in sleeps.calls)  # the body's retry_after, no header
    server.script(PATH, Reply(200, EMPTY))
    again = [
        i
        async for i in telegram.fetch(
            cfg, client, cursors=CursorStore(tmp_path), once=True, sleep=sleeps
        )
    ]
    assert again == [] and json.loads(server.seen(PATH)[-1].body)["offset"] == 900109


async def test_streaming_long_polls_and_retries_a_failing_server(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        PATH, Reply(502, "bad gateway"), Reply(200, b"<html>oops</html>"), Reply(200, UPDATES)
    )
    cfg = config(server, http=HttpPolicy(requests_per_second_per_host=1000, max_attempts=1))
    stream = telegram.fetch(cfg, client, sleep=sleeps)
    assert isinstance(stream, AsyncGenerator)
    first = await anext(stream)
    await stream.aclose()
    assert isinstance(first, Mention) and first.source_id == f"{GROUP}:4821"
    assert [json.loads(s.body)["timeout"] for s in server.seen(PATH)] == [50, 50, 50]
    assert len(sleeps.calls) == 2  # a backoff after the 502 and after the HTML page


@pytest.mark.parametrize(
    ("status", "description", "says"),
    [
        (401, "Unauthorized", "the bot token was revoked: get a new one from @BotFather"),
        (404, "Not Found", "Telegram knows no bot with this token"),
        (
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
            "a webhook is set for this bot",
        ),
        (
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running",
            "run one telegram source per bot",
        ),
    ],
)
async def test_refusals_are_explained_without_the_token(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    status: int,
    description: str,
    says: str,
) -> None:
    body = {"ok": False, "error_code": status, "description": description}
    server.script(PATH, Reply(status, json.dumps(body)))
    with pytest.raises(SourceError) as raised:
        [i async for i in telegram.fetch(config(server), client, once=True, sleep=sleeps)]
    message = str(raised.value)
    assert message.startswith("telegram: getUpdates: HTTP") and says in message
    assert description in message and TOKEN not in message and raised.value.status == status


async def test_a_server_that_stays_away_ends_a_single_round(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(PATH, Reply(503, "down"))
    with pytest.raises(RetryLater):
        [i async for i in telegram.fetch(config(server), client, once=True, sleep=sleeps)]


async def test_reply_sends_a_message_answering_the_target(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    sent = {"ok": True, "result": {"message_id": 4830, "chat": {"id": GROUP}, "date": 1795603000}}
    server.script(f"/bot{TOKEN}/sendMessage", Reply(200, json.dumps(sent)))
    assert telegram.SOURCE.reply is telegram.reply
    answer = await telegram.reply(config(server), client, f"{GROUP}:4821", "نعتذر، تم الإصلاح 🙏")
    assert answer == f"{GROUP}:4830"
    (request,) = server.seen(f"/bot{TOKEN}/sendMessage")
    assert json.loads(request.body) == {
        "chat_id": GROUP,
        "text": "نعتذر، تم الإصلاح 🙏",
        "reply_parameters": {"message_id": 4821},
    }
    assert request.headers["Content-Type"] == "application/json"
    with pytest.raises(SourceError, match="not a reply target"):
        await telegram.reply(config(server), client, "../getUpdates", "x")
    kicked = {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was kicked from the supergroup chat",
    }
    server.script(f"/bot{TOKEN}/sendMessage", Reply(403, json.dumps(kicked)))
    with pytest.raises(
        SourceError, match="bot was kicked.*the bot is not .or no longer. in that chat"
    ):
        await telegram.reply(config(server), client, f"{GROUP}:4821", "x")


def test_config_names_chats_it_cannot_read() -> None:
    with pytest.raises(
        ValueError, match="'acme': write a chat id .-1001234567890. or an @username"
    ):
        telegram.Config(bot_token=SecretStr(TOKEN), chats=["acme", "-100123"])
    assert telegram.Config(bot_token=SecretStr(TOKEN), chats=[" @AcmeBank"]).chats == ["@acmebank"]


async def test_dry_run_from_the_command_line(server: ReplayServer) -> None:
    server.script(PATH, Reply(200, UPDATES))
    sets = {
        "bot_token": TOKEN,
        "chats": json.dumps(CHATS),
        "api_url": server.url(),
        "allow_private": "true",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sada",
        "ingest",
        "--source",
        "telegram",
        "--once",
        "--dry-run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert [m["source_id"] for m in lines if "uid" in m] == [
        f"{GROUP}:4821",
        f"{GROUP}:4822",
        f"{CHANNEL}:311",
        f"{GROUP}:4821",
        f"{PRIVATE}:77",
        f"{GROUP}:4825",
    ]
    assert "telegram: 6 mentions, 1 dead-lettered" in err.decode()
    assert TOKEN not in err.decode() + out.decode()
