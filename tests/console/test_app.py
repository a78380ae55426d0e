"""The console over HTTP against the real local Elasticsearch: logins, sessions, CSRF, the
inbox and its filters, work on a mention with optimistic concurrency, incidents, export."""

from __future__ import annotations

import csv
import io
import re

from console.app import CONFIG, NAV, SESSION_COOKIE
from console.auth import SESSION_IDLE_SECONDS
from core.config import SadaConfig
from tests.console.conftest import MENTIONS, PASSWORD, Console, csrf_of, log_in, version_of

TG1, TG2, CAMP1, CAMP2, CAMP3, PRAISE, GX1 = (m.doc_id for m in MENTIONS)


async def test_login_right_and_wrong(console: Console) -> None:
    client = await console.client()
    page = await client.get("/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/login?next=/"
    wrong = await log_in(client, name="alice", password="nope")
    assert wrong.status == 401 and "Wrong user name or password" in await wrong.text()
    assert (await log_in(client, name="mallory", password=PASSWORD)).status == 401
    right = await log_in(client, name="alice", password=PASSWORD, next="/incidents")
    assert right.status == 303 and right.headers["Location"] == "/incidents"
    cookie = right.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and len(cookie.value) >= 43
    inbox = await client.get("/")
    assert inbox.status == 200 and 'data-testid="user-name">alice<' in await inbox.text()
    assert inbox.headers["Content-Security-Policy"] == "default-src 'self'"
    assert inbox.headers["X-Frame-Options"] == "DENY"
    for elsewhere in ("//evil.example", "/\\evil.example", "https://evil.example"):
        off_site = await log_in(client, name="alice", password=PASSWORD, next=elsewhere)
        assert off_site.headers["Location"] == "/"


async def test_a_login_without_its_forms_token_is_refused(console: Console) -> None:
    client = await console.client()
    forged = await client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert forged.status == 403 and "token" in await forged.text()
    await client.get("/login")  # the cookie, but not the form's value
    forged = await client.post("/login", data={"name": "alice", "password": PASSWORD,
                                               "login_token": "guessed"})  # fmt: skip
    assert forged.status == 403
    assert (await client.get("/", allow_redirects=False)).status == 303  # not logged in


async def test_a_sixth_failed_login_within_a_minute_is_refused_unchecked(console: Console) -> None:
    client = await console.client()
    for _ in range(5):
        assert (await log_in(client, name="bob", password="x")).status == 401
    blocked = await log_in(client, name="bob", password=PASSWORD)
    assert blocked.status == 429 and "wait a minute" in await blocked.text()
    other = await log_in(client, name="alice", password=PASSWORD)
    assert other.status == 303  # only bob's name is held back
    console.clock.at += 61
    assert (await log_in(await console.client(), name="bob", password=PASSWORD)).status == 303


async def test_logout_and_idle_sessions_end(console: Console) -> None:
    alice = await console.login("alice")
    console.clock.at += SESSION_IDLE_SECONDS - 1
    assert (
        await alice.get("/", allow_redirects=False)
    ).status == 200  # touched: idle again from here
    console.clock.at += SESSION_IDLE_SECONDS + 1
    assert (await alice.get("/", allow_redirects=False)).status == 303
    bob = await console.login("bob")
    csrf = csrf_of(await (await bob.get("/")).text())
    await bob.post("/logout", data={"csrf": csrf})
    assert (await bob.get("/", allow_redirects=False)).status == 303


async def test_every_post_without_the_session_csrf_token_is_refused(console: Console) -> None:
    alice = await console.login("alice")
    for path, data in [(f"/mention/{TG1}", {"action": "handle", "version": ""}),
                       ("/incidents/acme-widget-incident", {"action": "acknowledge"}),
                       ("/logout", {})]:  # fmt: skip
        refused = await alice.post(path, data=data)
        assert refused.status == 403 and "CSRF" in await refused.text()
        forged = await alice.post(path, data={**data, "csrf": "forged"})
        assert forged.status == 403
    page = await alice.get(f"/mention/{TG1}")
    assert 'data-testid="mention-status">Open<' in await page.text()  # nothing changed
    anonymous = await console.client()
    assert (await anonymous.post(f"/mention/{TG1}", data={"action": "handle"})).status == 401


async def test_the_inbox_ranks_groups_and_filters(console: Console) -> None:
    alice = await console.login("alice")
    page = await (await alice.get("/")).text()
    assert page.index(TG1) < page.index(TG2)  # 50,000 followers, negative, open incident
    assert f'data-id="{CAMP1}"' in page or f'data-id="{CAMP2}"' in page
    assert page.count('data-testid="copies">× 3') == 1  # the campaign is one row of three
    assert PRAISE not in page and GX1 not in page  # praise is not to answer; globex is not acme's
    assert '<bdi dir="auto" data-testid="mention-text">الطلب متأخر' in page
    assert 'data-part="incident">Open incident: 1.00' in page
    assert 'data-testid="backlog-acme/widget"><bdi dir="auto">Acme / Widget</bdi>: 5 open' in page
    arabic = await (await alice.get("/?language=ar")).text()
    assert TG2 in arabic and TG1 not in arabic
    searched = await (await alice.get("/?q=refund")).text()
    assert TG1 in searched and TG2 not in searched
    praise = await (await alice.get("/?triage=praise&source=telegram")).text()
    assert PRAISE in praise and TG1 not in praise
    bad = await alice.get("/?since=forever")
    assert bad.status == 400 and "since: unknown &#39;forever&#39;" in await bad.text()


async def test_the_interface_speaks_arabic_right_to_left(console: Console) -> None:
    alice = await console.login("alice")
    switched = await alice.get("/lang/ar?next=/", allow_redirects=False)
    assert switched.status == 303
    page = await (await alice.get("/")).text()
    assert '<html lang="ar" dir="rtl">' in page and "البريد الوارد" in page
    assert '<bdi dir="auto" data-testid="mention-text">My widget broke' in page


async def test_handled_mentions_leave_the_open_inbox_for_everyone(console: Console) -> None:
    alice, bob = await console.login("alice"), await console.login("bob")
    page = await (await alice.get(f"/mention/{TG2}")).text()
    done = await alice.post(
        f"/mention/{TG2}",
        allow_redirects=False,
        data={"csrf": csrf_of(page), "version": version_of(page), "action": "handle"},
    )
    assert done.status == 303
    assert TG2 not in await (await bob.get("/")).text()
    handled = await (await bob.get("/?status=handled")).text()
    assert TG2 in handled and TG1 not in handled
    history = await (await bob.get(f"/mention/{TG2}")).text()
    assert 'data-testid="mention-status">Handled<' in history and 'data-action="handle"' in history


async def test_a_second_manager_acting_on_a_stale_page_is_told_who_changed_it(
    console: Console,
) -> None:
    alice, bob = await console.login("alice"), await console.login("bob")
    seen_by_alice = await (await alice.get(f"/mention/{TG1}")).text()
    seen_by_bob = await (await bob.get(f"/mention/{TG1}")).text()
    first = await alice.post(f"/mention/{TG1}", allow_redirects=False, data={
        "csrf": csrf_of(seen_by_alice), "version": version_of(seen_by_alice),
        "action": "assign", "detail": "alice"})  # fmt: skip
    assert first.status == 303
    second = await bob.post(
        f"/mention/{TG1}",
        data={"csrf": csrf_of(seen_by_bob), "version": version_of(seen_by_bob), "action": "handle"},
    )
    text = await second.text()
    assert second.status == 409 and "Changed by alice meanwhile" in text
    assert (
        'data-testid="mention-status">Open<' in text
        and 'data-testid="mention-assignee">alice<' in text
    )
    again = await bob.post(
        f"/mention/{TG1}",
        allow_redirects=False,
        data={
            "csrf": csrf_of(text),
            "version": version_of(text),
            "action": "note",
            "detail": "on it",
        },
    )
    assert again.status == 303
    final = await (await alice.get(f"/mention/{TG1}")).text()
    assert 'bob: <bdi dir="auto">on it</bdi>' in final
    assert [a for a in ("assign", "note") if f'data-action="{a}"' in final] == ["assign", "note"]


async def test_incidents_show_explanation_evidence_and_timeline_and_are_acknowledged(
    console: Console,
) -> None:
    alice, bob = await console.login("alice"), await console.login("bob")
    page = await (await alice.get("/incidents")).text()
    assert page.count('data-testid="incident"') == 1 and "acme-widget-incident" in page
    assert "negative share 80% for widget" in page and "My widget broke" in page
    assert "globex" not in page
    stale = await (await bob.get("/incidents")).text()
    ack = await alice.post(
        "/incidents/acme-widget-incident",
        allow_redirects=False,
        data={"csrf": csrf_of(page), "version": version_of(page), "action": "acknowledge"},
    )
    assert ack.status == 303
    conflict = await bob.post(
        "/incidents/acme-widget-incident",
        data={"csrf": csrf_of(stale), "version": version_of(stale), "action": "resolve"},
    )
    assert conflict.status == 409 and "Changed by alice meanwhile" in await conflict.text()
    now_page = await (await bob.get("/incidents")).text()
    assert (
        'data-testid="incident-status">Acknowledged<' in now_page
        and "alice: acknowledge" in now_page
    )
    resolved = await bob.post(
        "/incidents/acme-widget-incident",
        allow_redirects=False,
        data={"csrf": csrf_of(now_page), "version": version_of(now_page), "action": "resolve"},
    )
    assert resolved.status == 303
    assert 'data-testid="incidents-empty"' in await (await bob.get("/incidents")).text()
    inbox = await (await bob.get("/")).text()
    assert 'data-part="incident">Open incident: 0.00' in inbox  # resolved: no longer urgent


async def test_export_is_the_view_as_csv_with_a_bom_and_arabic_intact(console: Console) -> None:
    alice = await console.login("alice")
    response = await alice.get("/export.csv?language=ar&language=en")
    assert response.status == 200 and response.content_type == "text/csv"
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["id"] for r in rows][:1] == [TG1]
    arabic = next(r for r in rows if r["id"] == TG2)
    assert arabic["text"] == "الطلب متأخر منذ أسبوع، أين الشحنة؟" and arabic["language"] == "ar"
    campaign = next(r for r in rows if r["text"].startswith("Boycott"))
    assert campaign["copies"] == "3" and len(rows) == 3 and all(r["client"] == "acme" for r in rows)


