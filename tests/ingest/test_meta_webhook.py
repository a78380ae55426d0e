"""The Meta webhook endpoint (Pages `feed`, Instagram `comments`/`mentions`), over real sockets.

Fixture provenance: no real Meta webhook delivery has been published that we could find
(../shared/fixtures/sources/PROVENANCE.md says so too), so the project wrote its own in the
documented shapes:
- meta_webhook_page_feed.json: Graph API "Webhooks for Pages" and the Webhooks reference for
  the Page object's `feed` field (developers.facebook.com/docs/graph-api/webhooks/reference/
  page): `{"object": "page", "entry": [{"id", "time", "changes": [{"field": "feed", "value":
  {"item", "verb", "post_id", "comment_id", "parent_id", "created_time", "message", "from",
  "post"}}]}]}`; verbs add, edited, remove, hide; a reaction; the Page's own reply.
- meta_webhook_instagram.json: "Instagram Platform Webhook Notification Examples"
  (developers.facebook.com/docs/instagram-platform/webhooks/examples) and the Instagram
  webhooks reference: `comments` values `{id, text, from{id, username}, media{id,
  media_product_type}, parent_id}`, `mentions` values `{media_id, comment_id}` (a comment
  @mention) and `{media_id}` (a caption @mention).
Texts are Gulf and Levantine Arabic, Arabizi, emoji and bidi marks (U+200F, U+200E, U+202B).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected
from core.events import Author, Engagement, Mention, Removal, make_uid, now
from ingest import instagram, meta_webhook
from ingest.parsing import Item
from ingest.runner import Job, Tally, run_once
from ingest.source import Source
from tests.ingest.support import ReplayServer, Reply, fixture

FEED = fixture("meta_webhook_page_feed.json")
INSTAGRAM = fixture("meta_webhook_instagram.json")
SECRET = "0123456789abcdef0123456789abcdef"
VERIFY = "verify-me-please-1234"
UNREAD = "no instagram account configured to read it"
IG_USER = "17841405822304914"  # the Instagram fixture's account
IG_TOKEN = "IGQ-webhook-test-token"
ROOT = Path(__file__).resolve().parents[2]


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_feed_changes_map_to_mentions_edits_and_removals() -> None:
    fetched = now()
    items = meta_webhook.parse(FEED, fetched_at=fetched)
    comment, reply, post, edited, removed, hidden = items  # own reply and reaction skipped
    cid = "889900112233445_1234567890123456"
    assert comment == Mention(
        uid=make_uid("facebook", cid),
        source="facebook",
        source_id=cid,
        url=f"https://www.facebook.com/{cid}",
        author=Author(handle="7012345678901234", name="نورة العتيبي"),
        text="التطبيق ما يفتح من أمس 😡 \u200fرقم الطلب #48213\u200f وين الدعم؟",
        created_at=at("2026-11-25T09:04:05"),
        fetched_at=fetched,
        engagement=Engagement(),
        parent_id="104857236512345_889900112233445",
        reply_target=cid,
    )
    assert isinstance(reply, Mention)
    assert reply.text == "3adi ya 5ayye, ana kamen el app 3am ye3mel crash 🙃"
    assert reply.parent_id == cid  # a reply sits under the comment it answers
    assert isinstance(post, Mention)
    assert post.source_id == post.reply_target == "104857236512345_990011223344556"
    assert post.parent_id is None and post.text.startswith("\u202bخدمة العملاء")
    assert isinstance(edited, Mention)
    assert (edited.uid, edited.source_id) == (comment.uid, cid)
    assert edited.edited_at == at("2026-11-25T10:15:00") and "رجع يشتغل" in edited.text
    assert comment.edited_at is None
    assert removed == Removal(
        uid=reply.uid,
        source="facebook",
        source_id=reply.source_id,
        removed_at=at("2026-11-25T10:15:00"),
        reason="deleted",
    )
    assert isinstance(hidden, Removal) and hidden.reason == "hidden by the page"


def test_instagram_comments_map_and_unread_mentions_keep_their_ids() -> None:
    fetched = now()
    comment, reply, *mentions = meta_webhook.parse(INSTAGRAM, fetched_at=fetched)
    assert comment == Mention(
        uid=make_uid("instagram", "17998877665544332"),
        source="instagram",
        source_id="17998877665544332",
        url=None,
        author=Author(handle="hessa.q8"),
        text="وين الطلبية؟؟ صار لي أسبوع أنتظر 😤📦 @sada.bank",
        created_at=at("2026-11-25T11:20:00"),
        fetched_at=fetched,
        parent_id="18012345678901234",  # the media it sits under
        reply_target="17998877665544332",
    )
    assert isinstance(reply, Mention)
    assert reply.parent_id == "17998877665544332"
    assert reply.text == "nafs el moshkle 3andi \u200e(order 7731)\u200e 😩"
    # @mentions carry ids only: without an instagram account to read them, dead letters
    assert mentions == [
        Rejected(
            payload='{"media_id": "18055566677788899", "comment_id": "17911122233344455"}',
            reason=f"meta_webhook: Instagram @mention not read: {UNREAD}",
        ),
        Rejected(
            payload='{"media_id": "18066677788899900"}',
            reason=f"meta_webhook: Instagram @mention not read: {UNREAD}",
        ),
    ]


def _delivery(*changes: object, kind: str = "page") -> bytes:
    entry = {"id": "104857236512345", "time": 1795597445, "changes": list(changes)}
    return json.dumps({"object": kind, "entry": [entry]}).encode()


def test_a_bad_change_is_rejected_alone_and_a_non_delivery_as_a_whole() -> None:
    good = json.loads(FEED)["entry"][0]["changes"][0]
    no_id = {
        "field": "feed",
        "value": {k: v for k, v in good["value"].items() if k != "comment_id"},
    }
    bad_time = {"field": "feed", "value": {**good["value"], "created_time": 10**12}}
    items = meta_webhook.parse(_delivery(no_id, good, bad_time, "junk"), fetched_at=now())
    assert [type(i).__name__ for i in items] == ["Rejected", "Mention", "Rejected", "Rejected"]
    reasons = [i.reason for i in items if isinstance(i, Rejected)]
    assert reasons[0] == "meta_webhook: missing or malformed field 'comment_id'"
    assert "epoch seconds out of range" in reasons[1]
    assert reasons[2] == "meta_webhook: missing or malformed field 'change.field'"
    (whole,) = meta_webhook.parse(b'{"object": "user", "entry": []}', fetched_at=now())
    assert isinstance(whole, Rejected) and "got object='user'" in whole.reason
    (entry,) = meta_webhook.parse(b'{"object": "page", "entry": [3]}', fetched_at=now())
    assert isinstance(entry, Rejected) and "entry 0 has no 'changes' list" in entry.reason
    messaging = b'{"object": "page", "entry": [{"id": "1", "time": 1, "messaging": []}]}'
    assert meta_webhook.parse(messaging, fetched_at=now()) == []


def test_signature_is_checked_on_the_raw_bytes() -> None:
    body, key = FEED, SECRET.encode()
    good = signed(body)["X-Hub-Signature-256"]
    assert meta_webhook.signature_refusal(good, body, key) is None
    assert (
        meta_webhook.signature_refusal(good.upper().replace("SHA256", "sha256"), body, key) is None
    )
    assert meta_webhook.signature_refusal(None, body, key) == "no X-Hub-Signature-256 header"
    sha1 = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    assert "is not 'sha256=<hex>'" in (meta_webhook.signature_refusal(sha1, body, key) or "")
    tampered = body.replace("نورة".encode(), "نوره".encode())
    assert "does not match" in (meta_webhook.signature_refusal(good, tampered, key) or "")
    reencoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes: refused
    assert meta_webhook.signature_refusal(good, reencoded, key) is not None
    assert meta_webhook.signature_refusal("sha256=\udcff", body, key) is not None


class Recorder:
    """An emitter that keeps what the runner hands it."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def mention(self, source: str, mention: Mention) -> None:
        self.items.append(mention)

    def removal(self, source: str, removal: Removal) -> None:
        self.items.append(removal)

    def rejected(self, source: str, item: Rejected) -> None:
        self.items.append(item)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def job_for(server: meta_webhook.WebhookServer) -> Job:
    """The source as the runner runs it, serving on `server` (to learn its port)."""

    def fetch(
        config: meta_webhook.Config, client: object, *, once: bool = False
    ) -> AsyncIterator[Item]:
        return meta_webhook.fetch(config, once=once, server=server)

    source = Source(meta_webhook.NAME, meta_webhook.Config, fetch, meta_webhook.SOURCE.kind)
    return Job(meta_webhook.NAME, source, server.config)


