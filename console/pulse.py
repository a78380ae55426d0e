"""Brand pulse: volume and negative share over 24 hours and 7 days, rising terms, top authors,
language and source mix, and share of voice between a client's brands and its competitors.

Each Elasticsearch request is built by one function (`*_request`, the keyword arguments of a
search) and each answer read by one pure function, so the pages and the weekly report share
them and the reading is tested without Elasticsearch. Every request goes to the client's own
alias, `<ns>-mentions-<client>`: a user's page never reads another client's documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from core.config import Brand, Client
from core.errors import QueryError
from core.events import brand_key
from core.query import parse, terms
from processors.detect import STOPWORDS
from sinks.elasticsearch import client_alias

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TOP = 10  # rows of each ranked list
SEARCH: dict[str, Any] = {"ignore_unavailable": True, "allow_no_indices": True, "size": 0}
NEGATIVE = {"term": {"sentiment.label": "negative"}}


def _span(start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}}


def _of(key: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"brand_key": key}}, _span(start, end)]}}


# --- volume and negative share -------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    at: datetime
    count: int
    negative: int

    @property
    def share(self) -> float | None:
        """Negative share, None without mentions."""
        return self.negative / self.count if self.count else None


def trend_request(key: str, start: datetime, end: datetime, step: timedelta) -> dict[str, Any]:
    """Mentions and negative mentions of brand `key` per `step` from `start` to `end`, empty
    steps included (`start` should fall on a step boundary, in UTC)."""
    last = end - timedelta(milliseconds=1)
    return SEARCH | {
        "query": _of(key, start, end),
        "aggs": {
            "steps": {
                "date_histogram": {
                    "field": "created_at",
                    "fixed_interval": f"{int(step.total_seconds())}s",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start.isoformat(), "max": last.isoformat()},
                },
                "aggs": {"negative": {"filter": NEGATIVE}},
            }
        },
    }


def trend(response: dict[str, Any]) -> list[Point]:
    buckets = response.get("aggregations", {}).get("steps", {}).get("buckets", [])
    return [
        Point(
            datetime.fromtimestamp(b["key"] / 1000, UTC), b["doc_count"], b["negative"]["doc_count"]
        )
        for b in buckets
    ]


def totals(points: list[Point]) -> Point:
    """The whole series as one point, at its first step."""
    at = points[0].at if points else datetime.fromtimestamp(0, UTC)
    return Point(at, sum(p.count for p in points), sum(p.negative for p in points))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    negative_y: float
    negative_height: float
    point: Point


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart's geometry: a bar per step (its negative part apart) and the
    negative share as a line over the same steps, on a 0-100% scale."""

    width: int
    height: int
    bar_width: float
    bars: list[Bar]
    share_line: str  # an SVG polyline's points
    peak: int


CHART_WIDTH, CHART_HEIGHT = 600, 160


