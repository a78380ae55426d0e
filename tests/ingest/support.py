"""Test helpers for sources: a local HTTP server replaying scripted responses, a recording sleep.

Sources are tested through a real socket: each test scripts what a path answers (429 with
Retry-After, 5xx, a hang past the client timeout, malformed JSON, a body cut mid-stream) and
checks what the source made of it. Waits go through `Sleeps`, which records what was asked
and sleeps a scaled-down amount, so the retry logic is real and the suite stays fast.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from core.events import COUNT_MAX, Mention
from ingest.parsing import Item

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "sources"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # answer late: longer than the client timeout means a timeout
    cut: bool = False  # announce the whole body, send half of it, drop the connection


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    pairs: list[tuple[str, str]]  # every query parameter, repeated ones included
    headers: dict[str, str]
    body: bytes
    at: float


class ReplayServer:
    """Serves each path's replies in order; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self.base_url = ""

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts[path] = list(replies)

    def url(self, path: str = "") -> str:
        return f"{self.base_url}{path}"

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Seen(
                request.path,
                dict(request.query),
                list(request.query.items()),
                dict(request.headers),
                await request.read(),
                time.monotonic(),
            )
        )
        replies = self.scripts.get(request.path)
        if not replies:
            return web.Response(status=404, text=f"no script for {request.path}")
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        if reply.cut:
            response = web.StreamResponse(status=reply.status, headers=reply.headers)
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        return web.Response(status=reply.status, body=body, headers=reply.headers)


class Sleeps:
    """Records every requested wait and sleeps `scale` of it (capped), for retry-timing tests."""

    def __init__(self, scale: float = 0.001) -> None:
        self.scale = scale
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(min(seconds * self.scale, 0.05))


@asynccontextmanager
async def serve() -> AsyncIterator[ReplayServer]:
    """Run a ReplayServer on a free loopback port for the duration of the block."""
    replay = ReplayServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", replay.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    replay.base_url = f"http://127.0.0.1:{port}"
    try:
        yield replay
    finally:
        await runner.cleanup()


def _parsers() -> dict[str, Callable[[bytes], list[Item]]]:
    """Each source's pure parser with fixed context, keyed by source name (tests and bench)."""
    from core.events import now
    from ingest import (
        appstore,
        bluesky,
        facebook,
        gdelt,
        googleplay,
        hackernews,
        instagram,
        mastodon,
        meta_webhook,
        push,
        reddit,
        rss,
        telegram,
        telegram_preview,
        x,
        youtube,
    )

    everything = ("",)  # a term every text contains: the Jetstream filter keeps every post
    return {
        "bluesky": lambda p: [
            i
            for line in p.splitlines()
            if line.strip()
            for i in bluesky.parse(line, terms=everything, fetched_at=now())
        ],
        "mastodon": lambda p: mastodon.parse(
            p, instance="https://social.example", fetched_at=now()
        ),
        "hackernews": lambda p: hackernews.parse(p, fetched_at=now()),
        "facebook": lambda p: facebook.parse_comments(
            p,
            post_id="104828591234567_881234567890123",
            page_id="104828591234567",
            fetched_at=now(),
        ),
        "instagram": lambda p: instagram.parse_comments(
            p, media_id="17895695668004550", permalink=None, fetched_at=now()
        ),
        "rss": lambda p: rss.parse(p, feed_url="https://feed.example/rss", fetched_at=now()),
        "appstore": lambda p: appstore.parse(
            p, country="sa", app_id="1234567890", fetched_at=now()
        ),
        "googleplay": lambda p: googleplay.parse(
            p, package="com.acmebank.mobile", fetched_at=now()
        ),
        "reddit": lambda p: reddit.parse(p, fetched_at=now()),
        "gdelt": lambda p: gdelt.parse(p, fetched_at=now()),
        "push": lambda p: push.parse(p, fetched_at=now()),
        "telegram": lambda p: telegram.parse(
            p, chats=["@acmebank_community", "@acmebank", "-1002233445566"], fetched_at=now()
        ),
        "telegram_preview": lambda p: telegram_preview.parse(p, fetched_at=now()),
        "youtube": lambda p: youtube.parse(p, fetched_at=now()),
        "meta_webhook": lambda p: meta_webhook.parse(p, fetched_at=now()),
        "x": lambda p: x.parse(p, fetched_at=now()),
    }