def config(**changes: object) -> meta_webhook.Config:
    return meta_webhook.Config.model_validate(
        {"app_secret": SECRET, "verify_token": VERIFY, "port": 0, **changes}
    )


@contextlib.asynccontextmanager
async def running(server: meta_webhook.WebhookServer) -> AsyncIterator[tuple[Recorder, str]]:
    """`server` on a free port, drained by the real runner into a Recorder; its URL."""
    recorder = Recorder()
    async with httpx.AsyncClient() as client:
        task = asyncio.ensure_future(run_once(job_for(server), recorder, client, Tally()))
        while server.port == 0:
            await asyncio.sleep(0.01)
        yield recorder, f"http://127.0.0.1:{server.port}/meta/webhook"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[meta_webhook.WebhookServer, Recorder, str]]:
    server = meta_webhook.WebhookServer(config(max_body_bytes=64_000, queue_size=50))
    async with running(server) as (recorder, url):
        yield server, recorder, url


Endpoint = tuple[meta_webhook.WebhookServer, Recorder, str]


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        (
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
            200,
            "1158201444",
        ),
        (
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            403,
            "verify_token",
        ),
        (
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
            403,
            "hub.mode",
        ),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY}, 403, "hub.mode"),
        ({}, 403, "verify_token"),
    ],
)
async def test_verification_handshake(
    endpoint: Endpoint, query: dict[str, str], status: int, body: str
) -> None:
    _, recorder, url = endpoint
    async with httpx.AsyncClient() as http:
        answer = await http.get(url, params=query)
    assert answer.status_code == status
    assert body in answer.text
    if status == 200:
        assert answer.text == body and answer.headers["content-type"].startswith("text/plain")
    assert recorder.items == []


