"""Facebook Pages through a local Graph double.

Fixtures (written by the project, in the documented shapes):
- facebook_page_feed.json: Graph API reference, Page > Feed (`/{page-id}/feed`, Post fields
  id, from, message, created_time, updated_time, permalink_url; time-based `paging` with
  `previous`/`next`, `since`/`until`/`__paging_token`).
- facebook_post_comments.json: Graph API reference, Object > Comments edge with
  `filter=stream` (Comment fields id, from, message, created_time, parent, permalink_url,
  like_count, comment_count; cursor `paging` with `cursors.before/after` and `next`).
- facebook_tagged.json: Graph API reference, Page > Tagged (Post fields as the feed).
The real recorded answers in ../shared (meta_graph_*.json) are read when present.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import facebook
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions
from tests.ingest.test_graph import dry_run

PAGE_ID = "104828591234567"
OWN_POST = "104828591234567_881234567890123"
VISITOR_POST = "104828591234567_881234567890456"
FEED = fixture("facebook_page_feed.json")
COMMENTS = fixture("facebook_post_comments.json")
TAGGED = fixture("facebook_tagged.json")
LAST = b'{"data": [], "paging": {"cursors": {"before": "QVFIUmxtZA", "after": "QVFIUmxtZA"}}}'
TOKEN = "EAAtoken-for-tests"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def config(server: ReplayServer, **kw: object) -> facebook.Config:
    values: dict[str, object] = {
        "page_id": PAGE_ID,
        "access_token": TOKEN,
        "app_secret": "app-secret",
        "api_url": server.url("/v23.0"),
        "initial_lookback_seconds": 20 * 365 * 86400,
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local double
    }
    return facebook.Config.model_validate({**values, **kw})


def local(payload: bytes, server: ReplayServer) -> bytes:
    """The fixture with its `paging.next` pointing at the double, as Graph points at itself."""
    return payload.replace(b"https://graph.facebook.com", server.url().encode())


def test_a_comment_maps_to_a_mention_field_by_field() -> None:
    items = facebook.parse_comments(COMMENTS, post_id=OWN_POST, page_id=PAGE_ID, fetched_at=AT)
    reply, broken, top = items
    assert reply == Mention(
        uid=make_uid("facebook", "881234567890123_1200000000000003"),
        source="facebook",
        source_id="881234567890123_1200000000000003",
        url="https://www.facebook.com/104828591234567/posts/881234567890123/"
        "?comment_id=1200000000000001&reply_comment_id=1200000000000003",
        author=Author(handle="5550001112223335", name="Omar K."),
        text="el app 3amla mashakel kteer, mesh 3aref a3mel login 😡",
        created_at=datetime(2026, 11, 28, 9, 50, tzinfo=UTC),
        fetched_at=AT,
        engagement=Engagement(likes=2, replies=0),
        parent_id="881234567890123_1200000000000001",  # the comment it answers
        reply_target="881234567890123_1200000000000003",
    )
    assert isinstance(broken, Rejected)
    assert broken.reason == "facebook: missing or malformed field 'created_time'"
    assert "Broken update" in broken.payload
    assert isinstance(top, Mention)
    assert top.text == "\u202bالتحديث الأخير مسح كل البطاقات المحفوظة! \u202c 💳❌"  # bidi kept
    assert top.author == Author(handle="5550001112223337", name="سارة")
    assert top.parent_id == OWN_POST and top.reply_target == top.source_id
    assert top.engagement == Engagement(likes=14, replies=2)
    # The Page's own reply (first in the page) is its voice, not a mention.
    assert all(m.author.handle != PAGE_ID for m in only_mentions([reply, top]))


def test_feed_and_tagged_posts_map_and_skip_the_pages_own() -> None:
    (visitor,) = facebook.parse_posts(FEED, page_id=PAGE_ID, fetched_at=AT)
    assert visitor == Mention(
        uid=make_uid("facebook", VISITOR_POST),
        source="facebook",
        source_id=VISITOR_POST,
        url="https://www.facebook.com/104828591234567/posts/881234567890456",  # no fbclid
        author=Author(handle="5550001112223334", name="Layla Haddad"),
        text="\u200fوين الفرع الأقرب لمدينة نصر؟ 🙏",
        created_at=datetime(2026, 11, 27, 18, 30, tzinfo=UTC),
        fetched_at=AT,
        reply_target=VISITOR_POST,  # the Page comments on the post
    )
    (tag,) = only_mentions(facebook.parse_posts(TAGGED, page_id=PAGE_ID, fetched_at=AT))
    assert tag.text == "شكراً @AcmeBank على رعاية المهرجان ❤️ shokran ya gama3a"
    assert tag.parent_id is None and tag.reply_target == "7770001112223338_990000000000001"


def test_pages_that_are_not_graph_lists_are_rejected_whole() -> None:
    for payload in (b"<html>oops</html>", b'{"error": {"code": 1}}', b"[]"):
        (bad,) = facebook.parse_posts(payload, page_id=PAGE_ID, fetched_at=AT)
        assert isinstance(bad, Rejected) and bad.reason.startswith("facebook: ")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
def test_the_real_recorded_answers() -> None:
    """meta_graph_post_comments_list.json was saved without `id` (and without `from`: no Page
    access): with no id nothing can be answered or deduplicated, so each is dead-lettered
    naming the field; with the ids put back, every other field maps."""
    real = (SHARED / "meta_graph_post_comments_list.json").read_bytes()
    items = facebook.parse_comments(real, post_id="1", page_id=PAGE_ID, fetched_at=AT)
    assert items and all(
        isinstance(i, Rejected) and i.reason == "facebook: missing or malformed field 'id'"
        for i in items
    )
    body = json.loads(real)
    for n, comment in enumerate(body["data"]):
        comment["id"] = f"10158407654328553_{n}"
    mentions = only_mentions(
        facebook.parse_comments(json.dumps(body), post_id="1", page_id=PAGE_ID, fetched_at=AT)
    )
    assert len(mentions) == len(body["data"])
    first = mentions[0]
    assert first.created_at == datetime(2021, 8, 10, 18, 45, 3, tzinfo=UTC)
    assert first.author.handle == "unknown" and first.parent_id == "1"
    assert first.engagement == Engagement(likes=0, replies=1)
    assert first.url == (
        "https://www.facebook.com/19292868552/posts/10158407654328553/?comment_id=10158407835073553"
    )
    feed = (SHARED / "meta_graph_feed_fields_id4.json").read_bytes()
    posts = only_mentions(facebook.parse_posts(feed, page_id=PAGE_ID, fetched_at=AT))
    assert [p.source_id for p in posts][:1] == ["4_10113477241177441"]
    assert posts[0].text == "Happy July 4th! 🇺🇸" and len(posts) == 5


async def test_fetch_walks_feed_comments_and_tagged_then_resumes(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    usage = json.dumps({"call_count": 90, "total_cputime": 10, "total_time": 10})
    server.script(f"/v23.0/{PAGE_ID}/feed", Reply(200, local(FEED, server)), Reply(200, LAST))
    server.script(
        f"/v23.0/{OWN_POST}/comments",
        Reply(429, "", {"Retry-After": "3"}),
        Reply(200, local(COMMENTS, server), {"X-App-Usage": usage}),
        Reply(200, LAST),
    )
    server.script(f"/v23.0/{VISITOR_POST}/comments", Reply(200, LAST))
    server.script(f"/v23.0/{PAGE_ID}/tagged", Reply(200, TAGGED))
    store = CursorStore(tmp_path)
    items = [i async for i in facebook.fetch(config(server), client, cursors=store, sleep=sleeps)]

    assert [getattr(i, "source_id", None) for i in items] == [
        VISITOR_POST,
        "881234567890123_1200000000000003",
        None,  # the comment without created_time, dead-lettered; its neighbours still come
        "881234567890123_1200000000000001",
        "7770001112223338_990000000000001",
    ]
    feed = server.seen(f"/v23.0/{PAGE_ID}/feed")
    proof = hmac.new(b"app-secret", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert feed[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert feed[0].query["appsecret_proof"] == proof
    assert feed[0].query["fields"] == facebook.POST_FIELDS and feed[0].query["limit"] == "100"
    assert int(feed[0].query["since"]) <= now().timestamp() - 7 * 86400 + 1
    # The second feed page is Graph's own `next`, without the token it carried.
    assert feed[1].query["until"] == "1795977000" and feed[1].query["__paging_token"] == "enc_next"
    assert "access_token" not in feed[1].query and feed[1].query["appsecret_proof"] == proof
    comments = server.seen(f"/v23.0/{OWN_POST}/comments")
    assert comments[0].query["filter"] == "stream"
    assert comments[0].query["order"] == "reverse_chronological"
    assert comments[0].query["fields"] == facebook.COMMENT_FIELDS
    assert comments[2].query["after"] == "QVFIUjBwZA"
    assert any(2.9 < s <= 3 for s in sleeps.calls)  # the 429's Retry-After
    assert any(39 < s <= 40 for s in sleeps.calls)  # 90% of the app's budget: the next waits

    # A restart: the feed has not changed, so no comments are read again, nothing is repeated.
    server.script(f"/v23.0/{PAGE_ID}/feed", Reply(200, FEED))
    server.script(f"/v23.0/{PAGE_ID}/tagged", Reply(200, TAGGED))
    again = [i async for i in facebook.fetch(config(server), client, cursors=store, sleep=sleeps)]
    assert again == []
    assert len(server.seen(f"/v23.0/{OWN_POST}/comments")) == 3

    # A new comment moves its post's updated_time: that post's comments are read, up to the
    # ones already produced.
    new = {
        "id": "881234567890123_1200000000000009",
        "from": {"id": "5550001112223338", "name": "Hadi"},
        "message": "لسه مفيش حل؟",
        "created_time": "2026-11-29T09:59:00+0000",
    }
    comments_page = json.loads(COMMENTS)
    comments_page["data"].insert(0, new)
    moved = FEED.replace(b"2026-11-28T10:05:00+0000", b"2026-11-29T10:00:00+0000")
    server.script(f"/v23.0/{PAGE_ID}/feed", Reply(200, moved))
    server.script(
        f"/v23.0/{OWN_POST}/comments", Reply(200, local(json.dumps(comments_page).encode(), server))
    )
    third = [i async for i in facebook.fetch(config(server), client, cursors=store, sleep=sleeps)]
    assert [getattr(i, "source_id", None) for i in third] == [
        "881234567890123_1200000000000009",
        None,  # the malformed comment is dead-lettered again: it never had a time to admit
    ]
    assert len(server.seen(f"/v23.0/{OWN_POST}/comments")) == 4  # one page: the rest is older


async def test_an_expired_token_names_what_to_renew_and_is_not_logged(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expired = {
        "error": {
            "message": "Error validating access token: Session has expired on Sunday, "
            "29-Nov-26 10:00:00 PST.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "A1b2C3d4",
        }
    }
    server.script(f"/v23.0/{PAGE_ID}/feed", Reply(400, json.dumps(expired)))
    rate_limited = {"error": {"message": "(#32) Page request limit reached", "code": 32}}
    server.script(f"/v23.0/{PAGE_ID}/tagged", Reply(400, json.dumps(rate_limited)))
    assert [i async for i in facebook.fetch(config(server), client, sleep=sleeps)] == []
    assert "facebook: GET http://127.0.0.1" in caplog.text
    assert "the access token was refused (Graph error 190/463" in caplog.text
    assert "renew the Page access token (access_token)" in caplog.text
    assert "facebook: GET" in caplog.text and "rate limited (Graph error 32" in caplog.text
    assert TOKEN not in caplog.text and "app-secret" not in caplog.text


async def test_the_usage_limit_ends_the_round_to_come_back_later(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spent = {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 30}]}
    server.script(
        f"/v23.0/{PAGE_ID}/feed",
        Reply(200, local(FEED, server), {"X-Business-Use-Case-Usage": json.dumps(spent)}),
    )
    server.script(f"/v23.0/{PAGE_ID}/tagged", Reply(200, TAGGED))
    cfg = config(server, tagged=False, access_token="EAAtoken-spent")  # a budget of its own
    items = [i async for i in facebook.fetch(cfg, client, sleep=sleeps)]
    assert [getattr(i, "source_id", None) for i in items] == [VISITOR_POST]
    assert re.search(r"usage headers ask to wait (1799|1800)s more", caplog.text)
    assert server.seen(f"/v23.0/{OWN_POST}/comments") == []
    # The next round, at once: still over the limit, so nothing is asked at all.
    assert [i async for i in facebook.fetch(cfg, client, sleep=sleeps)] == []
    assert len(server.seen(f"/v23.0/{PAGE_ID}/feed")) == 1


async def test_reply_posts_a_comment_as_the_page(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    target = "881234567890123_1200000000000001"
    server.script(f"/v23.0/{target}/comments", Reply(200, '{"id": "881234567890123_1299"}'))
    text = "\u200fأهلاً سارة 🙏 راسلينا على الخاص"
    new_id = await facebook.reply(config(server), client, target, text)
    assert new_id == "881234567890123_1299"
    (posted,) = server.seen(f"/v23.0/{target}/comments")
    form = dict(httpx.QueryParams(posted.body.decode()))
    assert form["message"] == text
    assert form["appsecret_proof"] == hmac.new(b"app-secret", TOKEN.encode(), "sha256").hexdigest()
    assert posted.headers["Authorization"] == f"Bearer {TOKEN}"
    assert facebook.SOURCE.reply is facebook.reply
    with pytest.raises(SourceError, match="not a Graph object id"):
        await facebook.reply(config(server), client, "../me/feed", "x")
    denied = {
        "error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": 200}
    }
    server.script(f"/v23.0/{target}/comments", Reply(403, json.dumps(denied)))
    with pytest.raises(SourceError, match="grant pages_manage_engagement to the app"):
        await facebook.reply(config(server), client, target, "x")


async def test_dry_run_from_the_command_line(server: ReplayServer) -> None:
    server.script(f"/v23.0/{PAGE_ID}/feed", Reply(200, FEED))
    server.script(f"/v23.0/{OWN_POST}/comments", Reply(200, COMMENTS))
    server.script(f"/v23.0/{VISITOR_POST}/comments", Reply(200, LAST))
    server.script(f"/v23.0/{PAGE_ID}/tagged", Reply(200, TAGGED))
    sets = {"page_id": PAGE_ID, "access_token": TOKEN, "api_url": server.url("/v23.0")}
    records, err = await dry_run("facebook", sets)
    assert [m["source_id"] for m in records if "source_id" in m] == [
        VISITOR_POST,
        "881234567890123_1200000000000003",
        "881234567890123_1200000000000001",
        "7770001112223338_990000000000001",
    ]
    assert "facebook: 4 mentions, 1 dead-lettered" in err
    assert TOKEN not in err + json.dumps(records)