PARSERS = _parsers()

# Our own fixtures, by source: every one must parse to mentions.
OWN_FIXTURES = {
    "bluesky": ["bluesky_jetstream_events.jsonl"],
    "mastodon": ["mastodon_tag_timeline.json"],
    "hackernews": ["hackernews_search_by_date.json"],
    "facebook": ["facebook_post_comments.json"],
    "instagram": ["instagram_media_comments.json"],
    "rss": [
        "rss_google_news_ar.xml",
        "rss_arabic_windows1256.xml",
        "rss_french_misdeclared_cp1252.xml",
        "atom_fintech_weekly.xml",
    ],
    "appstore": ["appstore_customerreviews_sa.json"],
    "googleplay": ["googleplay_reviews_list.json"],
    "reddit": ["reddit_search_new.json"],
    "gdelt": ["gdelt_artlist.json"],
    "push": ["push_batch.json"],
    "telegram": ["telegram_getUpdates.json"],
    "telegram_preview": [
        "telegram_preview_channel.html",
        "telegram_preview_channel_before.html",
    ],
    "youtube": ["youtube_commentThreads_list.json"],
    "meta_webhook": ["meta_webhook_page_feed.json", "meta_webhook_instagram.json"],
    "x": ["x_search_recent_page1.json", "x_search_recent_page2.json"],
}

# A lookback reaching every fixture (they are dated 2026) however late the tests run.
EVER = 20 * 365 * 86400


def only_mentions(items: list[Item]) -> list[Mention]:
    """The items, checked to be mentions (for tests that expect no Rejected)."""
    assert all(isinstance(i, Mention) for i in items), items
    return [i for i in items if isinstance(i, Mention)]


OVERSIZE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class HostileFile:
    """A replay file mixing good lines with lines a stage must dead-letter and go past."""

    path: Path
    good: list[Mention]  # every good line, in file order
    bad: list[str]  # for each bad line, in file order, what its dead letter's reason says
    oversize_bytes: int  # length of the one oversize line


def write_hostile_replay(
    path: Path, *, before: int = 10, after: int = 1000, oversize_bytes: int = OVERSIZE_BYTES
) -> HostileFile:
    """Write `before` good lines, a Mention of `oversize_bytes` (all but the size is valid: a
    20 MB text), lines breaking the contract each in its own way (not JSON, a missing field,
    counts beyond Elasticsearch's long, a 40 KB handle, years 9999 and 1, a newer schema), then
    `after` good lines. For the replay tests and the chaos suite."""
    from ingest import synthetic

    good = list(synthetic.generate(synthetic.Config(count=before + after, spike_minutes=0)))
    model = good[0].model_dump(mode="json")

    def broken(n: int, author: dict[str, object] | None = None, **fields: object) -> str:
        record = {**model, **fields, "uid": f"hostile-{n}", "source_id": f"hostile-{n}"}
        record["author"] = {**model["author"], **(author or {})}
        return json.dumps(record, ensure_ascii=False)

    empty = broken(0, text="")
    oversize = broken(0, text="x" * (oversize_bytes - len(empty.encode())))
    garbage = [
        ("not json at all", "not a valid Mention"),
        ('{"uid": 1}', "source: Field required"),
        ("\x00\x01\x02", "not a valid Mention"),
        (broken(1, author={"followers": 1e30}), "followers: Input should be a valid integer"),
        (broken(2, engagement={"likes": COUNT_MAX + 1}), f"less than or equal to {COUNT_MAX}"),
        (broken(3, author={"handle": "h" * 40_000}), "at most 256 characters"),
        (broken(4, created_at="9999-12-31T00:00:00Z"), "more than a day ahead"),
        (broken(5, created_at="0001-01-01T00:00:00Z"), "greater than or equal to 2000-01-01"),
        (broken(6, schema_version=2), "schema_version 2 is newer than this stage knows"),
    ]
    with path.open("w", encoding="utf-8") as out:
        out.writelines(m.model_dump_json() + "\n" for m in good[:before])
        out.write(oversize + "\n")
        out.writelines(line + "\n" for line, _ in garbage)
        out.writelines(m.model_dump_json() + "\n" for m in good[before:])
    reasons = [f"line of {oversize_bytes} bytes exceeds", *(says for _, says in garbage)]
    return HostileFile(path, good, reasons, oversize_bytes)