async def test_a_signed_delivery_is_answered_once_its_items_are_produced(
    endpoint: Endpoint,
) -> None:
    server, recorder, url = endpoint
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=FEED, headers=signed(FEED))
    assert answer.status_code == 200 and answer.json() == {"received": 6}
    assert server.produced == 6  # every item was taken by the runner before the answer
    assert [type(i).__name__ for i in recorder.items] == [
        "Mention",
        "Mention",
        "Mention",
        "Mention",
        "Removal",
        "Removal",
    ]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "no X-Hub-Signature-256 header"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
        (signed(FEED, secret="another-apps-secret-0000"), "does not match"),
        ({"X-Hub-Signature-256": "sha1=abc"}, "is not 'sha256=<hex>'"),
    ],
)
async def test_an_unsigned_or_badly_signed_delivery_is_refused_and_produces_nothing(
    endpoint: Endpoint, headers: dict[str, str], says: str
) -> None:
    server, recorder, url = endpoint
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=FEED, headers=headers)
        assert answer.status_code == 401 and says in answer.text
        tampered = FEED.replace(b"7012345678901234", b"7012345678901235")
        answer = await http.post(url, content=tampered, headers=signed(FEED))
        assert answer.status_code == 401
    await asyncio.sleep(0.1)
    assert recorder.items == [] and server.queued == 0


async def test_an_oversize_delivery_is_413(endpoint: Endpoint) -> None:
    server, recorder, url = endpoint
    body = b" " * 70_000 + FEED
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 413
    assert recorder.items == [] and server.queued == 0


