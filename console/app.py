"""The console's aiohttp application: every route is registered in `create_app`, every page is
a Jinja2 template, and every query goes to the signed-in user's own client aliases.

Access: a user sees only the clients listed on it (an admin sees all, through the group
aliases); an id of a document outside them answers 403, a brand outside them too.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jinja2
from aiohttp import web
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from console import inbox, preview, pulse, report, state
from console.auth import FailedLogins, Session, Sessions, User, authenticate, users_index
from console.i18n import DIRECTION, LANGUAGES, translate
from core import connect
from core.config import Client, SadaConfig, Settings
from core.errors import SourceError
from core.live import LiveConfig
from ingest.catalog import SOURCES, jobs
from ingest.runner import Job
from sinks.elasticsearch import Kind, client_alias, group_alias

DEFAULT_PORT = 8080
POLL_SECONDS = 2.0
SESSION_COOKIE = "sada_session"
LANG_COOKIE = "sada_lang"
LOGIN_COOKIE = "sada_login"
OPEN_ALERT_STATUSES = ("open", "escalate")
HERE = Path(__file__).parent


@dataclass(frozen=True)
class NavItem:
    id: str
    path: str
    label: str  # an i18n key


# The navigation, in one place: a new page adds its item here.
NAV = [NavItem("inbox", "/", "nav_inbox"), NavItem("incidents", "/incidents", "nav_incidents"),
       NavItem("pulse", "/pulse", "nav_pulse"), NavItem("preview", "/preview", "nav_preview"),
       NavItem("report", "/report", "nav_report")]  # fmt: skip

SETTINGS = web.AppKey("settings", Settings)
CONFIG = web.AppKey("config", LiveConfig)
ES = web.AppKey("es", AsyncElasticsearch)
SESSIONS = web.AppKey("sessions", Sessions)
FAILURES = web.AppKey("failures", FailedLogins)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
POLL = web.AppKey("poll", float)
REPLIERS: web.AppKey[Callable[[], dict[str, Job]]] = web.AppKey("repliers")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def configured_port() -> int:
    """SADA_CONSOLE_PORT, or 8080."""
    return int(os.environ.get("SADA_CONSOLE_PORT", DEFAULT_PORT))


def create_app(
    settings: Settings,
    live: LiveConfig,
    *,
    clock: Callable[[], float] = time.time,
    poll_seconds: float = POLL_SECONDS,
) -> web.Application:
    """The console, with the clients file as it is at each request (`live`, followed while it
    runs); raises ConfigError for a `sources:` entry it could not reply through."""
    app = web.Application(middlewares=[guard])
    app[SETTINGS], app[CONFIG], app[POLL] = settings, live, poll_seconds
    app[REPLIERS] = live.derive(repliers)
    app[REPLIERS]()  # a bad `sources:` entry stops the console at start
    app[SESSIONS], app[FAILURES] = Sessions(clock), FailedLogins(clock)
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.on_response_prepare.append(_security_headers)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    app.cleanup_ctx.append(_follow)
    app.add_routes([
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/lang/{lang}", switch_language),
        web.get("/", inbox_page),
        web.get("/export.csv", export_csv),
        web.get("/events", events),
        web.get("/mention/{id}", mention_page),
        web.post("/mention/{id}", mention_action),
        web.get("/incidents", incidents_page),
        web.post("/incidents/{id}", incident_action),
        web.get("/pulse", pulse_page),
        web.get("/preview", preview_page),
        web.get("/report", report_page),
        web.static("/static", HERE / "static"),
    ])  # fmt: skip
    return app


async def _start(app: web.Application) -> None:
    app[ES] = connect.async_elasticsearch(app[SETTINGS])
    await state.ensure_index(app[ES], app[SETTINGS].namespace)


async def _stop(app: web.Application) -> None:
    await app[ES].close()


async def _follow(app: web.Application) -> AsyncIterator[None]:
    """Follow the clients file while the console runs."""
    following = asyncio.create_task(app[CONFIG].follow())
    yield
    following.cancel()


def _config(request: web.Request) -> SadaConfig:
    """The clients file as it is now."""
    return request.app[CONFIG].config


# --- access, sessions, CSRF --------------------------------------------------------------

PUBLIC = ("/login", "/lang/", "/static/")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the public ones needs a live session; every POST needs the session's
    CSRF token (the login its own, see `login`). A refusal is a page saying why."""
    if not request.path.startswith(PUBLIC):
        session = _session(request)
        if session is None:
            if request.method == "GET" and request.path != "/events":
                raise web.HTTPSeeOther(f"/login?{urlencode({'next': request.path_qs})}")
            raise web.HTTPUnauthorized(text="log in first")
        if request.method == "POST":
            form = await request.post()
            if form.get("csrf") != session.csrf:
                raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong: reload")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path in ("/events", "/export.csv"):
            raise
        response = render(
            request,
            "error.html",
            status=exc.status,
            page_id="error",
            message=exc.text or exc.reason,
        )
    except (ApiError, TransportError) as exc:
        where = request.app[SETTINGS].es_where
        raise web.HTTPServiceUnavailable(
            text=f"Elasticsearch at {where} did not answer ({exc}); try again shortly"
        ) from exc
    return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, streams and errors included: no framing, no sniffing, own scripts."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'")
    response.headers.setdefault("Referrer-Policy", "same-origin")


