"""An HTTP endpoint where other tools POST mentions as JSON (shared-token auth).

`POST <path>` with `Authorization: Bearer <token>` and a JSON body: one record or an array of
records (see `PushRecord`). A request is all or nothing: if any record is invalid the answer is
422 listing each problem (record index, field, message) and nothing is queued, so a sender can
fix and resend the batch without creating duplicates. The runner consumes the queue through
`fetch` like any other source, and 202 comes only once it has produced the request's records
and the store's barrier returned (`sada ingest`: Kafka acknowledged them, acks=all), so a crash
after a 202 loses nothing; a crash before it leaves the sender to retry. A full queue answers
503 with Retry-After, pushing back on the sender instead of dropping records.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from core.errors import Rejected
from core.events import TEXT_MAX, Author, Engagement, Mention, make_uid, now
from ingest.cursor import default_store
from ingest.parsing import Item, explain, load_json
from ingest.polling import observe
from ingest.source import Source

NAME = "push"
log = logging.getLogger(__name__)


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr = Field(min_length=16, description="Shared bearer token senders present.")
    host: str = Field(default="127.0.0.1", description="Listen address (0.0.0.0: all).")
    port: int = Field(default=8088, ge=0, le=65535, description="Listen port (0: any free).")
    path: str = Field(default="/v1/mentions", pattern=r"^/", description="Endpoint path.")
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body.")
    max_records_per_request: int = Field(default=1000, gt=0, description="Largest batch.")
    queue_size: int = Field(
        default=10_000, gt=0, description="Records waiting for the runner before 503s."
    )


class PushRecord(BaseModel):
    """One mention as a sender describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origin: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        max_length=64,
        description="The sending tool or site; ids are unique within it.",
    )
    id: str = Field(min_length=1, max_length=512, description="The item's id at the origin.")
    text: str = Field(min_length=1, max_length=TEXT_MAX, description="Plain text.")
    created_at: datetime = Field(description="ISO 8601 with an offset or Z.")
    author: Author
    url: HttpUrl | None = None
    language: str | None = Field(default=None, max_length=35, description="BCP 47 tag, a hint.")
    engagement: Engagement = Engagement()


def _mention(raw: Any, fetched_at: datetime) -> Mention:
    record = PushRecord.model_validate(raw)
    if record.created_at.tzinfo is None:
        raise ValueError("created_at has no time zone; send ISO 8601 with an offset or Z")
    source_id = f"{record.origin}:{record.id}"
    return Mention(
        uid=make_uid(NAME, source_id),
        source=NAME,
        source_id=source_id,
        url=str(record.url) if record.url else None,
        author=record.author,
        text=record.text,
        language_hint=record.language,
        created_at=record.created_at,
        fetched_at=fetched_at,
        engagement=record.engagement,
    )


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A request body (one record or an array) to mentions; each bad record is rejected alone."""
    body = load_json(payload, NAME)
    return [body] if isinstance(body, Rejected) else _records(body, fetched_at)


def _records(body: Any, fetched_at: datetime) -> list[Item]:
    out: list[Item] = []
    for index, raw in enumerate(body if isinstance(body, list) else [body]):
        try:
            out.append(_mention(raw, fetched_at))
        except (ValidationError, ValueError) as exc:
            out.append(
                Rejected(
                    payload=json.dumps(raw, ensure_ascii=False, default=str),
                    reason=f"{NAME}: record {index}: {explain(exc)}",
                )
            )
    return out


def _problem(status: int, message: str, *, unread: bool = False, **extra: Any) -> web.Response:
    response = web.json_response({"error": message, **extra}, status=status)
    if unread:
        response.force_close()  # the sender may still be sending a body we will not read
    return response


def refusal(authorization: str | None, token: bytes) -> str | None:
    """Why an Authorization header is refused, or None. Only `Bearer <token>`; the token is
    compared in constant time, so response times do not tell how much of a guess was right."""
    if not authorization:
        return "no Authorization header"
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given:  # schemes are case-insensitive (RFC 9110)
        return "Authorization is not a Bearer token"
    if not hmac.compare_digest(given.encode(errors="surrogateescape"), token):
        return "wrong token"
    return None


async def read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The request's body, or None when it is over `limit` bytes (announced or as read; the
    application's client_max_size must be `limit`)."""
    if (request.content_length or 0) > limit:
        return None
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None