async def test_malformed_json_after_a_valid_signature_is_dead_lettered(
    endpoint: Endpoint,
) -> None:
    _, recorder, url = endpoint
    body = b'{"object": "page", "entry": [ {"id": '
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 200  # Meta's retry would not mend it: kept as a dead letter
    (item,) = recorder.items
    assert isinstance(item, Rejected)
    assert item.reason.startswith("meta_webhook: payload is not JSON")
    assert item.payload == body.decode()


async def test_a_replayed_delivery_maps_to_the_same_uids(endpoint: Endpoint) -> None:
    _, recorder, url = endpoint
    async with httpx.AsyncClient() as http:
        for _ in range(2):  # Meta resends a delivery it did not see answered
            answer = await http.post(url, content=FEED, headers=signed(FEED))
            assert answer.status_code == 200
    first, second = recorder.items[:6], recorder.items[6:]
    assert [i.uid for i in first] == [i.uid for i in second]  # type: ignore[union-attr]
    assert len({i.uid for i in first}) == 4  # type: ignore[union-attr]


async def test_the_runner_once_stops_after_the_first_delivery() -> None:
    server = meta_webhook.WebhookServer(config())
    recorder, tally = Recorder(), Tally()

    async def send() -> int:
        while server.port == 0:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{server.port}/meta/webhook"
            refused = await http.post(url, content=FEED)
            assert refused.status_code == 401
            answer = await http.post(url, content=INSTAGRAM, headers=signed(INSTAGRAM))
            return answer.status_code

    sender = asyncio.ensure_future(send())
    async with httpx.AsyncClient() as client:
        await asyncio.wait_for(run_once(job_for(server), recorder, client, tally, once=True), 5)
    assert await sender == 200
    assert (tally.mentions, tally.removals, tally.rejected) == (2, 0, 2)  # @mentions unread
    assert {i.source for i in recorder.items if isinstance(i, Mention)} == {"instagram"}


def instagram_account(graph: ReplayServer) -> dict[str, object]:
    """The instagram source's config pieces, pointing at a local Graph double."""
    return {
        "ig_user_id": IG_USER,
        "access_token": IG_TOKEN,
        "api_url": graph.url("/v23.0"),
        "http": {"requests_per_second_per_host": 1000, "timeout_seconds": 2, "max_attempts": 1},
        "allow_private": True,  # the local double
    }


def mention_delivery(media_id: str, comment_id: str | None = None) -> bytes:
    value = {"media_id": media_id} | ({"comment_id": comment_id} if comment_id else {})
    return _delivery({"field": "mentions", "value": value}, kind="instagram")


