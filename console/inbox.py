"""The inbox's logic, pure: filters read from GET parameters, the Elasticsearch query they make,
the urgency score, and near-duplicate copies grouped into one row.

Ranking needs "now", the open incidents and each row's group, which a sort in Elasticsearch
cannot see; so the newest CANDIDATES matching documents are fetched and ranked here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from multidict import MultiMapping

from core.events import SentimentLabel, TriageLabel

CANDIDATES = 1000  # newest matching documents ranked per view
LIVE_WINDOW = 200  # newest matching documents the live events compare with the last look
PAGE_SIZE = 50
TRIAGES: tuple[str, ...] = get_args(TriageLabel)
SENTIMENTS: tuple[str, ...] = get_args(SentimentLabel)
DEFAULT_TRIAGE = ("complaint", "question")
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
         "30d": timedelta(days=30), "all": None}  # fmt: skip
DEFAULT_SINCE = "7d"
STATUSES = ("open", "handled", "ignored", "all")
CLOSED = ("handled", "ignored")

# Urgency: each part is in [0, 1]; the weights say what a manager answers first.
WEIGHTS = {"reach": 2.0, "negativity": 3.0, "recency": 2.0, "incident": 3.0, "waiting": 1.0}
REACH_FULL = 1_000_000  # followers at which reach counts fully
RECENCY_HALF_LIFE_HOURS = 6.0
WAITING_FULL_HOURS = 24.0


class FilterError(ValueError):
    """A GET parameter the inbox cannot use; the message names it and what is allowed."""


@dataclass(frozen=True)
class Filters:
    brands: tuple[str, ...] = ()  # brand keys, "client/brand"
    triage: tuple[str, ...] = DEFAULT_TRIAGE
    sentiment: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    since: str = DEFAULT_SINCE
    q: str = ""
    status: str = "open"
    page: int = 1

    def clients(self) -> set[str]:
        """The clients the brand filter names."""
        return {key.partition("/")[0] for key in self.brands}

    def params(self, **changed: Any) -> list[tuple[str, str]]:
        """GET parameters giving these filters (with some changed): for links and paging."""
        values = {**self.__dict__, **changed}
        pairs: list[tuple[str, str]] = []
        for name in ("brands", "triage", "sentiment", "language", "source"):
            pairs += [(_PARAM.get(name, name), v) for v in values[name]]
        if not values["triage"]:
            pairs.append(("triage", ""))  # every kind, not the default two
        pairs += [(name, str(values[name])) for name in ("since", "status", "page")]
        return pairs + ([("q", values["q"])] if values["q"] else [])


_PARAM = {"brands": "brand"}


def parse_filters(query: MultiMapping[str]) -> Filters:
    """Filters from GET parameters (a MultiDict: repeated names are several values)."""

    def many(name: str, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
        values = tuple(v.strip() for v in query.getall(name, []) if v.strip())
        if allowed is not None:
            known = tuple(allowed)
            if bad := [v for v in values if v not in known]:
                raise FilterError(
                    f"{name}: unknown {', '.join(map(repr, bad))}; one of {', '.join(known)}"
                )
        return values

    def one(name: str, allowed: Iterable[str], default: str) -> str:
        value = query.get(name, default).strip() or default
        known = tuple(allowed)
        if value not in known:
            raise FilterError(f"{name}: unknown {value!r}; one of {', '.join(known)}")
        return value

    brands = many("brand")
    if bad := [b for b in brands if b.count("/") != 1]:
        raise FilterError(f"brand: {', '.join(map(repr, bad))} is not client/brand")
    page_text = query.get("page", "1").strip() or "1"
    if not page_text.isdigit() or int(page_text) < 1:
        raise FilterError(f"page: {page_text!r} is not a page number (1, 2, ...)")
    explicit_triage = "triage" in query
    return Filters(
        brands=brands,
        triage=many("triage", TRIAGES) if explicit_triage else DEFAULT_TRIAGE,
        sentiment=many("sentiment", SENTIMENTS),
        language=many("language"),
        source=many("source"),
        since=one("since", SINCE, DEFAULT_SINCE),
        q=query.get("q", "").strip()[:500],
        status=one("status", STATUSES, "open"),
        page=int(page_text),
    )


def to_query(
    filters: Filters,
    now: datetime,
    closed_ids: Iterable[str] = (),
    only_ids: Iterable[str] | None = None,
    hidden_brands: Iterable[str] = (),
) -> dict[str, Any]:
    """The Elasticsearch bool query of these filters. `closed_ids`: documents handled or
    ignored (left out of the open view); `only_ids`: for the handled and ignored views, the
    documents in that state (the only ones shown); `hidden_brands`: brand keys never shown
    (the competitors)."""
    must: list[dict[str, Any]] = []
    fields = {"brand_key": filters.brands, "triage": filters.triage,
              "sentiment.label": filters.sentiment, "language": filters.language,
              "source": filters.source}  # fmt: skip
    must += [{"terms": {name: list(values)}} for name, values in fields.items() if values]
    if (span := SINCE[filters.since]) is not None:
        must.append({"range": {"created_at": {"gte": (now - span).isoformat()}}})
    if filters.q:
        must.append({"match": {"text": {"query": filters.q, "operator": "and"}}})
    bool_query: dict[str, Any] = {"filter": must}
    must_not: list[dict[str, Any]] = []
    if filters.status == "open" and (closed := list(closed_ids)):
        must_not.append({"ids": {"values": closed}})
    if hidden := sorted(hidden_brands):
        must_not.append({"terms": {"brand_key": hidden}})
    if must_not:
        bool_query["must_not"] = must_not
    if only_ids is not None:
        must.append({"ids": {"values": list(only_ids)}})
    return {"bool": bool_query}


@dataclass(frozen=True)
class Urgency:
    parts: dict[str, float]  # each in [0, 1]

    @property
    def score(self) -> float:
        return round(sum(WEIGHTS[name] * value for name, value in self.parts.items()), 3)

    def explain(self) -> str:
        return ", ".join(
            f"{name} {value:.2f}×{WEIGHTS[name]:g}" for name, value in self.parts.items()
        )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def urgency(doc: Mapping[str, Any], now: datetime, incident_brands: set[str]) -> Urgency:
    """How soon a mention wants an answer: reach (log of followers), negativity (the model's
    confidence when negative), recency (halving every 6 h), part of an open incident (its brand
    has an open alert) and time waiting (up to a day)."""
    followers = (doc.get("author") or {}).get("followers") or 0
    sentiment = doc.get("sentiment") or {}
    created = _time(doc.get("created_at")) or now
    hours = max(0.0, (now - created).total_seconds() / 3600)
    return Urgency({
        "reach": min(1.0, math.log1p(followers) / math.log1p(REACH_FULL)),
        "negativity": float(sentiment.get("probability", 0.0))
        if sentiment.get("label") == "negative" else 0.0,
        "recency": 0.5 ** (hours / RECENCY_HALF_LIFE_HOURS),
        "incident": 1.0 if doc.get("brand_key") in incident_brands else 0.0,
        "waiting": min(1.0, hours / WAITING_FULL_HOURS),
    })  # fmt: skip


@dataclass
class Row:
    """One inbox row: the most urgent copy of a group of near-duplicates, with the count."""

    id: str
    doc: dict[str, Any]
    urgency: Urgency
    copies: int = 1
    copy_ids: list[str] = field(default_factory=list)


def group_key(doc: Mapping[str, Any]) -> str:
    """Copies of one post (a campaign, reposts) share the uid of the first: its duplicate_of."""
    return f"{doc.get('brand_key')}|{doc.get('duplicate_of') or doc.get('uid')}"


def rank(hits: Iterable[Mapping[str, Any]], now: datetime, incident_brands: set[str]) -> list[Row]:
    """Hits (`_id`, `_source`) as rows: near-duplicates of one brand in one row, which takes
    its most urgent copy; most urgent row first (ties: newest first)."""
    rows: dict[str, Row] = {}
    for hit in hits:
        doc = hit["_source"]
        scored = urgency(doc, now, incident_brands)
        key = group_key(doc)
        row = rows.get(key)
        if row is None:
            rows[key] = Row(hit["_id"], dict(doc), scored, 1, [hit["_id"]])
            continue
        row.copies += 1
        row.copy_ids.append(hit["_id"])
        if scored.score > row.urgency.score:
            row.id, row.doc, row.urgency = hit["_id"], dict(doc), scored
    return sorted(
        rows.values(), key=lambda r: (r.urgency.score, r.doc.get("created_at") or ""), reverse=True
    )


def page(rows: list[Row], number: int, size: int = PAGE_SIZE) -> list[Row]:
    return rows[(number - 1) * size : number * size]


@dataclass
class Novelty:
    """Which keys were not there at the last look, for live updates; the first look only
    sets the baseline. Remembers the last `keep` keys."""

    keep: int = 5000
    seen: dict[str, None] | None = None

    def new(self, keys: list[str]) -> list[str]:
        first, self.seen = self.seen is None, self.seen or {}
        fresh = [key for key in keys if key not in self.seen]
        self.seen.update(dict.fromkeys(fresh))
        for old in list(self.seen)[: max(0, len(self.seen) - self.keep)]:
            del self.seen[old]
        return [] if first else fresh
