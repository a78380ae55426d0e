"""The weekly report: read from the real local Elasticsearch (mentions, alerts and the console's
state indexed for real), rendered email-safe, sent through a real local SMTP server, and
`sada console report`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from console import report, state
from core import connect
from core.config import EmailRoute, SadaConfig, Settings
from core.events import Alert, Author, Mention, ScoredMention, Sentiment
from sada.cli import app
from sinks.elasticsearch import alerts_sink, mentions_sink
from tests.console.conftest import Console
from tests.sinks.support import Inbox, free_port

MONDAY = datetime(2026, 6, 1, tzinfo=UTC)  # 2026-W23
CLIENTS = {"clients": [
    {"id": "acme", "name": "Acme", "routes": {}, "brands": [
        {"id": "widget", "name": "Widget", "include": ["widget"]},
        {"id": "rival", "name": "Rival", "include": ["rival"], "competitor": True}]},
    {"id": "globex", "name": "Globex", "brands": [{"id": "soda", "name": "Soda", "include": ["soda"]}]},
]}  # fmt: skip


def scored(n: int, client: str, brand: str, at: datetime, negative: bool = False) -> ScoredMention:
    mention = Mention(uid=f"m{n}", source="rss", source_id=str(n), author=Author(handle="a"),
                      text=f"{brand} {n}", created_at=at, fetched_at=at)  # fmt: skip
    return ScoredMention(
        mention=mention, client=client, brand=brand, matched_terms=[brand],
        text_normalized=f"{brand} {n}", language="en", triage="other",
        sentiment=Sentiment(label="negative" if negative else "neutral", probability=0.9, model="t"),
    )  # fmt: skip


MENTIONS = [
    *(scored(i, "acme", "widget", MONDAY + timedelta(hours=5), negative=i < 2) for i in range(4)),
    scored(10, "acme", "widget", MONDAY + timedelta(days=2, hours=1)),
    scored(11, "acme", "widget", MONDAY - timedelta(hours=1)),  # the week before
    scored(12, "acme", "rival", MONDAY + timedelta(days=3)),
    scored(13, "globex", "soda", MONDAY + timedelta(days=3)),
]
INCIDENT = Alert(
    id="acme/widget/20260601T0500Z", status="escalate", client="acme", brand="widget",
    kind="negative_share_spike", window_start=MONDAY + timedelta(hours=5),
    window_end=MONDAY + timedelta(hours=5, minutes=1), observed=0.5, expected=0.02, score=9.0,
    severity="critical", sample_uids=["m0"], explanation="negative share 50% <against> 2%",
    raised_at=MONDAY + timedelta(hours=5, minutes=1),
)  # fmt: skip


async def _index(settings: Settings) -> None:
    for sink, records in ((mentions_sink(settings), MENTIONS), (alerts_sink(settings), [INCIDENT])):
        await sink.start()
        try:
            assert await sink.write(records) == []  # type: ignore[arg-type]
        finally:
            await sink.close()
    es = connect.async_elasticsearch(settings)
    try:
        await state.ensure_index(es, settings.namespace)
        fresh = state.fresh("mention", "acme", "acme/widget")
        answers = {  # first answered 30 min after the post; the week before's after 10 min
            "m0.acme.widget": (
                MONDAY + timedelta(hours=5, minutes=30),
                MONDAY + timedelta(hours=5),
            ),
            "m11.acme.widget": (MONDAY - timedelta(minutes=50), MONDAY - timedelta(hours=1)),
        }
        for doc_id, (at, posted) in answers.items():
            doc = state.apply(fresh, "reply", "alice", "on it", at, posted)
            assert await state.write(es, settings.namespace, doc_id, "", doc) is None
        incident = state.fresh("alert", "acme", "acme/widget")
        resolved = state.apply(incident, "resolve", "alice", "", MONDAY + timedelta(hours=9))
        incident_id = state.alert_state_id(INCIDENT.id)
        assert await state.write(es, settings.namespace, incident_id, "", resolved) is None
    finally:
        await es.close()
    with connect.elasticsearch(settings) as sync:
        sync.indices.refresh(index=f"{settings.namespace}-*")


async def _load(settings: Settings, week: str = "2026-W23") -> report.Report:
    start, label = report.week_of(week, datetime.now(UTC))
    es = connect.async_elasticsearch(settings)
    try:
        client = SadaConfig.model_validate(CLIENTS).clients[0]
        return await report.load(es, settings.namespace, client, start, label)
    finally:
        await es.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def email_route(port: int) -> dict[str, object]:
    return {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
            "sender": "sada@agency.example", "to": ["client@acme.example"], "allow_private": True}  # fmt: skip


async def test_the_week_of_a_client_read_and_rendered(settings: Settings) -> None:
    await _index(settings)
    built = await _load(settings)

    (widget,) = built.brands  # the competitor has no pulse of its own
    assert widget.brand.id == "widget" and len(widget.days) == 7
    assert (widget.total.count, widget.total.negative) == (5, 2)  # not the week before's
    assert [p.count for p in widget.days] == [4, 0, 1, 0, 0, 0, 0]
    assert (widget.response_seconds, widget.answered) == (1800.0, 1)
    assert [i["id"] for i in built.incidents] == [INCIDENT.id]
    assert built.handled == {INCIDENT.id: "resolved"}
    assert [(v.brand.id, v.count, v.percent) for v in built.voice] == [("widget", 5, 83.3),
                                                                       ("rival", 1, 16.7)]  # fmt: skip

    html = report.render(built)
    assert "Acme: weekly report 2026-W23" in html and "2026-06-01 – 2026-06-07" in html
    assert "5 mentions, 2 negative (40%)" in html
    assert "1 answered, first response after 30 min on average" in html
    assert "negative share 50% &lt;against&gt; 2%" in html  # escaped
    assert "critical · escalate · Resolved" in html
    assert "Rival (competitor)" in html and "83.3%" in html
    assert "<script" not in html and "<svg" not in html and "<link" not in html  # email-safe
    assert "<form" not in html  # the console's week picker is not in the email
    assert 'dir="rtl"' in report.render(built, "ar")


async def test_a_week_without_data_is_an_empty_report(settings: Settings) -> None:
    built = await _load(settings, "2020-W01")
    assert built.incidents == [] and built.brands[0].total.count == 0
    assert "Acme" in report.render(built)


async def test_the_report_is_emailed_through_the_route(
    settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    await _index(settings)
    inbox, port = smtp
    built = await _load(settings)
    await report.send(EmailRoute.model_validate(email_route(port)), built)
    (message,) = inbox.messages
    assert message["Subject"] == "Acme: weekly report 2026-W23"
    assert message["To"] == "client@acme.example"
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    assert html is not None and "5 mentions, 2 negative (40%)" in html.get_content()


def test_week_of_reads_iso_weeks_and_says_what_is_wrong() -> None:
    assert report.week_of("2026-W23", MONDAY) == (MONDAY, "2026-W23")
    assert report.week_of(None, MONDAY + timedelta(days=6, hours=23)) == (MONDAY, "2026-W23")
    assert report.week_of("2027-W01", MONDAY)[0] == datetime(2027, 1, 4, tzinfo=UTC)
    with pytest.raises(ValueError, match="write it as YYYY-Www"):
        report.week_of("june", MONDAY)
    with pytest.raises(ValueError, match="2026 has no week 54"):
        report.week_of("2026-W54", MONDAY)


def test_sada_console_report_writes_and_sends(
    settings: Settings, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    import asyncio

    asyncio.run(_index(settings))
    inbox, port = smtp
    clients = {"clients": [dict(CLIENTS["clients"][0], routes={  # type: ignore[call-overload]
        "client-mail": email_route(port),
        "hook": {"type": "webhook", "url": "http://127.0.0.1:9/x", "allow_private": True}})]}  # fmt: skip
    (tmp_path / "clients.yaml").write_text(yaml.safe_dump(clients), encoding="utf-8")
    env = {"SADA_NAMESPACE": settings.namespace, "SADA_CONFIG": str(tmp_path / "clients.yaml")}
    runner, out = CliRunner(), tmp_path / "week.html"

    wrote = runner.invoke(
        app, ["console", "report", "acme", "--week", "2026-W23", "--out", str(out)], env=env
    )
    assert wrote.exit_code == 0, wrote.output
    assert "5 mentions, 2 negative (40%)" in out.read_text(encoding="utf-8")

    sent = runner.invoke(
        app, ["console", "report", "acme", "--week", "2026-W23", "--send", "client-mail"], env=env
    )
    assert sent.exit_code == 0, sent.output
    assert [m["Subject"] for m in inbox.messages] == ["Acme: weekly report 2026-W23"]

    wrong = runner.invoke(app, ["console", "report", "acme", "--send", "hook"], env=env)
    assert wrong.exit_code == 2 and "not an email route of acme (client-mail)" in wrong.output
    bad_week = runner.invoke(app, ["console", "report", "acme", "--week", "23"], env=env)
    assert bad_week.exit_code == 2 and "write it as YYYY-Www" in bad_week.output
    unknown = runner.invoke(app, ["console", "report", "initech"], env=env)
    assert (
        unknown.exit_code == 2 and "client 'initech' is not in the clients file" in unknown.output
    )


async def test_the_report_page_shows_this_weeks_report_to_its_clients_users(
    console: Console,
) -> None:
    alice = await console.login("alice")
    response = await alice.get("/report")
    page = await response.text()
    assert response.status == 200, page
    assert 'data-testid="report"' in page and "Acme: weekly report" in page
    assert 'data-testid="report-form"' in page and '<option value="globex"' not in page
    assert "style-src 'unsafe-inline'" in response.headers["Content-Security-Policy"]
    assert (await alice.get("/report?client=globex")).status == 403
    assert (await alice.get("/report?week=soon")).status == 400
    gina = await console.login("gina")
    assert (await gina.get("/report?client=acme")).status == 403
