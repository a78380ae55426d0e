"""Telegram messages in the brand's own groups and its channel's discussion group, through the
Bot API (https://core.telegram.org/bots/api), by long polling `getUpdates`.

The brand adds its bot to the groups (and as an admin of its channel, for `channel_post`); a
bot reads every message of a group only when its privacy mode is off (@BotFather,
/setprivacy) or it is an admin. `getUpdates` is asked for `message`, `edited_message`,
`channel_post` and `edited_channel_post`; only the chats listed in the config are produced,
the others are skipped and counted. The cursor is the next `offset` (last `update_id` + 1),
saved once the updates before it were yielded (and, under the runner, acknowledged by Kafka):
the next call with that offset confirms them to Telegram, so a restart neither loses nor
repeats. An edit is the same message again (same uid) with `edited_at`. The Bot API does not
tell bots about deleted messages, so there are no removals. A message is answered with
`sendMessage` and `reply_parameters`, as the bot, in the chat it was read in.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Mention, make_uid, now
from core.metrics import ERRORS
from core.retry import backoff_seconds
from ingest.convert import from_epoch
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import Politeness, observe
from ingest.source import Source

NAME = "telegram"
UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")
_EDITS = frozenset({"edited_message", "edited_channel_post"})
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")

log = logging.getLogger(__name__)


class Config(SourceConfig):
    URL_FIELDS = ("api_url",)

    bot_token: SecretStr = Field(description="The bot's token from @BotFather (<digits>:<key>).")
    chats: list[str] = Field(
        min_length=1,
        description="The chats to produce: ids (-1001234567890) or @usernames; the bot's "
        "updates from any other chat are skipped and counted.",
    )
    api_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API server (a local telegram-bot-api server, or a test double).",
    )
    long_poll_seconds: int = Field(
        default=50, ge=0, le=600, description="How long one getUpdates waits for new updates."
    )
    page_limit: int = Field(default=100, ge=1, le=100, description="Updates per getUpdates.")
    http: Politeness = HttpPolicy()

    @field_validator("chats")
    @classmethod
    def _chat_names(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not (_CHAT_ID.match(c.strip()) or _USERNAME.match(c.strip()))]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: write a chat id (-1001234567890) or an @username"
            )
        return [c.strip().lower() for c in value]


def decode(payload: bytes | str) -> list[Any] | Rejected:
    """A getUpdates answer to its updates, or a Rejected saying why it is not one."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return body
    if (
        not isinstance(body, dict)
        or body.get("ok") is not True
        or not isinstance(body.get("result"), list)
    ):
        return Rejected(
            payload=text_of(payload),
            reason=f"{NAME}: expected {{'ok': true, 'result': [updates]}} from getUpdates",
        )
    return body["result"]


def parse_updates(updates: list[Any], *, chats: list[str], fetched_at: datetime) -> list[Item]:
    """Updates to mentions of the listed chats; each bad update is rejected alone."""
    return each(updates, lambda update: _mention(update, chats, fetched_at), NAME)


def parse(payload: bytes | str, *, chats: list[str], fetched_at: datetime) -> list[Item]:
    """A getUpdates answer to items: `decode` then `parse_updates` (tests and the benchmark)."""
    updates = decode(payload)
    if isinstance(updates, Rejected):
        return [updates]
    return parse_updates(updates, chats=chats, fetched_at=fetched_at)


def _mention(update: dict[str, Any], chats: list[str], fetched_at: datetime) -> Mention | None:
    kind = next((k for k in UPDATES if k in update), None)
    if kind is None:
        return None  # an update type we did not ask for
    message = field(update, kind)
    chat = field(message, "chat")
    chat_id = int(field(chat, "id"))
    username = chat.get("username")
    if str(chat_id) not in chats and f"@{str(username).lower()}" not in chats:
        ERRORS.labels(stage=f"ingest:{NAME}", kind="unlisted_chat").inc()
        log.debug("%s: skipping an update from chat %s, not in chats", NAME, chat_id)
        return None
    text = message.get("text", message.get("caption"))
    if text is None:
        return None  # a sticker, a photo without caption, a service message
    if not isinstance(text, str):
        raise TypeError(f"{kind}.text is {type(text).__name__}, not a string")
    if not text.strip():
        return None
    message_id = int(field(message, "message_id"))
    source_id = f"{chat_id}:{message_id}"
    replied = message.get("reply_to_message")
    return Mention(
        uid=make_uid(NAME, source_id),
        source=NAME,
        source_id=source_id,
        url=f"https://t.me/{username}/{message_id}" if username else None,
        author=_author(message),
        text=text,
        created_at=from_epoch(field(message, "date")),
        fetched_at=fetched_at,
        parent_id=f"{chat_id}:{int(field(replied, 'message_id'))}" if replied else str(chat_id),
        reply_target=source_id,
        edited_at=from_epoch(field(message, "edit_date")) if kind in _EDITS else None,
    )


def _author(message: dict[str, Any]) -> Author:
    """The user who wrote it, or the chat it was sent on behalf of (a channel, an anonymous
    admin), or for old channel posts without `sender_chat`, the channel itself."""
    sender = message.get("sender_chat") or message.get("from") or field(message, "chat")
    if "title" in sender:
        return Author(handle=str(sender.get("username") or sender["id"]), name=sender["title"])
    name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p)
    return Author(handle=str(sender.get("username") or field(sender, "id")), name=name or None)


