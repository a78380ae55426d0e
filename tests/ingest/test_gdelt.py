from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected
from core.events import Mention, now
from ingest import gdelt
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import EVER, ReplayServer, Reply, Sleeps, fixture

PAGE = fixture("gdelt_artlist.json")
ERROR_PAGE = fixture("gdelt_error_page.html")


def config(server: ReplayServer, **kw: object) -> gdelt.Config:
    values: dict[str, object] = {
        "queries": ['"acme bank"'],
        "source_languages": ["arabic", "english", "french"],
        "base_url": server.url("/api/v2/doc/doc"),
        "initial_lookback_seconds": EVER,
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,
    }  # the local server
    return gdelt.Config.model_validate({**values, **kw})


def test_parse_maps_articles_with_language_codes_and_utc_seendates() -> None:
    arabic, english, french = gdelt.parse(PAGE, fetched_at=now())
    assert isinstance(arabic, Mention) and isinstance(english, Mention)
    assert arabic.text == "بنك أكمي يعلن نتائج الربع الثالث وارتفاع الأرباح 12%"
    assert arabic.language_hint == "ar" and arabic.author.handle == "example-news.ae"
    assert arabic.created_at == datetime(2026, 11, 25, 8, 15, tzinfo=UTC)
    assert english.url == "https://www.dailybiz.example.com/markets/acme-bank-outage-europe"
    assert english.text == "Acme Bank outage hits card payments across Europe"
    assert english.source_id == english.url  # the same article from two queries: one uid


def test_parse_handles_empty_results_error_pages_and_control_characters() -> None:
    assert gdelt.parse(b"{}", fetched_at=now()) == []
    (page,) = gdelt.parse(ERROR_PAGE, fetched_at=now())
    assert isinstance(page, Rejected)
    assert (
        "GDELT answered with text, not JSON: 'Your search contained a phrase that was too "
        "short." in page.reason
    )
    raw = (
        '{"articles": [{"url": "https://a.example/x", "title": "tab\there", '
        '"seendate": "20261125T081500Z", "domain": "a.example", "language": "Urdu"}]}'
    )
    (article,) = gdelt.parse(raw, fetched_at=now())
    assert isinstance(article, Mention) and article.text == "tab here"


def test_query_text_adds_the_sourcelang_filter() -> None:
    assert gdelt.query_text("acme", []) == "acme"
    assert gdelt.query_text("acme", ["arabic"]) == "acme sourcelang:arabic"
    assert gdelt.query_text('"acme bank"', ["arabic", "english"]) == (
        '"acme bank" (sourcelang:arabic OR sourcelang:english)'
    )


async def test_fetch_pages_by_time_window_and_resumes(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    articles = json.loads(PAGE)["articles"]
    path = "/api/v2/doc/doc"
    server.script(
        path,
        Reply(200, json.dumps({"articles": articles[:2]})),
        Reply(200, json.dumps({"articles": articles[1:]})),
        Reply(200, json.dumps({"articles": articles[2:]})),
    )
    store = CursorStore(tmp_path)
    cfg = config(server, max_records=2)
    items = [i async for i in gdelt.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert [i.language_hint for i in items] == ["ar", "en", "fr"]  # type: ignore[union-attr]
    first, second, third = server.seen(path)
    assert (
        first.query["query"] == '"acme bank" (sourcelang:arabic OR sourcelang:english OR '
        "sourcelang:french)"
    )
    assert (first.query["mode"], first.query["format"], first.query["sort"]) == (
        "ArtList",
        "json",
        "DateAsc",
    )
    assert second.query["startdatetime"] == "20261125084500"  # the full page's newest article
    assert third.query["startdatetime"] == "20261125091500"

    server.script(path, Reply(200, PAGE))
    again = [i async for i in gdelt.fetch(cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps)]
    assert again == []
    assert server.seen(path)[3].query["startdatetime"] == "20261125090000"  # newest - overlap


@pytest.mark.parametrize("body", [ERROR_PAGE, fixture("gdelt_rate_limit.txt")])
async def test_a_200_error_body_keeps_the_cursor_and_the_next_round_recovers(
    body: bytes, server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    path = "/api/v2/doc/doc"
    server.script(path, Reply(200, body, {"Content-Type": "text/html"}))
    store = CursorStore(tmp_path)
    assert [i async for i in gdelt.fetch(config(server), client, cursors=store, sleep=sleeps)] == []
    assert store.load("gdelt", config(server)) == {}
    server.script(path, Reply(200, PAGE))
    assert (
        len([i async for i in gdelt.fetch(config(server), client, cursors=store, sleep=sleeps)])
        == 3
    )