def _session(request: web.Request) -> Session | None:
    """The request's live session (touched), if any."""
    return request.app[SESSIONS].get(request.cookies.get(SESSION_COOKIE))


def _lang(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "en")
    return lang if lang in LANGUAGES else "en"


def _user(request: web.Request) -> User:
    """The signed-in user (the guard let only signed-in requests through)."""
    session = _session(request)
    assert session is not None
    return session.user


def aliases(request: web.Request, kind: Kind) -> str:
    """The indices the user may read: its clients' aliases (an admin: every client's)."""
    user, namespace = _user(request), request.app[SETTINGS].namespace
    if user.admin:
        return group_alias(namespace, kind)
    return ",".join(client_alias(namespace, kind, client) for client in user.clients)


def _clients(request: web.Request) -> list[str] | None:
    """The user's clients, or None for an admin (all)."""
    user = _user(request)
    return None if user.admin else list(user.clients)


SEARCH: dict[str, Any] = {"ignore_unavailable": True, "allow_no_indices": True}


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never another host."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang, session = _lang(request), _session(request)
    page = request.app[TEMPLATES].get_template(template).render(
        t=lambda key, **values: translate(lang, key, **values),
        lang=lang, dir=DIRECTION[lang], other_lang="ar" if lang == "en" else "en",
        user=session.user if session else None, csrf=session.csrf if session else "",
        nav=NAV, here=request.path_qs, message=context.pop("message", ""), **context,
    )  # fmt: skip
    return web.Response(text=page, status=status, content_type="text/html")