async def test_every_page_and_nav_link_answers_in_both_languages(console: Console) -> None:
    alice = await console.login("alice")
    for lang, direction in (("en", "ltr"), ("ar", "rtl")):
        await alice.get(f"/lang/{lang}")
        for path in ("/", "/incidents", f"/mention/{TG1}", "/?status=all&triage=&since=all"):
            page = await alice.get(path)
            text = await page.text()
            assert page.status == 200 and f'<html lang="{lang}" dir="{direction}">' in text, path
            links = re.findall(r'<a href="([^"]+)" data-testid="nav-', text)
            assert links == [item.path for item in NAV] and links[:2] == ["/", "/incidents"]
            for target in links:
                assert (await alice.get(target)).status == 200, target
    mention = await (await alice.get(f"/mention/{TG1}")).text()
    assert '<option value="alice">' in mention and '<option value="root">' in mention
    assert '<option value="gina">' not in mention  # teammates: this client's users and admins
    static = await alice.get("/static/console.js")
    assert static.status == 200 and "EventSource" in await static.text()


async def test_a_brand_added_to_the_clients_file_is_offered_without_a_restart(
    console: Console,
) -> None:
    """The console reads the clients file as it is at each request (`LiveConfig`)."""
    client = await console.login("root")
    assert "Acme / Sprocket" not in await (await client.get("/")).text()
    live = console.server.app[CONFIG]
    data = live.config.model_dump()
    data["clients"][0]["brands"].append({"id": "sprocket", "name": "Sprocket", "include": ["x"]})
    live.config = SadaConfig.model_validate(data)
    assert "Acme / Sprocket" in await (await client.get("/")).text()
