"""Meta's real-time webhooks for Facebook Pages (`feed`) and Instagram (`comments`,
`mentions`), through one verified endpoint.

- `GET <path>?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...` is Meta's
  verification handshake: the challenge comes back as the body when the token is the
  configured `verify_token`, 403 otherwise.
- `POST <path>` carries a delivery. Its raw body must be signed: `X-Hub-Signature-256:
  sha256=<hex HMAC-SHA256 of the body keyed with the app secret>`, compared in constant time
  before anything is parsed; a missing or wrong signature is a 401 and nothing is produced.
  A body over `max_body_bytes` is a 413.
- A signed delivery is answered 200 once its items are produced and flushed (push.Endpoint):
  Meta retries a delivery that was not answered 200, so an accepted event is never lost, and
  a retried one maps to the same uids. A signed body that is not a delivery is dead-lettered
  (Rejected, with the reason) and still answered 200: sending it again would not mend it.

The uids are the polling sources': `make_uid("facebook", <comment or post id>)` and
`make_uid("instagram", <comment or media id>)`, so a comment seen both here and by polling is
one document. Mentions carry `source` "facebook" or "instagram" for the same reason (a reply
goes through that source's `reply`).

Feed changes: `item` comment, post or status; `verb` add (a Mention), edited or edit (the same
uid with `edited_at`), remove or delete (a Removal), hide (a Removal: the Page hid it from the
public), unhide (a Mention again when the change carries the text). Changes by the Page itself
(its own posts and replies), reactions, likes and shares are skipped.

Instagram `mentions` carry only ids: the endpoint reads the comment or caption through the
Graph API (instagram.read_mention, with the `instagram` account's token) before producing, all
of a delivery's reads within `mention_read_seconds` so that Meta still gets its answer in time.
A mention that cannot be read (no `instagram` account configured, a Graph error, no answer in
time) is dead-lettered with its ids and the reason, so none is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core.errors import Rejected, SadaError
from core.events import Author, Mention, Removal, make_uid, now
from ingest import instagram as ig
from ingest.convert import from_epoch
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import observe
from ingest.push import Endpoint, read_bounded
from ingest.source import Source

NAME = "meta_webhook"
FACEBOOK = "facebook"  # the polling sources' names: the uids must be theirs
INSTAGRAM = "instagram"
SIGNATURE_HEADER = "X-Hub-Signature-256"

FEED_ITEMS = frozenset({"comment", "post", "status"})
EDITED = frozenset({"edited", "edit"})  # Meta sends both spellings
REMOVED = {"remove": "deleted", "delete": "deleted", "hide": "hidden by the page"}


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    app_secret: SecretStr = Field(
        min_length=16, description="The Meta app's secret: Meta signs every delivery with it."
    )
    verify_token: SecretStr = Field(
        min_length=16,
        description="Any long random string, also typed into the app dashboard's webhook "
        "settings; Meta presents it in the verification handshake.",
    )
    host: str = Field(default="127.0.0.1", description="Listen address (0.0.0.0: all).")
    port: int = Field(default=8089, ge=0, le=65535, description="Listen port (0: any free).")
    path: str = Field(default="/meta/webhook", pattern=r"^/", description="Callback path.")
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest delivery.")
    queue_size: int = Field(
        default=10_000, gt=0, description="Items waiting for the runner before 503s."
    )
    instagram: ig.Config | None = Field(
        default=None,
        description="The Instagram account of the `mentions` webhook: an instagram source's "
        "config (its table above; ig_user_id, access_token, app_secret for appsecret_proof). "
        "@mentions are read through it; without it they are dead-lettered with their ids.",
    )
    mention_read_seconds: float = Field(
        default=5.0,
        gt=0,
        le=15,
        description="Longest wait for a delivery's @mention reads before it is answered (Meta "
        "retries a delivery not answered in time); one not read by then is dead-lettered.",
    )


@dataclass(frozen=True)
class MentionIds:
    """An Instagram `mentions` change: only ids; the text is read through the Graph API."""

    media_id: str
    comment_id: str | None

    def unread(self, why: str) -> Rejected:
        """The ids kept as a dead letter, with why the mention could not be read."""
        ids = {"media_id": self.media_id} | (
            {"comment_id": self.comment_id} if self.comment_id else {}
        )
        return Rejected(
            payload=json.dumps(ids), reason=f"{NAME}: Instagram @mention not read: {why}"
        )


# -- parsing: a delivery's body to items (pure) ----------------------------------------------


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A delivery to items, its @mentions dead-lettered unread (tests and the benchmark; the
    endpoint reads them: `changes`)."""
    return [
        i.unread("no instagram account configured to read it") if isinstance(i, MentionIds) else i
        for i in changes(payload, fetched_at=fetched_at)
    ]