def _login_form(
    request: web.Request, target: str, status: int = 200, message: str = ""
) -> web.Response:
    """The login page, with a login token in a cookie and in the form (double submit): a page
    elsewhere cannot log a browser in as someone else."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status=status,
        page_id="login",
        next=target,
        login_token=token,
        message=message,
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return response


async def login_page(request: web.Request) -> web.Response:
    return _login_form(request, _safe_next(request.query.get("next")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    token = request.cookies.get(LOGIN_COOKIE)
    if not token or form.get("login_token") != token:
        raise web.HTTPForbidden(text="the login form's token is missing or wrong: reload the page")
    failures = request.app[FAILURES]
    if failures.blocked(name):
        return _login_form(request, target, 429, translate(_lang(request), "login_blocked"))
    user = await authenticate(request.app[ES], request.app[SETTINGS].namespace, name, password)
    if user is None:
        failures.failed(name)
        return _login_form(request, target, 401, translate(_lang(request), "login_failed"))
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        request.app[SESSIONS].start(user),
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        path="/",
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def switch_language(request: web.Request) -> web.Response:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"language: {lang!r}; one of {', '.join(LANGUAGES)}")
    response = web.HTTPSeeOther(_safe_next(request.query.get("next")))
    response.set_cookie(LANG_COOKIE, lang, samesite="Lax", path="/", max_age=365 * 86400)
    raise response


# --- the inbox ---------------------------------------------------------------------------


def _filters(request: web.Request) -> inbox.Filters:
    """The view's filters; 400 for a bad one, 403 for a brand of another client."""
    try:
        filters = inbox.parse_filters(request.query)
    except inbox.FilterError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not all(_user(request).sees(client) for client in filters.clients()):
        raise web.HTTPForbidden(text="brand: not one of your clients")
    return filters


async def _open_alerts(
    request: web.Request,
) -> tuple[list[dict[str, Any]], dict[str, state.Versioned]]:
    """The user's open alerts (not resolved here), newest first, with their states."""
    found = await request.app[ES].search(
        index=aliases(request, "alerts"),
        query={"terms": {"status": list(OPEN_ALERT_STATUSES)}},
        sort=[{"raised_at": "desc"}],
        size=100,
        **SEARCH,
    )
    alerts = [hit["_source"] for hit in found["hits"]["hits"]]
    states = await state.load(
        request.app[ES],
        request.app[SETTINGS].namespace,
        [state.alert_state_id(a["id"]) for a in alerts],
    )
    still_open = [
        a for a in alerts
        if states.get(state.alert_state_id(a["id"]), state.Versioned({})).doc.get("status")
        != "resolved"
    ]  # fmt: skip
    return still_open, states


async def _ranked(
    request: web.Request, filters: inbox.Filters
) -> tuple[list[inbox.Row], int, dict[str, Any]]:
    """Every ranked row of the view (its newest CANDIDATES documents), the total matching,
    and the view's aggregations."""
    es, namespace, now = request.app[ES], request.app[SETTINGS].namespace, datetime.now(UTC)
    alerts, _ = await _open_alerts(request)
    incident_brands = {f"{a['client']}/{a['brand']}" for a in alerts}
    span = inbox.SINCE[filters.since]
    narrow = (filters.brands, None if span is None else now - span)  # the view's states only
    if filters.status == "all":
        closed: list[str] = []
        only = None
    elif filters.status == "open":
        closed, only = (
            await state.closed_ids(es, namespace, _clients(request), inbox.CLOSED, *narrow),
            None,
        )
    else:
        closed, only = (
            [],
            await state.closed_ids(es, namespace, _clients(request), (filters.status,), *narrow),
        )
    found = await es.search(
        index=aliases(request, "mentions"),
        query=inbox.to_query(filters, now, closed, only, _config(request).competitors()),
        sort=[{"created_at": "desc"}], size=inbox.CANDIDATES, track_total_hits=True,
        source_excludes=["text_normalized", "matched_terms"],
        aggs={"brands": {"terms": {"field": "brand_key", "size": 500}},
              "all": {"global": {}, "aggs": {
                  "languages": {"terms": {"field": "language", "size": 50}},
                  "sources": {"terms": {"field": "source", "size": 50}}}}},
        **SEARCH,
    )  # fmt: skip
    rows = inbox.rank(found["hits"]["hits"], now, incident_brands)
    return rows, found["hits"]["total"]["value"], found.get("aggregations", {})


def _brand_options(request: web.Request) -> list[tuple[str, str]]:
    user = _user(request)
    return [
        (f"{client.id}/{brand.id}", f"{client.name} / {brand.name}")
        for client in _config(request).clients if user.sees(client.id)
        for brand in client.brands
    ]  # fmt: skip


