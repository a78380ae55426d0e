"""The weekly report a client is owed: each brand's pulse for the ISO week (daily volume and
negative share), its incidents, share of voice with the competitors, and first-response times,
as one email-safe HTML page (tables and inline CSS; no script, no SVG), written to a file or
sent through one of the client's email routes (`sinks.mail`)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import jinja2
from elasticsearch import AsyncElasticsearch

from console import pulse, state
from console.i18n import DIRECTION, translate
from core.config import Brand, Client, EmailRoute
from core.events import brand_key
from sinks import mail
from sinks.elasticsearch import client_alias

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
WEEK = 7 * pulse.DAY
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def week_of(text: str | None, now: datetime) -> tuple[datetime, str]:
    """The Monday 00:00 UTC starting ISO week `text` (YYYY-Www; default: the week of `now`),
    and its label; ValueError saying what is wrong."""
    if text is None:
        year, week, _ = now.astimezone(UTC).isocalendar()
    elif found := _WEEK.fullmatch(text.strip()):
        year, week = int(found[1]), int(found[2])
    else:
        raise ValueError(f"week {text!r}: write it as YYYY-Www, e.g. 2026-W23")
    try:
        start = datetime.fromisocalendar(year, week, 1).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"week {text!r}: {year} has no week {week}") from None
    return start, f"{year}-W{week:02d}"


def incidents_request(start: datetime, end: datetime) -> dict[str, Any]:
    """The incidents (alert threads: one document each, at its latest step) begun in the week."""
    return {
        "query": {"range": {"window_start": {"gte": start.isoformat(), "lt": end.isoformat()}}},
        "sort": [{"window_start": "asc"}],
        "size": 500,
        "ignore_unavailable": True,
        "allow_no_indices": True,
    }


def responses_request(client: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Mean first-response time per brand of the mentions first answered in the week (the
    console's state index)."""
    return {
        "query": {"bool": {"filter": [
            {"term": {"kind": "mention"}}, {"term": {"client": client}},
            {"range": {"first_response_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
        ]}},
        "aggs": {"brands": {"terms": {"field": "brand_key", "size": 1000},
                            "aggs": {"mean": {"avg": {"field": "response_seconds"}}}}},
        "size": 0,
        "ignore_unavailable": True,
        "allow_no_indices": True,
    }  # fmt: skip


def responses(response: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """Brand key: (mean first-response seconds, mentions answered)."""
    buckets = response.get("aggregations", {}).get("brands", {}).get("buckets", [])
    return {b["key"]: (b["mean"]["value"], b["doc_count"]) for b in buckets if b["mean"]["value"]}


@dataclass(frozen=True)
class BrandWeek:
    brand: Brand
    days: list[pulse.Point]
    total: pulse.Point
    response_seconds: float | None  # mean first response of those answered in the week
    answered: int


@dataclass(frozen=True)
class Report:
    client: Client
    week: str
    start: datetime
    end: datetime
    brands: list[BrandWeek]  # the client's own, not its competitors
    incidents: list[dict[str, Any]]
    handled: dict[str, str]  # alert id: its status in the console (acknowledged, resolved)
    voice: list[pulse.Voice]

    @property
    def last_day(self) -> datetime:
        return self.end - pulse.DAY


def assemble(
    client: Client,
    week: str,
    start: datetime,
    days: dict[str, list[pulse.Point]],
    incidents: list[dict[str, Any]],
    handled: dict[str, str],
    voice: list[pulse.Voice],
    answers: dict[str, tuple[float, int]],
) -> Report:
    """The report from what was read: `days` and `answers` by brand key."""
    brands = []
    for brand in client.brands:
        if not brand.competitor:
            key = brand_key(client.id, brand.id)
            points = days.get(key, [])
            mean, answered = answers.get(key, (None, 0))
            brands.append(BrandWeek(brand, points, pulse.totals(points), mean, answered))
    return Report(client, week, start, start + WEEK, brands, incidents, handled, voice)


async def load(
    es: AsyncElasticsearch, namespace: str, client: Client, start: datetime, week: str
) -> Report:
    end = start + WEEK
    mentions = client_alias(namespace, "mentions", client.id)
    own = [b for b in client.brands if not b.competitor]
    keys = [brand_key(client.id, b.id) for b in own]
    trends = await asyncio.gather(
        *(pulse.search(es, mentions, pulse.trend_request(k, start, end, pulse.DAY)) for k in keys)
    )
    alerts = await es.search(
        index=client_alias(namespace, "alerts", client.id), **incidents_request(start, end)
    )
    incidents = [hit["_source"] for hit in alerts["hits"]["hits"]]
    ids = [state.alert_state_id(a["id"]) for a in incidents]
    states = await state.load(es, namespace, ids)  # none stored (or no index): absent
    voice = await pulse.search(es, mentions, pulse.share_request(start, end))
    answers = await es.search(
        index=state.state_index(namespace), **responses_request(client.id, start, end)
    )
    return assemble(
        client,
        week,
        start,
        {k: pulse.trend(t) for k, t in zip(keys, trends, strict=True)},
        incidents,
        {
            a["id"]: states[i].doc["status"]
            for a, i in zip(incidents, ids, strict=True)
            if i in states
        },
        pulse.share_of_voice(voice, client),
        responses(answers.body),
    )


def render(report: Report, lang: str = "en", choices: list[Client] | None = None) -> str:
    """The report's HTML; with `choices` (in the console), a form on top to pick another of
    these clients or another week, which the email never has."""
    return TEMPLATES.get_template("report.html").render(
        report=report,
        lang=lang,
        dir=DIRECTION[lang],
        t=lambda key, **values: translate(lang, key, **values),
        choices=choices,
    )


def subject(report: Report, lang: str = "en") -> str:
    return translate(lang, "report_subject", client=report.client.name, week=report.week)


async def send(route: EmailRoute, report: Report, lang: str = "en") -> None:
    """Email the report through `route` (HTML, with a plain-text line for old readers)."""
    email = EmailMessage()
    email["Subject"] = subject(report, lang)
    email["From"] = route.sender
    email["To"] = ", ".join(route.to)
    email["Date"] = formatdate(usegmt=True)
    email.set_content(subject(report, lang) + "\n")
    email.add_alternative(render(report, lang), subtype="html")
    await mail.send(route, email)