def changes(payload: bytes | str, *, fetched_at: datetime) -> list[Item | MentionIds]:
    """A delivery (`{"object", "entry": [{"id", "time", "changes": [...]}]}`) to items and the
    ids of @mentions to read; a bad change is rejected alone, a body that is no delivery as a
    whole."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    kind = body.get("object") if isinstance(body, dict) else None
    entries = body.get("entry") if isinstance(body, dict) else None
    if kind not in ("page", "instagram") or not isinstance(entries, list):
        return [
            Rejected(
                payload=text_of(payload),
                reason=f"{NAME}: not a Page or Instagram webhook delivery (expected "
                f"{{'object': 'page' | 'instagram', 'entry': [...]}}, got object={kind!r})",
            )
        ]
    build = partial(_change, fetched_at=fetched_at)
    out: list[Item | MentionIds] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and "messaging" in entry and "changes" not in entry:
            continue  # Messenger / Instagram messaging: not a field this source reads
        # Meta's Instagram examples also show one change inline in the entry
        changes = (
            entry.get("changes", [entry] if "field" in entry else None)
            if isinstance(entry, dict)
            else None
        )
        if not isinstance(changes, list):
            out.append(
                Rejected(
                    payload=json.dumps(entry, ensure_ascii=False, default=str),
                    reason=f"{NAME}: entry {index} has no 'changes' list",
                )
            )
            continue
        head = {"object": kind, "entry_id": entry.get("id"), "time": entry.get("time")}
        out += each(({**head, "change": c} for c in changes), build, NAME)
    return out


def _change(raw: dict[str, Any], *, fetched_at: datetime) -> Mention | Removal | MentionIds | None:
    """One change (with its entry's object, id and time) to an item, or None if it is not one
    Sada reads."""
    name = field(raw, "change", "field")
    value = field(raw, "change", "value")
    if raw["object"] == "page":
        return _feed(raw, value, fetched_at) if name == "feed" else None
    if name in ("comments", "live_comments"):
        return _ig_comment(raw, value, fetched_at)
    if name == "mentions":
        comment = value.get("comment_id") if isinstance(value, dict) else None
        return MentionIds(str(field(value, "media_id")), str(comment) if comment else None)
    return None


def _feed(raw: dict[str, Any], value: Any, fetched_at: datetime) -> Mention | Removal | None:
    item, verb = field(value, "item"), field(value, "verb")
    if item not in FEED_ITEMS:
        return None  # reactions, likes, shares, photos: not a mention
    source_id = str(field(value, "comment_id" if item == "comment" else "post_id"))
    sent = from_epoch(field(raw, "time"))
    if verb in REMOVED:
        return Removal(
            uid=make_uid(FACEBOOK, source_id),
            source=FACEBOOK,
            source_id=source_id,
            removed_at=sent,
            reason=REMOVED[verb],
        )
    if verb not in ("add", "unhide", *EDITED) or (verb == "unhide" and "message" not in value):
        return None
    author = value.get("from") or {}
    if author.get("id") is not None and str(author["id"]) == str(raw["entry_id"]):
        return None  # the Page's own post or reply
    post_id = str(field(value, "post_id"))
    return Mention(
        uid=make_uid(FACEBOOK, source_id),
        source=FACEBOOK,
        source_id=source_id,
        url=f"https://www.facebook.com/{source_id}",
        author=Author(handle=str(author.get("id", "")), name=author.get("name")),
        text=str(value.get("message", "")),
        created_at=from_epoch(value.get("created_time", raw["time"])),
        fetched_at=fetched_at,
        parent_id=str(value.get("parent_id") or post_id) if item == "comment" else None,
        reply_target=source_id,  # a comment is answered by a reply, a post by a comment
        edited_at=sent if verb in EDITED else None,
    )


def _ig_comment(raw: dict[str, Any], value: Any, fetched_at: datetime) -> Mention:
    source_id = str(field(value, "id"))
    media_id = str(field(value, "media", "id"))
    return Mention(
        uid=make_uid(INSTAGRAM, source_id),
        source=INSTAGRAM,
        source_id=source_id,
        author=Author(handle=str(field(value, "from", "username"))),
        text=str(field(value, "text")),
        created_at=from_epoch(field(raw, "time")),  # the comment carries no time of its own
        fetched_at=fetched_at,
        parent_id=str(value.get("parent_id") or media_id),
        reply_target=source_id,
    )


# -- the endpoint -----------------------------------------------------------------------------


def signature_refusal(header: str | None, body: bytes, secret: bytes) -> str | None:
    """Why a delivery's signature is refused, or None. Compared in constant time."""
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    scheme, _, given = header.partition("=")
    if scheme != "sha256" or not given:
        return f"{SIGNATURE_HEADER} is not 'sha256=<hex>'"
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().lower().encode(errors="replace"), expected.encode()):
        return "signature does not match the body (is app_secret the app's secret?)"
    return None