async def test_an_instagram_mention_is_read_through_the_graph_api_before_it_is_produced(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    """The delivery carries ids only; the Mention has the comment's text (Meta's
    mentioned_comment answer, as documented for the Mentions API) and the uid the instagram
    polling source gives that comment, so both are one document."""
    said = {
        "id": "17911122233344455",
        "text": "@sada.bank الحساب مقفل من أمس \u200f3ayez a3raf leh\u200f 🙏",
        "timestamp": "2026-11-25T11:21:00+0000",
        "like_count": 2,
        "username": "fahad.k",
    }
    server.script(
        f"/v23.0/{IG_USER}", Reply(200, json.dumps({"mentioned_comment": said, "id": IG_USER}))
    )
    webhook = meta_webhook.WebhookServer(config(instagram=instagram_account(server)), client)
    body = mention_delivery("18055566677788899", "17911122233344455")
    async with running(webhook) as (recorder, url), httpx.AsyncClient() as http:
        answer = await http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 200 and answer.json() == {"received": 1}
    (mention,) = recorder.items
    (polled,) = instagram.parse_comments(
        json.dumps({"data": [said]}),
        media_id="18055566677788899",
        permalink=None,
        fetched_at=now(),
    )
    assert isinstance(mention, Mention) and isinstance(polled, Mention)
    assert mention.uid == polled.uid == make_uid("instagram", "17911122233344455")
    assert (mention.source, mention.source_id, mention.text) == (
        "instagram",
        said["id"],
        said["text"],
    )
    assert mention.author.handle == "fahad.k" and mention.parent_id == "18055566677788899"
    assert mention.created_at == at("2026-11-25T11:21:00")
    assert mention.reply_target == "mention:18055566677788899:17911122233344455"
    (asked,) = server.seen(f"/v23.0/{IG_USER}")
    assert asked.headers["Authorization"] == f"Bearer {IG_TOKEN}"
    assert asked.query["fields"].startswith("mentioned_comment.comment_id(17911122233344455){")


async def test_a_mention_the_graph_api_cannot_give_in_time_is_dead_lettered_with_its_ids(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    expired = {
        "error": {
            "message": "Error validating access token: Session has expired.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
        }
    }
    account = instagram_account(server)
    webhook = meta_webhook.WebhookServer(
        config(instagram=account, mention_read_seconds=0.3), client
    )
    caption = mention_delivery("18066677788899900")
    async with running(webhook) as (recorder, url), httpx.AsyncClient() as http:
        server.script(f"/v23.0/{IG_USER}", Reply(400, json.dumps(expired)))
        refused = await http.post(url, content=caption, headers=signed(caption))
        server.script(f"/v23.0/{IG_USER}", Reply(200, '{"id": "1"}', delay_seconds=1.5))
        started = time.monotonic()
        late = await http.post(url, content=caption, headers=signed(caption))
        waited = time.monotonic() - started
    assert refused.status_code == late.status_code == 200  # Meta's retry would not help
    assert waited < 1.0  # answered at the deadline, not when the Graph API was done
    first, second = recorder.items
    assert isinstance(first, Rejected) and isinstance(second, Rejected)
    assert first.payload == second.payload == '{"media_id": "18066677788899900"}'
    assert first.reason.startswith("meta_webhook: Instagram @mention not read: instagram: ")
    assert "the access token was refused" in first.reason and "renew" in first.reason
    assert second.reason == (
        "meta_webhook: Instagram @mention not read: the Graph API did not answer within 0.3s"
    )
    assert IG_TOKEN not in first.reason + second.reason


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sada_ingest_once_dry_run_serves_one_delivery() -> None:
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("sada")),
        "ingest",
        "--source",
        "meta_webhook",
        "--once",
        "--dry-run",
        "--set",
        f"app_secret={SECRET}",
        "--set",
        f"verify_token={VERIFY}",
        "--set",
        f"port={port}",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    try:
        url = f"http://127.0.0.1:{port}/meta/webhook"
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                handshake = httpx.get(
                    url,
                    params={
                        "hub.mode": "subscribe",
                        "hub.verify_token": VERIFY,
                        "hub.challenge": "42",
                    },
                )
                break
            if process.poll() is not None:
                break
            time.sleep(0.05)
        assert handshake.text == "42"
        answer = httpx.post(url, content=FEED, headers=signed(FEED))
        assert answer.status_code == 200
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6 and SECRET not in out + err and VERIFY not in out + err
    assert lines[0]["text"].startswith("التطبيق ما يفتح")
    assert lines[4]["reason"] == "deleted"


def test_a_webhook_comment_and_the_polled_same_comment_are_one_document() -> None:
    from ingest import facebook

    webhook = meta_webhook.parse(FEED, fetched_at=now())[0]
    cid = "889900112233445_1234567890123456"
    page = {  # the same comment as GET /{post-id}/comments lists it (facebook's fields)
        "data": [
            {
                "id": cid,
                "from": {"id": "7012345678901234", "name": "نورة العتيبي"},
                "message": "التطبيق ما يفتح من أمس 😡 \u200fرقم الطلب #48213\u200f وين الدعم؟",
                "created_time": "2026-11-25T09:04:05+0000",
            }
        ]
    }
    (polled,) = facebook.parse_comments(
        json.dumps(page),
        post_id="104857236512345_889900112233445",
        page_id="104857236512345",
        fetched_at=now(),
    )
    assert isinstance(webhook, Mention) and isinstance(polled, Mention)
    same = ("uid", "source", "source_id", "text", "created_at", "parent_id", "reply_target")
    assert {k: getattr(webhook, k) for k in same} == {k: getattr(polled, k) for k in same}
    assert webhook.author == polled.author
