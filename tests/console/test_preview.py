"""Query preview: the matcher's explanations on a client's recent mentions from the real local
Elasticsearch, found words marked, errors as `sada config check` gives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import preview
from core import connect
from core.config import Settings
from core.events import Author, Mention, ScoredMention, Sentiment
from processors.match import compile_query
from sinks.elasticsearch import mentions_sink
from tests.console.conftest import Console

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def scored(
    uid: str, client: str, text: str, source: str = "bluesky", minutes: int = 0
) -> ScoredMention:
    at = NOW - timedelta(minutes=minutes)
    mention = Mention(uid=uid, source=source, source_id=uid, author=Author(handle=f"u{uid}"),
                      text=text, created_at=at, fetched_at=at, url=f"https://x.example/{uid}")  # fmt: skip
    return ScoredMention(
        mention=mention, client=client, brand="air", matched_terms=["air"],
        text_normalized=text.casefold(), language="en",
        sentiment=Sentiment(label="neutral", probability=0.5, model="test"), triage="other",
    )  # fmt: skip


MENTIONS = [
    scored("a1", "acme", "Flying Skyline Air <today>, lovely crew", minutes=1),
    scored("a2", "acme", "Skyline Air lost my bag, refund please", minutes=2),
    scored("a3", "acme", "#SkylineAir سكاي لاين متأخرة", source="rss", minutes=3),
    scored("a4", "acme", "nothing to see here", minutes=4),
    scored("g1", "globex", "Skyline Air is another client's business"),
]


async def test_a_query_on_the_clients_recent_mentions_says_which_match_and_why(
    settings: Settings,
) -> None:
    sink = mentions_sink(settings)
    await sink.start()
    try:
        assert await sink.write(MENTIONS) == []
    finally:
        await sink.close()
    with connect.elasticsearch(settings) as es:
        es.indices.refresh(index=f"{settings.namespace}-*")
    es_async = connect.async_elasticsearch(settings)
    try:
        found = await preview.load(
            es_async, settings.namespace, "acme", '("Skyline Air" OR SkylineAir) NOT refund'
        )
        only_rss = await preview.load(
            es_async, settings.namespace, "acme", "SkylineAir source:rss", 2
        )
    finally:
        await es_async.close()

    assert found.problem is None and found.tried == 4  # globex's mention is never read
    assert [r.doc["uid"] for r in found.matches] == ["a1", "a3"]  # newest first
    first = found.matches[0]
    assert (
        str(first.marked)
        == "Flying <mark>Skyline</mark> <mark>Air</mark> &lt;today&gt;, lovely crew"
    )
    assert first.trial.findings[0].detail == "found 'skyline air', as written"
    assert "<mark>#SkylineAir</mark>" in str(found.matches[1].marked)

    assert only_rss.tried == 2 and only_rss.matches == []  # a3 is the third newest
    assert only_rss.problem is None


@pytest.mark.parametrize(
    ("query", "position"),
    [("(apple", 6), ('"skyline air', 12), ("NOT x", None)],
)
def test_a_bad_query_is_refused_as_config_check_refuses_it(
    query: str, position: int | None
) -> None:
    problem = preview.compile_or_problem(query)
    assert isinstance(problem, preview.Problem)
    with pytest.raises(Exception) as raised:
        compile_query(query)
    assert problem.message == str(raised.value) and problem.position == position


async def test_a_bad_query_reads_no_mentions(settings: Settings) -> None:
    es = connect.async_elasticsearch(settings)
    try:
        found = await preview.load(es, settings.namespace, "acme", "(apple")
    finally:
        await es.close()
    assert found.tried == 0 and found.problem is not None
    assert "at character 7" in found.problem.message


def test_the_source_filter_is_judged_on_the_mentions_own_source() -> None:
    compiled = preview.compile_or_problem("air source:rss")
    assert not isinstance(compiled, preview.Problem)
    docs = [{"uid": "x", "source": "rss", "text": "air", "created_at": NOW.isoformat()}]
    (match,) = preview.preview("air source:rss", compiled, docs).matches
    assert match.trial.findings[-1].detail == "holds: its source is rss"


def test_highlight_escapes_the_text_and_marks_pieces_with_found_words() -> None:
    marked = preview.highlight("<b>Skyline</b> والسكاي\nair!", {"air", "والسكاي"})
    assert str(marked) == "&lt;b&gt;Skyline&lt;/b&gt; <mark>والسكاي</mark>\n<mark>air!</mark>"


async def test_the_preview_page_marks_matches_and_points_at_errors(console: Console) -> None:
    alice = await console.login("alice")
    empty = await alice.get("/preview")
    assert empty.status == 200 and 'data-testid="preview-form"' in await empty.text()
    response = await alice.get("/preview", params={"q": "widget NOT love", "size": "50"})
    page = await response.text()
    assert response.status == 200, page
    assert page.count('data-testid="preview-match"') >= 4 and "<mark>widget</mark>" in page
    assert "Love my widget" not in page and "Globex" not in page
    bad = await (await alice.get("/preview", params={"q": "(widget"})).text()
    assert 'data-testid="preview-error"' in bad and "at character 8" in bad
    assert "(widget\n" + " " * 7 + "^</pre>" in bad


@pytest.mark.parametrize(
    ("user", "query", "status"),
    [("alice", {"client": "globex", "q": "soda"}, 403), ("gina", {"client": "acme"}, 403),
     ("alice", {"q": "widget", "size": "0"}, 400), ("root", {"client": "globex", "q": "soda"}, 200)],
)  # fmt: skip
async def test_the_preview_page_refuses_another_client(
    console: Console, user: str, query: dict[str, str], status: int
) -> None:
    client = await console.login(user)
    response = await client.get("/preview", params=query)
    assert response.status == status, await response.text()
