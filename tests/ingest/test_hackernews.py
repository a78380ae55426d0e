from __future__ import annotations

import json
from pathlib import Path

import httpx

from core.errors import Rejected
from core.events import Mention, now
from ingest import hackernews
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import EVER, ReplayServer, Reply, Sleeps, fixture, only_mentions

PAGE = fixture("hackernews_search_by_date.json")


def config(server: ReplayServer, **kw: object) -> hackernews.Config:
    values: dict[str, object] = {
        "queries": ["acmecloud"],
        "base_url": server.url("/api/v1"),
        "hits_per_page": 4,
        "initial_lookback_seconds": EVER,
        "http": HttpPolicy(
            requests_per_second_per_host=1000, timeout_seconds=0.5, backoff_initial_seconds=2
        ),
        "allow_private": True,
    }  # the local server
    return hackernews.Config.model_validate({**values, **kw})


def test_parse_decodes_entities_and_markup_and_maps_stories_and_comments() -> None:
    comment, story, ask, link = only_mentions(hackernews.parse(PAGE, fetched_at=now()))
    assert comment.text.startswith(
        "We moved off AcmeCloud last month. Their support said "
        '"working as intended" & closed the ticket.\n\nLatency'
    )
    assert "40ms to 400ms overnight / no notice" in comment.text
    assert story.text == "AcmeCloud raises prices by 30% for EU customers"
    assert story.engagement.likes == 212 and story.engagement.replies == 57
    assert ask.text.startswith(
        "Ask HN: AcmeCloud OCR for Arabic & Persian?\n\nHas anyone tried AcmeCloud's Arabic OCR?"
    )
    assert '"دعم كامل للغة العربية"' in ask.text
    assert link.text == "Applauded by whom? https://example.org/acme"
    assert story.url == "https://news.ycombinator.com/item?id=46100001"
    assert story.created_at.isoformat() == "2026-11-25T08:58:41+00:00"
    assert story.uid == hackernews.parse(PAGE, fetched_at=now())[1].uid  # type: ignore[union-attr]


def test_parse_rejects_a_bad_hit_alone_and_a_bad_page_whole() -> None:
    body = json.loads(PAGE)
    body["hits"][1].pop("author")
    items = hackernews.parse(json.dumps(body), fetched_at=now())
    assert [type(i).__name__ for i in items] == ["Mention", "Rejected", "Mention", "Mention"]
    assert "author" in items[1].reason  # type: ignore[union-attr]
    (page,) = hackernews.parse(b'{"message":"Invalid numericFilters"}', fetched_at=now())
    assert isinstance(page, Rejected) and "no 'hits' list" in page.reason


async def test_fetch_pages_retries_resumes_and_loses_nothing(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    path = "/api/v1/search_by_date"
    store = CursorStore(tmp_path)

    async def one_round() -> list[Mention]:
        items = [
            i async for i in hackernews.fetch(config(server), client, cursors=store, sleep=sleeps)
        ]
        assert all(isinstance(i, Mention) for i in items)
        return items  # type: ignore[return-value]

    # Round 1: a 429, the first page, a 503, then the second page arrives malformed. The
    # page is not dead-lettered: the cursor stays, so the next round reads it again.
    server.script(
        path,
        Reply(429, "", {"Retry-After": "3"}),
        Reply(200, PAGE),
        Reply(503, "busy"),
        Reply(200, b'{"hits": [ {"objectID": '),
    )
    first = await one_round()
    assert sorted(m.source_id for m in first) == ["46099985", "46099990", "46100001", "46100002"]
    assert abs(sleeps.calls[0] - 3.0) < 0.1  # Retry-After honoured
    assert [r.query["page"] for r in server.seen(path)] == ["0", "0", "1", "1"]
    assert store.load("hackernews", config(server)) == {}

    # Round 2 reads the window again (duplicates, same uids) and completes it.
    server.script(path, Reply(200, PAGE), Reply(200, b'{"hits": []}'))
    second = await one_round()
    assert {m.uid for m in second} == {m.uid for m in first}

    # Round 3, after a restart: asks only for newer items, and drops the overlap it re-reads.
    server.script(path, Reply(200, PAGE))
    store = CursorStore(tmp_path)
    assert await one_round() == []
    newest = max(m.created_at for m in first)
    assert server.seen(path)[-1].query["numericFilters"] == (
        f"created_at_i>{int(newest.timestamp()) - config(server).overlap_seconds}"
    )


async def test_one_failing_query_does_not_stop_the_others(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    answers = {"broken": Reply(400, '{"message":"bad query"}'), "acmecloud": Reply(200, PAGE)}
    path = "/api/v1/search_by_date"

    server.script(path, answers["broken"], answers["acmecloud"])
    items = [
        i
        async for i in hackernews.fetch(
            config(server, queries=["broken", "acmecloud"], hits_per_page=100), client, sleep=sleeps
        )
    ]
    assert len(items) == 4


async def test_runner_style_rounds_resume_through_the_default_store(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/api/v1/search_by_date", Reply(200, PAGE))
    cfg = config(server, hits_per_page=100)
    first = [i async for i in hackernews.fetch(cfg, client, sleep=sleeps)]
    again = [i async for i in hackernews.fetch(cfg, client, sleep=sleeps)]
    assert (len(first), again) == (4, [])