class Endpoint:
    """An HTTP endpoint whose accepted items wait in a queue for the runner (push, meta_webhook).

    Accepted items are numbered; `serve` counts those the runner has taken back (it asks for
    the next one only after producing the last), and `hand_over` returns once all of a
    request's own are counted and the barrier returned: only then may the request be answered.
    """

    def __init__(self, name: str, host: str, port: int, queue_size: int) -> None:
        self.name = name
        self.host = host
        self.queue: asyncio.Queue[Item] = asyncio.Queue(queue_size)
        self.queued = 0  # items accepted so far
        self.produced = 0  # of those, items the runner has produced
        self.progress = asyncio.Condition()
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """The endpoint's routes."""
        raise NotImplementedError

    async def start(self) -> None:
        # lingering_time: how long a refused upload is drained before the socket is closed
        self._runner = web.AppRunner(
            self.app(), handle_signals=False, access_log=None, lingering_time=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("%s: listening on http://%s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def has_room(self, count: int) -> bool:
        return self.queue.maxsize - self.queue.qsize() >= count

    async def hand_over(self, items: list[Item]) -> None:
        """Queue `items` (check `has_room` first) and return once the runner produced them
        and the store's barrier returned (`sada ingest`: Kafka acknowledged them, acks=all)."""
        for item in items:
            self.queue.put_nowait(item)
        self.queued += len(items)
        mine = self.queued
        async with self.progress:
            await self.progress.wait_for(lambda: self.produced >= mine)
        barrier = default_store().barrier
        if barrier is not None:
            barrier()  # blocks until Kafka acknowledged what was produced (a flush)

    async def count_produced(self) -> None:
        """The runner produced one more item: wake the requests waiting for it."""
        async with self.progress:
            self.produced += 1
            self.progress.notify_all()

    async def serve(self, *, once: bool = False) -> AsyncIterator[Item]:
        """Listen while the generator runs and yield what requests handed over; with `once`,
        stop after the first accepted request's items."""
        await self.start()
        try:
            while True:
                yield await self.queue.get()
                await self.count_produced()  # the runner is back for more: it produced that one
                if once and self.queue.empty():
                    return
        finally:
            await self.stop()


class PushServer(Endpoint):
    """The push endpoint: `start()` binds, `queue` holds accepted mentions."""

    def __init__(self, config: Config) -> None:
        super().__init__(NAME, config.host, config.port, config.queue_size)
        self.config = config
        self._token = config.token.get_secret_value().encode()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post(self.config.path, self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        refused = refusal(request.headers.get("Authorization"), self._token)
        if refused:
            response = _problem(
                401, f"{refused}; send 'Authorization: Bearer <token>'", unread=True
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if request.content_type != "application/json":
            return _problem(
                415,
                f"send Content-Type: application/json, not {request.content_type!r}",
                unread=True,
            )
        body = await read_bounded(request, self.config.max_body_bytes)
        if body is None:
            return _problem(
                413,
                f"body over {self.config.max_body_bytes} bytes; send smaller batches",
                unread=True,
            )
        decoded = load_json(body, NAME)
        if isinstance(decoded, Rejected):
            return _problem(400, decoded.reason)
        items = _records(decoded, now())
        if len(items) > self.config.max_records_per_request:
            return _problem(
                413,
                f"{len(items)} records in one request; the limit is "
                f"{self.config.max_records_per_request}",
            )
        rejected = [i for i in items if isinstance(i, Rejected)]
        if rejected:
            return _problem(
                422,
                f"{len(rejected)} of {len(items)} records are invalid; nothing was accepted",
                problems=[r.reason.removeprefix(f"{NAME}: ") for r in rejected],
            )
        if not self.has_room(len(items)):
            return web.json_response(
                {"error": "queue full; retry shortly"}, status=503, headers={"Retry-After": "1"}
            )
        observe(NAME, items)
        await self.hand_over(items)
        return web.json_response({"accepted": len(items)}, status=202)


def fetch(
    config: Config,
    client: httpx.AsyncClient | None = None,
    *,
    once: bool = False,
    server: PushServer | None = None,
) -> AsyncIterator[Item]:
    """Serve the endpoint while the generator runs and yield what senders pushed.

    `client` is unused (senders come to us); it is accepted so every source is called alike.
    With `once`, stop after the first accepted request's records. Pass `server` to learn the
    bound port (e.g. with `port=0`).
    """
    return (server or PushServer(config)).serve(once=once)


SOURCE = Source(NAME, Config, fetch, "streaming")