def next_offset(updates: list[Any]) -> int | None:
    """The offset that confirms every update of this answer (the last update_id + 1)."""
    ids = [u["update_id"] for u in updates if isinstance(u, dict)]
    ids = [i for i in ids if isinstance(i, int)]
    return max(ids) + 1 if ids else None


class _Polite(Polite):
    """Polite, and waits what a Bot API 429 asks in its body (`parameters.retry_after`)."""

    def server_wait(self, response: httpx.Response, throttled: bool) -> float | None:
        told = super().server_wait(response, throttled)
        if told is None and throttled:
            try:
                return float(response.json()["parameters"]["retry_after"])
            except (ValueError, KeyError, TypeError):
                return None
        return told


class Bot:
    """Calls Bot API methods with the source's token and politeness; errors explained."""

    def __init__(
        self,
        config: Config,
        client: httpx.AsyncClient,
        sleep: Sleep = asyncio.sleep,
        *,
        extra_timeout: float = 0.0,
    ) -> None:
        policy = config.http.model_copy(
            update={"timeout_seconds": config.http.timeout_seconds + extra_timeout}
        )
        self.polite = _Polite(
            client, policy, source=NAME, allow_private=config.allow_private, sleep=sleep
        )
        self.base = f"{config.api_url.rstrip('/')}/bot{config.bot_token.get_secret_value()}"

    async def call(self, method: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            return await self.polite.request("POST", f"{self.base}/{method}", json=payload)
        except SourceError as exc:
            raise _explained(exc, method) from None


def _explained(exc: SourceError, method: str) -> SourceError:
    """The Bot API's error, with what to do about it."""
    if exc.status is None:
        return exc  # not Telegram's answer: the outbound policy refused the address
    body = load_json(exc.body or "{}", NAME)
    said = str(body.get("description", "")) if isinstance(body, dict) else ""
    what = f"{NAME}: {method}: HTTP {exc.status} ({said or 'no description'})"
    if exc.status == 401:
        advice = "the bot token was revoked: get a new one from @BotFather and set bot_token"
    elif exc.status == 404:
        advice = "Telegram knows no bot with this token: copy the whole token from @BotFather"
    elif exc.status == 409 and "webhook" in said.lower():
        advice = (
            "a webhook is set for this bot, and Telegram then refuses getUpdates: remove it "
            "(deleteWebhook) or use another bot for Sada"
        )
    elif exc.status == 409:
        advice = "another process reads this bot's updates: run one telegram source per bot"
    elif exc.status == 403:
        advice = "the bot is not (or no longer) in that chat, or may not write there"
    else:
        advice = "check the chat and message the request names"
    return SourceError(f"{what}; {advice}", status=exc.status, body=exc.body)


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    once: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """Long-poll getUpdates forever from the saved offset; a failed call is retried with
    backoff (a revoked token or a conflict ends the fetch with SourceError). With `once`, ask
    without waiting and stop when caught up."""
    progress = Progress(NAME, config, cursors=cursors)
    wait = 0 if once else config.long_poll_seconds
    bot = Bot(config, client, sleep, extra_timeout=wait)
    failures = 0
    while True:
        request: dict[str, Any] = {
            "timeout": wait,
            "limit": config.page_limit,
            "allowed_updates": list(UPDATES),
        }
        if (offset := progress.get("offset")) is not None:
            request["offset"] = offset
        try:
            response = await bot.call("getUpdates", request)
            updates = decode(response.content)
            if isinstance(updates, Rejected):
                raise RetryLater(updates.reason)
        except RetryLater as exc:
            if once:
                raise
            failures += 1
            pause = backoff_seconds(
                failures,
                initial=config.http.backoff_initial_seconds,
                maximum=config.http.backoff_max_seconds,
                hint=exc.after_seconds,
            )
            log.warning("%s; asking again in %.1fs", exc, pause)
            await sleep(pause)
            continue
        failures = 0
        for item in observe(NAME, parse_updates(updates, chats=config.chats, fetched_at=now())):
            yield item
        if (following := next_offset(updates)) is not None:
            progress.save("offset", following)
        if once and len(updates) < config.page_limit:
            return


def reply_request(target: str, text: str) -> tuple[int, dict[str, Any]]:
    """The sendMessage body answering message `target` ("<chat id>:<message id>")."""
    chat, _, message = target.rpartition(":")
    if not (_CHAT_ID.match(chat) and message.isdigit()):
        raise SourceError(f"{NAME}: {target!r} is not a reply target (<chat id>:<message id>)")
    return int(chat), {
        "chat_id": int(chat),
        "text": text,
        "reply_parameters": {"message_id": int(message)},
    }


async def reply(config: Config, client: httpx.AsyncClient, target: str, text: str) -> str:
    """Send `text` as the bot in answer to message `target`; the answer's
    "<chat id>:<message id>" (the id its mention would have)."""
    chat, request = reply_request(target, text)
    response = await Bot(config, client).call("sendMessage", request)
    try:
        return f"{chat}:{int(field(response.json(), 'result', 'message_id'))}"
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(
            f"{NAME}: sendMessage answered without result.message_id ({exc}); look at the "
            "chat before answering again"
        ) from None


SOURCE = Source(NAME, Config, fetch, "streaming", reply=reply)