async def inbox_page(request: web.Request) -> web.Response:
    filters = _filters(request)
    rows, total, aggs = await _ranked(request, filters)
    shown = inbox.page(rows, filters.page)
    states = await state.load(
        request.app[ES], request.app[SETTINGS].namespace, [r.id for r in shown]
    )
    responses = await state.response_times(
        request.app[ES], request.app[SETTINGS].namespace, _clients(request)
    )
    backlog = {b["key"]: b["doc_count"] for b in aggs.get("brands", {}).get("buckets", [])}
    everything = aggs.get("all", {})
    return render(
        request, "inbox.html", page_id="inbox", filters=filters, rows=shown, states=states,
        total=total, ranked=len(rows), candidates=inbox.CANDIDATES, pages=max(1, -(-len(rows) // inbox.PAGE_SIZE)),
        brand_options=_brand_options(request), brand_names=dict(_brand_options(request)),
        backlog=backlog, responses=responses,
        languages=[b["key"] for b in everything.get("languages", {}).get("buckets", [])],
        sources=[b["key"] for b in everything.get("sources", {}).get("buckets", [])],
        triages=inbox.TRIAGES, sentiments=inbox.SENTIMENTS, since_options=list(inbox.SINCE),
        statuses=inbox.STATUSES, query_string=urlencode(filters.params(page=1)),
        link=lambda **changed: "/?" + urlencode(filters.params(**changed)),
    )  # fmt: skip


CSV_COLUMNS = ["urgency", "client", "brand", "created_at", "source", "author", "followers",
               "triage", "sentiment", "probability", "language", "copies", "url", "text", "id"]  # fmt: skip


async def export_csv(request: web.Request) -> web.Response:
    """The view's ranked rows (every page) as CSV, UTF-8 with a BOM so Excel reads Arabic."""
    filters = _filters(request)
    rows, _, _ = await _ranked(request, filters)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        doc = row.doc
        author, sentiment = doc.get("author") or {}, doc.get("sentiment") or {}
        writer.writerow([row.urgency.score, doc.get("client"), doc.get("brand"), doc.get("created_at"),
                         doc.get("source"), author.get("handle"), author.get("followers"),
                         doc.get("triage"), sentiment.get("label"), sentiment.get("probability"),
                         doc.get("language"), row.copies, doc.get("url"), doc.get("text"), row.id])  # fmt: skip
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="sada-inbox.csv"'},
    )


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events, polled every 2 s: `mention` (its rendered inbox row) for each
    mention of the view's filters that was not among the newest at the last look (so one
    indexed late, with an older post time, is announced too), `alert` for each new alert step
    of the user's clients."""
    filters = _filters(request)
    es, lang = request.app[ES], _lang(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    new_mentions, new_alerts = inbox.Novelty(), inbox.Novelty()
    mention_index, alert_index = aliases(request, "mentions"), aliases(request, "alerts")
    row_template = request.app[TEMPLATES].get_template("_row.html")
    while request.app[SESSIONS].alive(request.cookies.get(SESSION_COOKIE)):
        now = datetime.now(UTC)
        mentions = await es.search(index=mention_index,
                                   query=inbox.to_query(filters, now, hidden_brands=_config(request).competitors()),
                                   sort=[{"created_at": "desc"}],
                                   size=inbox.LIVE_WINDOW, source_excludes=["text_normalized"],
                                   **SEARCH)  # fmt: skip
        alerts = await es.search(index=alert_index, sort=[{"raised_at": "desc"}], size=50, **SEARCH)
        chunks = []
        hits = {hit["_id"]: hit for hit in mentions["hits"]["hits"]}
        for doc_id in reversed(new_mentions.new(list(hits))):  # oldest first: newest ends on top
            (row,) = inbox.rank([hits[doc_id]], now, set())
            html = row_template.render(
                row=row, states={}, t=lambda key, **v: translate(lang, key, **v)
            )
            chunks.append(_event("mention", {"id": row.id, "html": html}))
        steps = {
            f"{a['id']}@{a['raised_at']}": a for a in (h["_source"] for h in alerts["hits"]["hits"])
        }
        for key in reversed(new_alerts.new(list(steps))):
            chunks.append(
                _event(
                    "alert",
                    {
                        name: steps[key][name]
                        for name in ("id", "client", "brand", "status", "severity", "explanation")
                    },
                )
            )
        try:
            await response.write("".join(chunks).encode() or b": still here\n\n")
        except ConnectionError:
            break
        await asyncio.sleep(request.app[POLL])
    return response  # logged out or expired: the stream ends


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- a mention ---------------------------------------------------------------------------


async def _owned(request: web.Request, kind: Kind, doc_id: str) -> dict[str, Any]:
    """The document `doc_id` if it is one of the user's clients'; 403 if it is another
    client's, 404 if there is none."""
    es = request.app[ES]
    found = await es.search(
        index=aliases(request, kind), query={"ids": {"values": [doc_id]}}, size=1, **SEARCH
    )
    if hits := found["hits"]["hits"]:
        return hits[0]["_source"]  # type: ignore[no-any-return]
    anywhere = await es.count(
        index=group_alias(request.app[SETTINGS].namespace, kind),
        query={"ids": {"values": [doc_id]}},
        **SEARCH,
    )
    if anywhere["count"]:
        raise web.HTTPForbidden(text="not one of your clients")
    raise web.HTTPNotFound(text=f"no {kind[:-1]} {doc_id}")


def repliers(config: SadaConfig) -> dict[str, Job]:
    """The clients file's first `sources:` entry of each source that can reply, by source name:
    its credentials answer that source's mentions. Raises ConfigError for a bad entry."""
    found: dict[str, Job] = {}
    for job in jobs(config):
        if job.source.reply is not None:
            found.setdefault(job.source.name, job)
    return found


def reply_refusal(
    doc: dict[str, Any], replying: dict[str, Job]
) -> tuple[str, dict[str, str]] | None:
    """Why this mention cannot be answered from the console (an i18n key and its values), or
    None when it can."""
    source = SOURCES.get(doc.get("source", ""))
    if source is None or source.reply is None:
        return "no_reply_source", {"source": str(doc.get("source"))}
    if not doc.get("reply_target"):
        return "no_reply_target", {}
    if source.name not in replying:
        return "no_reply_config", {"source": source.name}
    return None


async def _send_reply(job: Job, doc: dict[str, Any], text: str) -> str:
    """Answer through the mention's own source, with its `sources:` entry's credentials."""
    assert job.source.reply is not None  # repliers() keeps only these
    async with httpx.AsyncClient() as client:
        return await job.source.reply(job.config, client, doc["reply_target"], text)


async def mention_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    doc_id = request.match_info["id"]
    doc = await _owned(request, "mentions", doc_id)
    namespace = request.app[SETTINGS].namespace
    current = (await state.load(request.app[ES], namespace, [doc_id])).get(doc_id)
    copies = await request.app[ES].count(
        index=aliases(request, "mentions"),
        query={"bool": {"filter": [{"term": {"brand_key": doc["brand_key"]}},
                                   {"term": {"duplicate_of": doc.get("duplicate_of") or doc["uid"]}}]}},
        **SEARCH,
    )  # fmt: skip
    refusal = reply_refusal(doc, request.app[REPLIERS]())
    teammates = await request.app[ES].options(ignore_status=404).search(
        index=users_index(namespace), size=200, source_includes=["name"],
        query={"bool": {"should": [{"term": {"clients": doc["client"]}}, {"term": {"admin": True}}]}},
    )  # fmt: skip
    return render(
        request, "mention.html", status=status, page_id="mention", id=doc_id, doc=doc,
        teammates=sorted(h["_source"]["name"] for h in teammates.body.get("hits", {}).get("hits", [])),
        state=current or state.Versioned(state.fresh("mention", doc["client"], doc["brand_key"], doc["created_at"])),
        copies=copies["count"], message=message,
        reply_off=translate(_lang(request), refusal[0], **refusal[1]) if refusal else "",
    )  # fmt: skip


async def mention_action(request: web.Request) -> web.Response:
    doc_id = request.match_info["id"]
    doc = await _owned(request, "mentions", doc_id)
    form = await request.post()
    action, version = str(form.get("action", "")), str(form.get("version", ""))
    detail = str(form.get("detail", "")).strip()
    es, namespace, user, lang = (
        request.app[ES],
        request.app[SETTINGS].namespace,
        _user(request),
        _lang(request),
    )
    current = (await state.load(es, namespace, [doc_id])).get(doc_id)
    if (current.version if current else "") != version:
        by = current.doc.get("updated_by", "?") if current else "?"
        return await mention_page(request, translate(lang, "conflict", user=by), 409)
    base = (
        current.doc
        if current
        else state.fresh("mention", doc["client"], doc["brand_key"], doc["created_at"])
    )
    created = datetime.fromisoformat(doc["created_at"])
    if action == "reply":
        if refusal := reply_refusal(doc, request.app[REPLIERS]()):
            return await mention_page(request, translate(lang, refusal[0], **refusal[1]), 400)
        if not detail:
            raise web.HTTPBadRequest(text="reply: write the reply's text")
        try:
            reply_id = await _send_reply(request.app[REPLIERS]()[doc["source"]], doc, detail)
        except SourceError as exc:
            return await mention_page(request, translate(lang, "reply_failed", error=str(exc)), 502)
        # Sent: it must be recorded even if someone changed the state after our check.
        while conflict := await state.write(
            es,
            namespace,
            doc_id,
            version,
            state.apply(
                base, "reply", user.name, f"{reply_id}: {detail}", datetime.now(UTC), created
            ),
        ):
            latest = (await state.load(es, namespace, [doc_id]))[doc_id]
            base, version = latest.doc, latest.version
        raise web.HTTPSeeOther(f"/mention/{doc_id}")
    try:
        changed = state.apply(base, action, user.name, detail, datetime.now(UTC))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if conflict := await state.write(es, namespace, doc_id, version, changed):
        return await mention_page(request, translate(lang, "conflict", user=conflict.by), 409)
    raise web.HTTPSeeOther(f"/mention/{doc_id}")


# --- incidents ---------------------------------------------------------------------------


async def incidents_page(
    request: web.Request, message: str = "", status: int = 200
) -> web.Response:
    alerts, states = await _open_alerts(request)
    uids = sorted({uid for alert in alerts for uid in alert.get("sample_uids", [])})
    samples: dict[str, dict[str, Any]] = {}
    if uids:
        found = await request.app[ES].search(
            index=aliases(request, "mentions"),
            query={"terms": {"uid": uids}},
            size=len(uids) * 5,
            **SEARCH,
        )
        samples = {hit["_source"]["uid"]: hit["_source"] for hit in found["hits"]["hits"]}
    return render(
        request,
        "incidents.html",
        status=status,
        page_id="incidents",
        alerts=alerts,
        states=states,
        samples=samples,
        state_id=state.alert_state_id,
        message=message,
    )


async def incident_action(request: web.Request) -> web.Response:
    alert_id = request.match_info["id"]
    alert = await _owned(request, "alerts", alert_id)
    form = await request.post()
    action, version = str(form.get("action", "")), str(form.get("version", ""))
    if action not in ("acknowledge", "resolve"):
        raise web.HTTPBadRequest(text=f"action: {action!r}; one of acknowledge, resolve")
    es, namespace, user = request.app[ES], request.app[SETTINGS].namespace, _user(request)
    state_id = state.alert_state_id(alert_id)
    current = (await state.load(es, namespace, [state_id])).get(state_id)
    base = (
        current.doc
        if current
        else state.fresh("alert", alert["client"], f"{alert['client']}/{alert['brand']}")
    )
    conflict = (
        state.Conflict(current.doc.get("updated_by", "?") if current else "?")
        if (current.version if current else "") != version
        else await state.write(es, namespace, state_id, version,
                               state.apply(base, action, user.name, "", datetime.now(UTC)))
    )  # fmt: skip
    if conflict:
        return await incidents_page(
            request, translate(_lang(request), "conflict", user=conflict.by), 409
        )
    raise web.HTTPSeeOther("/incidents")


# --- pulse, query preview, weekly report -------------------------------------------------


def _seen_clients(request: web.Request) -> list[Client]:
    user = _user(request)
    return [client for client in _config(request).clients if user.sees(client.id)]


def _chosen_client(request: web.Request, wanted: str) -> Client:
    """The client `wanted` (empty: the user's first): 403 for another client's, 404 for none."""
    seen = _seen_clients(request)
    if not wanted:
        if not seen:
            raise web.HTTPNotFound(text="no client in the clients file is yours")
        return seen[0]
    if not _user(request).sees(wanted):
        raise web.HTTPForbidden(text="client: not one of your clients")
    if (client := _config(request).client(wanted)) is None:
        raise web.HTTPNotFound(text=f"client {wanted!r} is not in the clients file")
    return client


async def pulse_page(request: web.Request) -> web.Response:
    """?brand=client/brand (default: the first brand of the user's first client)."""
    wanted = request.query.get("brand", "").strip()
    client_id, _, brand_id = wanted.partition("/")
    if wanted and not brand_id:
        raise web.HTTPBadRequest(text=f"brand: {wanted!r} is not client/brand")
    client = _chosen_client(request, client_id)
    brand = next(
        (b for b in client.brands if b.id == brand_id), None if brand_id else client.brands[0]
    )
    if brand is None:
        raise web.HTTPNotFound(text=f"brand {wanted!r} is not in the clients file")
    view = await pulse.load(
        request.app[ES], request.app[SETTINGS].namespace, client, brand, datetime.now(UTC)
    )
    return render(request, "pulse.html", page_id="pulse", pulse=view, chart=pulse.chart,
                  totals=pulse.totals, brand_options=_brand_options(request),
                  chosen=f"{client.id}/{brand.id}")  # fmt: skip


async def preview_page(request: web.Request) -> web.Response:
    """?client=&q=&size=: the query tried on the client's newest `size` mentions."""
    client = _chosen_client(request, request.query.get("client", "").strip())
    q = request.query.get("q", "").strip()
    size_text = request.query.get("size", str(preview.RECENT)).strip()
    if not size_text.isdigit() or not 1 <= int(size_text) <= preview.MOST:
        raise web.HTTPBadRequest(text=f"size: {size_text!r}; a number from 1 to {preview.MOST}")
    view = (await preview.load(request.app[ES], request.app[SETTINGS].namespace, client.id, q,
                               int(size_text))) if q else None  # fmt: skip
    return render(request, "preview.html", page_id="preview", view=view, client=client,
                  clients=_seen_clients(request), q=q, size=int(size_text), most=preview.MOST)  # fmt: skip


async def report_page(request: web.Request) -> web.Response:
    """?client=&week=YYYY-Www (default: this week): the weekly report as it is emailed."""
    client = _chosen_client(request, request.query.get("client", "").strip())
    try:
        start, week = report.week_of(request.query.get("week"), datetime.now(UTC))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    built = await report.load(request.app[ES], request.app[SETTINGS].namespace, client, start, week)
    return web.Response(
        text=report.render(built, _lang(request), _seen_clients(request)),
        content_type="text/html",
        headers={"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'"},
    )  # the email's inline CSS


def serve(settings: Settings, live: LiveConfig, host: str, port: int) -> None:
    web.run_app(create_app(settings, live), host=host, port=port, print=None)
