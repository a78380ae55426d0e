"""Brand pulse: each request against the real local Elasticsearch (documents indexed by the real
sink), each reading on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import pulse
from core import connect
from core.config import Brand, Client, SadaConfig, Settings, load_config
from core.events import Author, Mention, ScoredMention, Sentiment
from ingest import synthetic
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process_batch
from sada import SAMPLE_CONFIG
from sinks.elasticsearch import mentions_sink
from tests.console.conftest import Console

NOW = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
CONFIG = SadaConfig.model_validate({"clients": [
    {"id": "acme", "name": "Acme", "brands": [
        {"id": "widget", "name": "Widget", "include": ["widget"]},
        {"id": "gadget", "name": "Gadget", "include": ["gadget"]},
        {"id": "rival", "name": "Rival", "include": ["rival"], "competitor": True}]},
    {"id": "globex", "name": "Globex", "brands": [
        {"id": "soda", "name": "Soda", "include": ["soda"]}]},
]})  # fmt: skip
ACME = CONFIG.clients[0]


def scored(
    n: int,
    client: str,
    brand: str,
    text: str,
    hours_ago: float,
    *,
    negative: bool = False,
    author: str = "fan",
    followers: int = 10,
    language: str = "en",
    source: str = "bluesky",
) -> ScoredMention:
    at = NOW - timedelta(hours=hours_ago)
    mention = Mention(uid=f"{brand}-{n}", source=source, source_id=str(n),
                      author=Author(handle=author, followers=followers), text=text,
                      created_at=at, fetched_at=at)  # fmt: skip
    sentiment = Sentiment(label="negative" if negative else "positive", probability=0.9, model="t")
    return ScoredMention(
        mention=mention, client=client, brand=brand, matched_terms=[brand], text_normalized=text,
        language=language, sentiment=sentiment,
        triage="complaint" if negative else "praise",
    )  # fmt: skip


LAST_DAY = [  # 6 mentions of widget in the last 24 hours, 3 negative, about refunds
    scored(i, "acme", "widget", f"widget broken again, refund please {i}", hours_ago=i * 3 + 0.5,
           negative=i % 2 == 0, author="angry", followers=5)
    for i in range(6)
]  # fmt: skip
WEEK = [  # 10 of widget in the days before, praise
    scored(10 + i, "acme", "widget", f"love my widget, nice colour {i}", hours_ago=30 + i * 12,
           author=f"fan{i % 2}", followers=1000 * (i + 1), language="ar" if i < 4 else "en",
           source="rss")
    for i in range(10)
]  # fmt: skip
OTHERS = [
    scored(20, "acme", "gadget", "gadget is fine", hours_ago=5),
    scored(21, "acme", "gadget", "gadget arrived", hours_ago=50),
    *(scored(30 + i, "acme", "rival", f"rival is cheaper {i}", hours_ago=10 + i) for i in range(4)),
    *(scored(40 + i, "globex", "soda", "soda widget", hours_ago=2) for i in range(7)),
]


async def _index(settings: Settings) -> None:
    sink = mentions_sink(settings)
    await sink.start()
    try:
        assert await sink.write([*LAST_DAY, *WEEK, *OTHERS]) == []
    finally:
        await sink.close()
    with connect.elasticsearch(settings) as es:
        es.indices.refresh(index=f"{settings.namespace}-*")


async def test_the_pulse_of_a_brand_from_its_clients_alias(settings: Settings) -> None:
    await _index(settings)
    es = connect.async_elasticsearch(settings)
    try:
        found = await pulse.load(es, settings.namespace, ACME, ACME.brands[0], NOW)
    finally:
        await es.close()

    assert len(found.hours) == 24 and found.hours[-1].at == datetime(2026, 6, 10, 12, tzinfo=UTC)
    assert pulse.totals(found.hours) == pulse.Point(found.hours[0].at, 6, 3)
    assert len(found.days) == 7 and found.days[0].at == datetime(2026, 6, 4, tzinfo=UTC)
    in_week = [m for m in WEEK if m.mention.created_at >= found.days[0].at]
    assert pulse.totals(found.days).count == 6 + len(in_week)

    terms = [r.term for r in found.rising]
    assert {"refund", "broken"} <= set(terms) and "love" not in terms
    assert all(r.count <= r.background for r in found.rising)

    people = found.audience
    assert people.by_reach[0].handle == "fan1" and people.by_reach[0].followers == 10_000
    assert people.by_count[0] == pulse.Author("angry", 5, 6)
    assert {p.key for p in people.sources} == {"bluesky", "rss"}
    assert sum(p.count for p in people.languages) == 16 and people.languages[0].key == "en"

    voice = {v.brand.id: (v.count, v.percent, v.brand.competitor) for v in found.voice}
    assert voice == {"widget": (16, 72.7, False), "rival": (4, 18.2, True),
                     "gadget": (2, 9.1, False)}  # globex's soda, also about widgets, is not here  # fmt: skip


async def test_a_client_without_an_index_yet_has_an_empty_pulse(settings: Settings) -> None:
    es = connect.async_elasticsearch(settings)
    try:
        found = await pulse.load(es, settings.namespace, ACME, ACME.brands[0], NOW)
    finally:
        await es.close()
    assert found.hours == [] and found.rising == [] and found.audience.by_reach == []
    assert [(v.count, v.percent) for v in found.voice] == [(0, 0.0)] * 3


def test_trend_reads_each_step_with_its_negative_share() -> None:
    response = {"aggregations": {"steps": {"buckets": [
        {"key": 1_780_000_000_000, "doc_count": 4, "negative": {"doc_count": 1}},
        {"key": 1_780_003_600_000, "doc_count": 0, "negative": {"doc_count": 0}}]}}}  # fmt: skip
    first, second = pulse.trend(response)
    assert first.at == datetime.fromtimestamp(1_780_000_000, UTC)
    assert (first.count, first.share, second.share) == (4, 0.25, None)


def test_chart_scales_bars_to_the_peak_and_draws_the_share_where_there_are_mentions() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    points = [pulse.Point(at, 10, 5), pulse.Point(at, 0, 0), pulse.Point(at, 5, 0)]
    chart = pulse.chart(points, width=300, height=100)
    assert chart.peak == 10 and chart.bar_width == 80.0
    assert [(b.x, b.y, b.height) for b in chart.bars] == [(10.0, 0.0, 100.0), (110.0, 100.0, 0.0),
                                                           (210.0, 50.0, 50.0)]  # fmt: skip
    assert (chart.bars[0].negative_y, chart.bars[0].negative_height) == (50.0, 50.0)
    assert chart.share_line == "50.0,50.0 250.0,100.0"
    assert pulse.chart([]).bars == [] and pulse.chart([]).peak == 0


def test_parts_rank_counts_with_their_percent() -> None:
    assert pulse.parts([("en", 1), ("ar", 3)]) == [pulse.Part("ar", 3, 75.0),
                                                   pulse.Part("en", 1, 25.0)]  # fmt: skip
    assert pulse.parts([("en", 0)]) == [pulse.Part("en", 0, 0.0)]


def test_share_of_voice_lists_every_brand_of_the_client_and_none_other() -> None:
    response = {"aggregations": {"brands": {"buckets": [
        {"key": "rival", "doc_count": 3}, {"key": "gone", "doc_count": 9}]}}}  # fmt: skip
    client: Client = ACME
    voice = pulse.share_of_voice(response, client)
    assert [(v.brand.id, v.count, v.percent) for v in voice] == [
        ("rival", 3, 100.0), ("gadget", 0, 0.0), ("widget", 0, 0.0)]  # fmt: skip


def test_floor_goes_down_to_the_step() -> None:
    assert pulse.floor(NOW, pulse.HOUR) == datetime(2026, 6, 10, 12, tzinfo=UTC)
    assert pulse.floor(NOW, pulse.DAY) == datetime(2026, 6, 10, tzinfo=UTC)


async def test_the_pulse_page_charts_a_brand_of_the_users_client(console: Console) -> None:
    alice = await console.login("alice")
    response = await alice.get("/pulse")
    page = await response.text()
    assert response.status == 200, page
    assert 'data-testid="nav-pulse" aria-current="page"' in page
    for testid in ("chart-hours", "chart-days", "table-hours", "rising-terms", "authors-reach",
                   "authors-count", "mix-languages", "mix-sources", "share-of-voice"):  # fmt: skip
        assert f'data-testid="{testid}"' in page, testid
    assert '<title id="hours-t">' in page and '<desc id="hours-d">' in page
    assert 'data-testid="legend-days"' in page
    assert '<option value="acme/widget" selected>' in page
    assert (await alice.get("/pulse?brand=acme/gadget")).status == 200


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [("alice", "/pulse?brand=globex/soda", 403), ("gina", "/pulse?brand=acme/widget", 403),
     ("alice", "/pulse?brand=acme/nope", 404), ("alice", "/pulse?brand=acme", 400),
     ("root", "/pulse?brand=globex/soda", 200)],
)  # fmt: skip
async def test_the_pulse_page_refuses_another_clients_brand(
    console: Console, user: str, path: str, status: int
) -> None:
    client = await console.login(user)
    response = await client.get(path)
    assert response.status == status, await response.text()


async def test_the_demo_streams_crisis_rises_and_its_competitor_has_a_voice(
    settings: Settings,
) -> None:
    """A week of the demo's chatter with the planted crisis an hour ago, scored by the real
    processors: the crisis words rise for skyline-air; northwind's competitor has its share."""
    week = 7 * 24 * 60
    stream = synthetic.Config(
        count=4000, minutes=week, spike_at_minute=week - 60, start=NOW - timedelta(minutes=week)
    )
    config = load_config(SAMPLE_CONFIG)
    mentions = list(synthetic.generate(stream))
    scored = [
        r for found in process_batch(mentions, build_matcher(config), Deduper()) for r in found
    ]
    sink = mentions_sink(settings)
    await sink.start()
    try:
        for start in range(0, len(scored), 500):
            assert await sink.write(scored[start : start + 500]) == []
    finally:
        await sink.close()
    with connect.elasticsearch(settings) as es:
        es.indices.refresh(index=f"{settings.namespace}-*")
    northwind = config.client("northwind")
    assert northwind is not None
    es_async = connect.async_elasticsearch(settings)
    try:
        found = await pulse.load(es_async, settings.namespace, northwind, northwind.brands[0], NOW)
    finally:
        await es_async.close()

    rising = [r.term for r in found.rising]
    assert {"service", "الرحلة"} <= set(rising[:3]), rising  # as the alert's rising terms
    assert not {"skyline", "air", "my", "no"} & set(rising)  # the brand's words, function words
    last_hour = found.hours[-2]  # the crisis hour (the last step is the current, partial one)
    assert last_hour.share is not None and last_hour.share > 0.5
    voice = {v.brand.id: v for v in found.voice}
    assert (
        voice["gulf-wings"].brand.competitor
        and 0 < voice["gulf-wings"].count < voice["skyline-air"].count
    )


def test_the_brands_own_words_and_function_words_never_rise() -> None:
    brand = Brand(
        id="sky", name="Sky", include=['"Skyline Air" OR @SkylineAir', '"سكاي لاين"', "(bad"]
    )
    ignored = pulse.ignored_words(brand)
    assert {"skyline", "air", "skylineair", "سكاي", "لاين", "the", "على"} <= ignored
    request = pulse.rising_request("a/sky", NOW, frozenset({"a.b", "c#"}))
    terms = request["aggs"]["sample"]["aggs"]["terms"]["significant_text"]
    assert terms["exclude"] == r"a\.b|c\#" and terms["include"] == ".{3,}"
