"""A client's user sees nothing of another client, on every endpoint: 403 for another client's
brand or document, nothing of it in the lists, the export, the live events."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from core.config import Settings
from tests.console.conftest import MENTIONS, Console, alert, csrf_of, index, scored

TG1, GX1 = MENTIONS[0].doc_id, MENTIONS[-1].doc_id
ACME_ALERT = "acme-widget-incident"


async def _events(client: TestClient, path: str, seconds: float) -> str:
    """What /events sends within `seconds`."""
    response = await client.get(path)
    assert response.status == 200 and response.content_type == "text/event-stream"
    seen = b""
    try:
        async with asyncio.timeout(seconds):
            async for chunk in response.content.iter_any():
                seen += chunk
    except TimeoutError:
        pass
    response.close()
    return seen.decode()


async def test_another_clients_brand_and_documents_are_refused_everywhere(
    console: Console,
) -> None:
    gina = await console.login("gina")
    csrf = csrf_of(await (await gina.get("/")).text())
    for path in ("/?brand=acme/widget", "/export.csv?brand=acme/widget",
                 "/events?brand=acme/widget", f"/mention/{TG1}"):  # fmt: skip
        assert (await gina.get(path)).status == 403, path
    for path, action in ((f"/mention/{TG1}", "handle"), (f"/mention/{TG1}", "reply"),
                         (f"/incidents/{ACME_ALERT}", "acknowledge")):  # fmt: skip
        refused = await gina.post(path, data={"csrf": csrf, "action": action, "version": "",
                                              "detail": "hello"})  # fmt: skip
        assert refused.status == 403, path
    assert (await gina.get("/mention/nothing.acme.widget")).status == 404
    inbox = await (await gina.get("/?triage=&since=all&status=all")).text()
    assert GX1 in inbox and "acme" not in inbox.replace("acme-", "")
    export = (await (await gina.get("/export.csv?triage=&since=all")).read()).decode("utf-8-sig")
    assert GX1 in export and "acme" not in export
    incidents = await (await gina.get("/incidents")).text()
    assert "globex-soda-incident" in incidents and ACME_ALERT not in incidents
    # acme's state was never touched by her attempts
    alice = await console.login("alice")
    assert 'data-testid="mention-status">Open<' in await (await alice.get(f"/mention/{TG1}")).text()


async def test_an_admin_sees_every_client(console: Console) -> None:
    root = await console.login("root")
    inbox = await (await root.get("/")).text()
    assert TG1 in inbox and GX1 in inbox
    assert (await root.get(f"/mention/{GX1}")).status == 200


async def test_events_announce_new_mentions_and_alerts_of_the_users_clients_only(
    console: Console, indexed: Settings
) -> None:
    alice, gina = await console.login("alice"), await console.login("gina")
    alice_events = asyncio.create_task(_events(alice, "/events", 4.0))
    gina_events = asyncio.create_task(_events(gina, "/events", 4.0))
    await asyncio.sleep(1.0)
    newer = [scored("tg-new", "acme", "widget", "عاجل: الخدمة متوقفة", minutes_ago=-0.1,
                    language="ar"),
             scored("gx-new", "globex", "soda", "soda recall?", minutes_ago=-0.1),
             scored("tg-late", "acme", "widget", "posted an hour ago, indexed now", minutes_ago=60)]  # fmt: skip
    await index(indexed, newer, [alert("acme", "gadget", sample_uids=[], minutes_ago=-0.1)])
    seen_by_alice, seen_by_gina = await alice_events, await gina_events
    assert "event: mention" in seen_by_alice and newer[0].doc_id in seen_by_alice
    assert "عاجل: الخدمة متوقفة" in seen_by_alice and 'data-testid=\\"inbox-row\\"' in seen_by_alice
    assert "event: alert" in seen_by_alice and "acme-gadget-incident" in seen_by_alice
    assert newer[0].doc_id not in seen_by_gina and "acme" not in seen_by_gina
    assert newer[1].doc_id in seen_by_gina
    assert newer[2].doc_id in seen_by_alice  # an older post indexed late is news too
    assert seen_by_alice.index(newer[2].doc_id) < seen_by_alice.index(
        newer[0].doc_id
    )  # newest last
    assert MENTIONS[0].doc_id not in seen_by_alice  # already there when the page opened


async def test_the_event_stream_ends_when_the_session_does(console: Console) -> None:
    alice = await console.login("alice")
    response = await alice.get("/events")
    assert response.status == 200
    console.clock.at += 13 * 3600
    async with asyncio.timeout(5):
        rest = await response.read()  # returns once the server closes the stream
    assert rest == b"" or rest.startswith(b":")
    assert (await alice.get("/events")).status == 401