def chart(points: list[Point], width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> Chart:
    peak = max((p.count for p in points), default=0)
    step = width / max(len(points), 1)
    scale = height / peak if peak else 0.0
    bars, line = [], []
    for i, p in enumerate(points):
        x = i * step
        h, n = p.count * scale, p.negative * scale
        bars.append(Bar(round(x + step * 0.1, 1), round(height - h, 1), round(h, 1),
                        round(height - n, 1), round(n, 1), p))  # fmt: skip
        if p.share is not None:
            line.append(f"{x + step / 2:.1f},{height - p.share * height:.1f}")
    return Chart(width, height, round(step * 0.8, 1), bars, " ".join(line), peak)


# --- rising terms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rising:
    term: str
    count: int  # mentions with it in the last 24 hours
    background: int  # mentions with it in the 8 days up to now


def ignored_words(brand: Brand) -> frozenset[str]:
    """Words never "rising", as in an alert's rising terms: function words, and the brand's
    own query words, found in every mention of it."""
    words = set(STOPWORDS)
    for query in brand.include:
        with contextlib.suppress(QueryError):  # a bad query is `sada config check`'s to report
            words |= {word for term in terms(parse(query)) for word in term.words}
    return frozenset(words)


def rising_request(key: str, now: datetime, ignored: frozenset[str]) -> dict[str, Any]:
    """Words of 3+ letters of the last 24 hours' mentions of brand `key` unusually frequent
    against the 7 days before, but the `ignored` ones (significant_text on the normalised
    text; its background, the 8 days up to now, holds the last day too, as its scores
    expect). Copies count, as in an alert's rising terms: a campaign of copies is rising."""
    return SEARCH | {
        "query": _of(key, now - DAY, now),
        "aggs": {
            "sample": {
                "sampler": {"shard_size": 1000},
                "aggs": {
                    "terms": {
                        "significant_text": {
                            "field": "text_normalized",
                            "size": TOP,
                            "min_doc_count": 2,
                            "include": ".{3,}",
                            "exclude": "|".join(_lucene(w) for w in sorted(ignored)),
                            "background_filter": _of(key, now - 8 * DAY, now),
                        }
                    }
                },
            }
        },
    }


def _lucene(word: str) -> str:
    """`word` as a literal in a Lucene regular expression."""
    return re.sub(r'([.?+*|{}\[\]()"\\#@&<>~])', r"\\\1", word)


def rising(response: dict[str, Any]) -> list[Rising]:
    found = response.get("aggregations", {}).get("sample", {}).get("terms", {})
    return [Rising(b["key"], b["doc_count"], b["bg_count"]) for b in found.get("buckets", [])]


# --- authors, languages, sources -----------------------------------------------------------


@dataclass(frozen=True)
class Author:
    handle: str
    followers: int
    mentions: int


@dataclass(frozen=True)
class Part:
    key: str
    count: int
    percent: float


@dataclass(frozen=True)
class Audience:
    by_reach: list[Author]
    by_count: list[Author]
    languages: list[Part]
    sources: list[Part]


def audience_request(key: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Top authors by followers and by mentions, and the language and source mix."""
    reach = {"reach": {"max": {"field": "author.followers"}}}
    return SEARCH | {
        "query": _of(key, start, end),
        "aggs": {
            "by_reach": {"terms": {"field": "author.handle", "size": TOP,
                                   "order": [{"reach": "desc"}, {"_count": "desc"}]},
                         "aggs": reach},
            "by_count": {"terms": {"field": "author.handle", "size": TOP}, "aggs": reach},
            "languages": {"terms": {"field": "language", "size": 20}},
            "sources": {"terms": {"field": "source", "size": 20}},
        },
    }  # fmt: skip


def _authors(agg: dict[str, Any]) -> list[Author]:
    return [Author(b["key"], int(b["reach"]["value"] or 0), b["doc_count"]) for b in agg["buckets"]]


def parts(buckets: list[tuple[str, int]]) -> list[Part]:
    """Counts as parts of their sum, largest first (percent rounded to 0.1)."""
    total = sum(count for _, count in buckets)
    ranked = sorted(buckets, key=lambda kv: (-kv[1], kv[0]))
    return [Part(k, c, round(100 * c / total, 1) if total else 0.0) for k, c in ranked]


def audience(response: dict[str, Any]) -> Audience:
    aggs = response.get("aggregations")
    if not aggs:  # no index yet
        return Audience([], [], [], [])

    def mix(name: str) -> list[Part]:
        return parts([(b["key"], b["doc_count"]) for b in aggs[name]["buckets"]])

    return Audience(_authors(aggs["by_reach"]), _authors(aggs["by_count"]), mix("languages"),
                    mix("sources"))  # fmt: skip


# --- share of voice ------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    brand: Brand
    count: int
    percent: float


def share_request(start: datetime, end: datetime) -> dict[str, Any]:
    """Mentions per brand of the client (its alias holds only its own brands)."""
    return SEARCH | {
        "query": _span(start, end),
        "aggs": {"brands": {"terms": {"field": "brand", "size": 1000}}},
    }


def share_of_voice(response: dict[str, Any], client: Client) -> list[Voice]:
    """Every brand of the client, competitors included, with its count and share; brands no
    longer in the clients file are left out."""
    buckets = response.get("aggregations", {}).get("brands", {}).get("buckets", [])
    counts = {b["key"]: b["doc_count"] for b in buckets}
    shares = {p.key: p for p in parts([(b.id, counts.get(b.id, 0)) for b in client.brands])}
    return [Voice(b, shares[b.id].count, shares[b.id].percent)
            for b in sorted(client.brands, key=lambda b: (-shares[b.id].count, b.id))]  # fmt: skip


# --- the page's whole view -----------------------------------------------------------------


@dataclass(frozen=True)
class Pulse:
    client: Client
    brand: Brand
    now: datetime
    hours: list[Point]
    days: list[Point]
    rising: list[Rising]
    audience: Audience
    voice: list[Voice]


def floor(at: datetime, step: timedelta) -> datetime:
    """`at` down to a multiple of `step` since the epoch (UTC hours, days)."""
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, UTC)


async def search(es: AsyncElasticsearch, index: str, request: dict[str, Any]) -> dict[str, Any]:
    return (await es.search(index=index, **request)).body  # type: ignore[no-any-return]


async def load(
    es: AsyncElasticsearch, namespace: str, client: Client, brand: Brand, now: datetime
) -> Pulse:
    """The pulse of `brand` at `now`: 24 hourly steps and 7 daily ones (the current, partial
    step last), and the 7 days' authors, mix and share of voice."""
    index, key = client_alias(namespace, "mentions", client.id), brand_key(client.id, brand.id)
    hour_start = floor(now, HOUR) - 23 * HOUR
    day_start = floor(now, DAY) - 6 * DAY
    hours, days, terms, people, voice = await asyncio.gather(
        search(es, index, trend_request(key, hour_start, floor(now, HOUR) + HOUR, HOUR)),
        search(es, index, trend_request(key, day_start, floor(now, DAY) + DAY, DAY)),
        search(es, index, rising_request(key, now, ignored_words(brand))),
        search(es, index, audience_request(key, now - 7 * DAY, now)),
        search(es, index, share_request(now - 7 * DAY, now)),
    )
    return Pulse(client, brand, now, trend(hours), trend(days), rising(terms), audience(people),
                 share_of_voice(voice, client))  # fmt: skip