def verification(query: Any, verify_token: bytes) -> str | None:
    """The challenge to echo if the handshake's mode and token are right, else None."""
    token = str(query.get("hub.verify_token", "")).encode(errors="surrogateescape")
    right = hmac.compare_digest(token, verify_token)
    if query.get("hub.mode") == "subscribe" and right and query.get("hub.challenge"):
        return str(query["hub.challenge"])
    return None


class WebhookServer(Endpoint):
    """The callback URL Meta calls: `start()` binds, `queue` holds accepted items."""

    def __init__(self, config: Config, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(NAME, config.host, config.port, config.queue_size)
        self.config = config
        self.client = client  # for the Graph reads of @mentions
        self._secret = config.app_secret.get_secret_value().encode()
        self._verify = config.verify_token.get_secret_value().encode()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_get(self.config.path, self._verify_subscription)
        app.router.add_post(self.config.path, self._receive)
        return app

    async def _verify_subscription(self, request: web.Request) -> web.Response:
        challenge = verification(request.query, self._verify)
        if challenge is None:
            return web.Response(status=403, text="wrong hub.mode or hub.verify_token")
        return web.Response(text=challenge)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await read_bounded(request, self.config.max_body_bytes)
        if body is None:
            response = web.Response(status=413, text=f"over {self.config.max_body_bytes} bytes")
            response.force_close()  # the rest of the body is not read
            return response
        refused = signature_refusal(request.headers.get(SIGNATURE_HEADER), body, self._secret)
        if refused:
            return web.Response(status=401, text=refused)
        items = await self._read_mentions(changes(body, fetched_at=now()))
        if not self.has_room(len(items)):
            return web.Response(status=503, text="queue full", headers={"Retry-After": "1"})
        observe(NAME, items)
        await self.hand_over(items)
        return web.json_response({"received": len(items)})

    async def _read_mentions(self, found: list[Item | MentionIds]) -> list[Item]:
        """`found` with each @mention's ids replaced by what they point at, read concurrently
        within mention_read_seconds; one that cannot be read becomes a dead letter."""
        ids = [i for i in found if isinstance(i, MentionIds)]
        read = dict(zip(ids, await asyncio.gather(*map(self._read, ids)), strict=True))
        return [x for i in found for x in (read[i] if isinstance(i, MentionIds) else [i])]

    async def _read(self, ids: MentionIds) -> list[Item]:
        account, seconds = self.config.instagram, self.config.mention_read_seconds
        if account is None or self.client is None:
            return [ids.unread("no instagram account configured to read it")]
        try:
            async with asyncio.timeout(seconds):
                return await ig.read_mention(
                    account, self.client, media_id=ids.media_id, comment_id=ids.comment_id
                )
        except TimeoutError:
            return [ids.unread(f"the Graph API did not answer within {seconds:g}s")]
        except SadaError as exc:
            return [ids.unread(str(exc))]


def fetch(
    config: Config,
    client: httpx.AsyncClient | None = None,
    *,
    once: bool = False,
    server: WebhookServer | None = None,
) -> AsyncIterator[Item]:
    """Serve the callback URL while the generator runs and yield what Meta delivered.

    `client` reads the @mentions' text (Meta sends their ids only). With `once`, stop after the
    first delivery's items. Pass `server` to learn the bound port (e.g. with `port=0`).
    """
    return (server or WebhookServer(config, client)).serve(once=once)


SOURCE = Source(NAME, Config, fetch, "streaming")
