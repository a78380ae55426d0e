"""The console against the real local Elasticsearch: two clients' mentions and alerts indexed
through the real sinks, users made as `sada console user add` makes them, and the app served on
a free port (aiohttp's test server) with a clock the tests can move."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from console.app import create_app
from console.auth import add_user, users_index
from console.state import forget
from core import connect
from core.config import SadaConfig, Settings
from core.events import Alert, AlertStatus, Author, Mention, ScoredMention, Sentiment, now
from core.live import LiveConfig
from sinks.elasticsearch import alerts_sink, mentions_sink

PASSWORD = "correct horse battery staple"
GROUP = -1001987654321  # a Telegram group the brand's bot reads


def scored(
    uid: str,
    client: str,
    brand: str,
    text: str,
    *,
    triage: str = "complaint",
    label: str = "negative",
    probability: float = 0.9,
    followers: int = 100,
    minutes_ago: float = 10,
    source: str = "telegram",
    reply_target: str | None = None,
    duplicate_of: str | None = None,
    language: str = "en",
) -> ScoredMention:
    at = now() - timedelta(minutes=minutes_ago)
    mention = Mention(
        uid=uid,
        source=source,
        source_id=uid,
        url=f"https://t.me/c/{uid}",
        author=Author(handle=f"user_{uid}", followers=followers),
        text=text,
        created_at=at,
        fetched_at=at,
        reply_target=reply_target,
    )
    return ScoredMention(
        mention=mention,
        client=client,
        brand=brand,
        matched_terms=[brand],
        text_normalized=text.casefold(),
        duplicate_of=duplicate_of,
        language=language,
        sentiment=Sentiment(label=label, probability=probability, model="test"),  # type: ignore[arg-type]
        triage=triage,  # type: ignore[arg-type]
    )


def alert(
    client: str,
    brand: str,
    *,
    sample_uids: list[str],
    status: AlertStatus = "open",
    minutes_ago: float = 5,
) -> Alert:
    at = now() - timedelta(minutes=minutes_ago)
    return Alert(
        id=f"{client}-{brand}-incident",
        status=status,
        client=client,
        brand=brand,
        kind="negative_share_spike",
        window_start=at,
        window_end=at,
        observed=0.8,
        expected=0.2,
        score=9.0,
        severity="critical",
        sample_uids=sample_uids,
        explanation=f"negative share 80% for {brand}, 20% usual",
        raised_at=at,
    )


MENTIONS = [
    scored("tg-1", "acme", "widget", "My widget broke after one day, refund please",
           followers=50_000, reply_target=f"{GROUP}:4821"),
    scored("tg-2", "acme", "widget", "الطلب متأخر منذ أسبوع، أين الشحنة؟", triage="question",
           label="neutral", language="ar", reply_target=f"{GROUP}:4822"),
    scored("camp-1", "acme", "widget", "Boycott widget now!", source="bluesky"),
    scored("camp-2", "acme", "widget", "Boycott widget now!!", source="bluesky",
           duplicate_of="camp-1"),
    scored("camp-3", "acme", "widget", "Boycott widget now!!!", source="bluesky",
           duplicate_of="camp-1"),
    scored("praise-1", "acme", "widget", "Love my widget", triage="praise", label="positive"),
    scored("gx-1", "globex", "soda", "Globex soda tastes flat, secret recipe leak", source="rss"),
]  # fmt: skip
ALERTS = [
    alert("acme", "widget", sample_uids=["tg-1"]),
    alert("globex", "soda", sample_uids=["gx-1"]),
]


def config(telegram_api: str = "http://127.0.0.1:9") -> SadaConfig:
    """Two clients; telegram answers through `telegram_api` (the test's double)."""
    return SadaConfig.model_validate({
        "clients": [
            {"id": "acme", "name": "Acme", "brands": [
                {"id": "widget", "name": "Widget", "include": ["widget"]},
                {"id": "gadget", "name": "Gadget", "include": ["gadget"]}]},
            {"id": "globex", "name": "Globex", "brands": [
                {"id": "soda", "name": "Soda", "include": ["soda"]}]},
        ],
        "sources": [{"source": "telegram", "bot_token": "7012345678:AAFakeTokenForTestsOnly_abc",
                     "chats": [str(GROUP)], "api_url": telegram_api, "allow_private": True}],
    })  # fmt: skip


async def index(settings: Settings, mentions: list[ScoredMention], alerts: list[Alert]) -> None:
    for sink, records in ((mentions_sink(settings), mentions), (alerts_sink(settings), alerts)):
        await sink.start()
        try:
            assert await sink.write(records) == []  # type: ignore[arg-type]
        finally:
            await sink.close()
    with connect.elasticsearch(settings) as es:
        es.indices.refresh(index=f"{settings.namespace}-*")


@dataclass
class Clock:
    at: float = 1_000_000.0

    def __call__(self) -> float:
        return self.at


@dataclass
class Console:
    """The served app, its clock, and logins."""

    server: TestServer
    clock: Clock
    settings: Settings
    clients: list[TestClient] = field(default_factory=list)

    async def client(self) -> TestClient:
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return client

    async def login(self, name: str, password: str = PASSWORD) -> TestClient:
        client = await self.client()
        response = await log_in(client, name=name, password=password)
        assert response.status == 303, await response.text()
        return client


async def log_in(client: TestClient, **fields: str) -> ClientResponse:
    """Log in as a browser does: the login page first (its token), then the form."""
    page = await (await client.get("/login")).text()
    found = re.search(r'name="login_token" value="([^"]+)"', page)
    assert found, "no login token in the login page"
    return await client.post(
        "/login", data={**fields, "login_token": found.group(1)}, allow_redirects=False
    )


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def version_of(page: str) -> str:
    found = re.search(r'name="version" value="([^"]*)"', page)
    assert found, "no version in the page"
    return found.group(1)


@pytest.fixture
def settings(settings: Settings) -> Iterator[Settings]:
    """The session's settings fixture, and afterwards the console's own indices go too."""
    yield settings
    with connect.elasticsearch(settings) as es:
        forget(es, settings.namespace)
        es.options(ignore_status=404).indices.delete(index=users_index(settings.namespace))


@pytest.fixture
async def indexed(settings: Settings) -> Settings:
    await index(settings, MENTIONS, ALERTS)
    with connect.elasticsearch(settings) as es:
        add_user(es, settings.namespace, "alice", ["acme"], False, PASSWORD)
        add_user(es, settings.namespace, "bob", ["acme"], False, PASSWORD)
        add_user(es, settings.namespace, "gina", ["globex"], False, PASSWORD)
        add_user(es, settings.namespace, "root", [], True, PASSWORD)
    return settings


@pytest.fixture
async def make_console(indexed: Settings) -> AsyncIterator[Callable[..., Awaitable[Console]]]:
    """Start consoles on free ports, with a clients file of `config(**kw)` each."""
    made: list[Console] = []

    async def make(**kw: Any) -> Console:
        clock = Clock()
        server = TestServer(
            create_app(indexed, LiveConfig(config(**kw)), clock=clock, poll_seconds=0.2)
        )
        made.append(Console(server, clock, indexed))
        return made[-1]

    yield make
    for console in made:
        for client in console.clients:
            await client.close()
        await console.server.close()


@pytest.fixture
async def console(make_console: Callable[..., Awaitable[Console]]) -> Console:
    return await make_console()
