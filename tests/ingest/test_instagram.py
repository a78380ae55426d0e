"""Instagram professional accounts through a local Graph double.

Fixtures (written by the project, in the documented shapes of the Instagram Graph API
reference):
- instagram_own_media.json: IG User > Media (`id, permalink, timestamp, comments_count`;
  cursor paging).
- instagram_media_comments.json: IG Media > Comments with `replies{...}` expanded (IG Comment
  fields id, text, timestamp, username, like_count, parent_id); the replies' own paging.
- instagram_comment_replies.json: IG Comment > Replies.
- instagram_tags.json: IG User > Tags (media fields plus username).
- instagram_hashtag_search.json: IG Hashtag Search (`{"data": [{"id": ...}]}`).
- instagram_hashtag_recent_media.json: IG Hashtag > Recent Media (no username is given).
The real recorded answers in ../shared (instagram_*.json) are read when present.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid
from ingest import instagram
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions
from tests.ingest.test_graph import dry_run

IG = "17841400008460056"
MEDIA = "17895695668004550"
PERMALINK = "https://www.instagram.com/p/DCx1a2bC3dE/"
TOKEN = "IGQtoken-for-tests"
AT = datetime(2026, 12, 1, tzinfo=UTC)
LAST = b'{"data": []}'


def config(server: ReplayServer, **kw: object) -> instagram.Config:
    values: dict[str, object] = {
        "ig_user_id": IG,
        "access_token": TOKEN,
        "api_url": server.url("/v23.0"),
        "initial_lookback_seconds": 20 * 365 * 86400,
        "recent_media_days": 3650,  # the fixtures are 2026, the old media 2012
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local double
    }
    return instagram.Config.model_validate({**values, **kw})


def local(name: str, server: ReplayServer) -> bytes:
    """The fixture with its `paging.next` pointing at the double, as Graph points at itself."""
    return fixture(name).replace(b"https://graph.facebook.com", server.url().encode())


def test_comments_and_replies_map_field_by_field() -> None:
    top, reply, broken, other = instagram.parse_comments(
        fixture("instagram_media_comments.json"),
        media_id=MEDIA,
        permalink=PERMALINK,
        fetched_at=AT,
    )
    assert top == Mention(
        uid=make_uid("instagram", "17870913679156914"),
        source="instagram",
        source_id="17870913679156914",
        url=PERMALINK,  # a comment has no permalink: its media's
        author=Author(handle="noor.k"),
        text="\u200f@acmebank الخدمة وقفت من الصبح 😤 متى ترجع؟",
        created_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
        fetched_at=AT,
        engagement=Engagement(likes=5),
        parent_id=MEDIA,
        reply_target="17870913679156914",
    )
    assert isinstance(reply, Mention)
    assert reply.text == "nafs el moshkela 3andi 😩" and reply.author.handle == "ziad_88"
    # Instagram nests one level: answering a reply answers its top-level comment.
    assert reply.parent_id == "17870913679156914" and reply.reply_target == "17870913679156914"
    assert isinstance(broken, Rejected)
    assert broken.reason == "instagram: missing or malformed field 'timestamp'"
    assert isinstance(other, Mention) and other.text == "أحلى تطبيق بنكي 👌🏽❤️ #acmebank"


def test_tagged_and_hashtag_media_map_and_captionless_ones_are_skipped() -> None:
    (tag,) = instagram.parse_media(fixture("instagram_tags.json"), fetched_at=AT)
    assert tag == Mention(
        uid=make_uid("instagram", "18027939643230671"),
        source="instagram",
        source_id="18027939643230671",
        url="https://www.instagram.com/p/DCy7TqPsAbc/",  # igshid dropped
        author=Author(handle="sara.travels"),
        text="Finally opened my account with @acmebank 🎉 el app sahl geddan",
        created_at=datetime(2026, 11, 27, 15, tzinfo=UTC),
        fetched_at=AT,
        engagement=Engagement(likes=41, replies=3),
    )
    (tagged,) = only_mentions(
        instagram.parse_media(fixture("instagram_hashtag_recent_media.json"), fetched_at=AT)
    )
    assert tagged.text == "#بنك_أكمي خدمة العملاء ردوا عليا في دقيقتين 👏 \u202aAcmeBank\u202c"
    assert tagged.author.handle == "unknown" and tagged.reply_target is None


def test_mentions_are_answered_through_the_mentions_edge() -> None:
    media = {"id": "17889114512354744", "caption": "@acmebank hey", "timestamp": 1795000000}
    mention = instagram.media_mention(media, fetched_at=AT, mentioned=True)
    assert mention is not None and mention.reply_target == "mention:17889114512354744"
    comment = {"id": "17967008497439572", "text": "@acmebank good", "timestamp": 1795000000}
    on_other = instagram.comment_mention(
        comment, media_id="17889114512354744", permalink=None, fetched_at=AT, mentioned=True
    )
    assert on_other.reply_target == "mention:17889114512354744:17967008497439572"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
def test_the_real_recorded_answers() -> None:
    comments = (SHARED / "instagram_media_comments_p1.json").read_bytes()
    first, second = only_mentions(
        instagram.parse_comments(
            comments, media_id="17846368219941692", permalink=None, fetched_at=AT
        )
    )
    assert first.source_id == "17858154961981086" and first.text == "Beautiful!"
    assert first.created_at == datetime(2020, 6, 1, 10, 56, 52, tzinfo=UTC)
    assert first.author.handle == "unknown"  # username was not asked for in that call
    top = (SHARED / "instagram_hashtag_top_media_p1_arabic_script.json").read_bytes()
    media = only_mentions(
        instagram.parse_media(
            top.replace(b'"caption"', b'"timestamp":"2020-02-14T00:00:00+0000","caption"'),
            fetched_at=AT,
        )
    )
    assert len(media) == len(json.loads(top)["data"])
    assert any("#اکسبلور" in m.text for m in media)
    assert media[0].url == "https://www.instagram.com/p/B8goRvrnwod/"
    recent = (SHARED / "instagram_hashtag_recent_media_p1.json").read_bytes()
    assert instagram.parse_media(recent, fetched_at=AT) == []  # asked without captions
    search = json.loads((SHARED / "instagram_ig_hashtag_search.json").read_bytes())
    assert search["data"][0]["id"] == "17841562426109234"  # the shape fetch reads the id from


def test_the_hashtag_limit_is_30_unique_in_a_rolling_week() -> None:
    week = 7 * 86400
    searched = {f"tag{n}": 1000.0 + n for n in range(30)}
    assert instagram.hashtag_budget(searched, "tag3", at=2000.0) == searched  # already counted
    with pytest.raises(SourceError) as refused:
        instagram.hashtag_budget(searched, "new", at=2000.0)
    message = str(refused.value)
    assert message.startswith("instagram: hashtag #new refused: 30 unique hashtags")
    assert "Instagram allows 30" in message and "#tag0, #tag1" in message
    later = instagram.hashtag_budget(searched, "new", at=1000.0 + week + 0.5)
    assert "tag0" not in later and later["new"] == 1000.0 + week + 0.5
    with pytest.raises(ValueError, match="Instagram allows 30 unique hashtags"):
        instagram.Config.model_validate(
            {"ig_user_id": IG, "access_token": "t", "hashtags": [f"#Tag{n}" for n in range(31)]}
        )
    cfg = instagram.Config.model_validate(
        {"ig_user_id": int(IG), "access_token": "t", "hashtags": ["#AcmeBank", "acmebank"]}
    )
    assert cfg.hashtags == ["acmebank"] and cfg.ig_user_id == IG


async def test_fetch_reads_comments_replies_tags_and_hashtags_then_resumes(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script(
        f"/v23.0/{IG}/media",
        Reply(200, local("instagram_own_media.json", server)),
        Reply(200, LAST),
    )
    server.script(
        f"/v23.0/{MEDIA}/comments", Reply(200, local("instagram_media_comments.json", server))
    )
    server.script(
        "/v23.0/17870913679156914/replies", Reply(200, fixture("instagram_comment_replies.json"))
    )
    server.script(f"/v23.0/{IG}/tags", Reply(200, fixture("instagram_tags.json")))
    server.script("/v23.0/ig_hashtag_search", Reply(200, fixture("instagram_hashtag_search.json")))
    server.script(
        "/v23.0/17843857450040591/recent_media",
        Reply(200, fixture("instagram_hashtag_recent_media.json")),
    )
    store = CursorStore(tmp_path)
    cfg = config(server, hashtags=["بنك_أكمي"])
    items = [i async for i in instagram.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert [getattr(i, "source_id", None) for i in items] == [
        "17870913679156914",
        "17881770991003328",
        None,  # dead-lettered, its neighbours still come
        "17870913679156916",
        "17881770991003329",  # the replies' next page
        "18027939643230671",
        "18065279887047221",
    ]
    media = server.seen(f"/v23.0/{IG}/media")
    assert media[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "appsecret_proof" not in media[0].query  # no app secret configured
    assert len(media) == 1  # its last media is older than recent_media_days: no next page
    comments = server.seen(f"/v23.0/{MEDIA}/comments")
    assert comments[0].query["fields"] == (
        "id,text,timestamp,username,like_count,parent_id,"
        "replies{id,text,timestamp,username,like_count,parent_id}"
    )
    assert server.seen("/v23.0/17870913679156914/replies")[0].query["after"] == "QVFIUlJh"
    (search,) = server.seen("/v23.0/ig_hashtag_search")
    assert search.query == {"user_id": IG, "q": "بنك_أكمي"}
    recent = server.seen("/v23.0/17843857450040591/recent_media")[0]
    assert recent.query["user_id"] == IG and recent.query["fields"] == instagram.MEDIA_FIELDS
    # Only media with comments were walked (the one with none, and none older, asked nothing).
    assert [r.path for r in server.requests if r.path.endswith("/comments")] == [
        f"/v23.0/{MEDIA}/comments"
    ]

    # A restart: nothing new, no comments call (counts unchanged), the hashtag id is cached.
    server.script(
        f"/v23.0/{IG}/media",
        Reply(
            200,
            LAST.replace(
                b"[]", json.dumps(json.loads(fixture("instagram_own_media.json"))["data"]).encode()
            ),
        ),
    )
    again = [i async for i in instagram.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert again == []
    assert len(server.seen(f"/v23.0/{MEDIA}/comments")) == 1
    assert len(server.seen("/v23.0/ig_hashtag_search")) == 1


async def test_a_31st_hashtag_in_the_week_is_refused_before_asking(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = CursorStore(tmp_path)
    now = time.time()
    searched = {f"tag{n}": now - 3600 for n in range(30)}
    store.save(
        "instagram-hashtags", instagram._Account(ig_user_id=IG), {"searched": searched, "ids": {}}
    )
    server.script(f"/v23.0/{IG}/media", Reply(200, LAST))
    cfg = config(server, hashtags=["acmebank"], tags=False)
    assert [i async for i in instagram.fetch(cfg, client, cursors=store, sleep=sleeps)] == []
    assert "hashtag #acmebank refused: 30 unique hashtags" in caplog.text
    assert server.seen("/v23.0/ig_hashtag_search") == []


async def test_an_expired_token_names_what_to_renew(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expired = {
        "error": {
            "message": "Error validating access token: The session has been invalidated because the user changed their password.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 460,
        }
    }
    server.script(f"/v23.0/{IG}/media", Reply(400, json.dumps(expired)))
    server.script(
        f"/v23.0/{IG}/tags",
        Reply(
            400,
            json.dumps(
                {
                    "error": {
                        "message": "(#4) Application request limit reached",
                        "code": 4,
                        "is_transient": True,
                    }
                }
            ),
        ),
    )
    assert [i async for i in instagram.fetch(config(server), client, sleep=sleeps)] == []
    assert "the access token was refused (Graph error 190/460" in caplog.text
    assert "renew the access token (access_token): a long-lived Page access token" in caplog.text
    assert "rate limited (Graph error 4" in caplog.text
    assert TOKEN not in caplog.text


async def test_reply_to_a_comment_and_to_a_mention(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script("/v23.0/17870913679156914/replies", Reply(200, '{"id": "17870913679156999"}'))
    server.script(f"/v23.0/{IG}/mentions", Reply(200, '{"id": "17870913679157000"}'))
    text = "أهلاً نور 🙏 تم حل المشكلة"
    cfg = config(server, app_secret="app-secret")
    assert await instagram.reply(cfg, client, "17870913679156914", text) == "17870913679156999"
    (posted,) = server.seen("/v23.0/17870913679156914/replies")
    form = dict(httpx.QueryParams(posted.body.decode()))
    assert form["message"] == text and len(form["appsecret_proof"]) == 64
    assert posted.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (
        await instagram.reply(cfg, client, "mention:17889114512354744:17967008497439572", "شكراً")
        == "17870913679157000"
    )
    (mentioned,) = server.seen(f"/v23.0/{IG}/mentions")
    form = dict(httpx.QueryParams(mentioned.body.decode()))
    assert (form["media_id"], form["comment_id"], form["message"]) == (
        "17889114512354744",
        "17967008497439572",
        "شكراً",
    )
    with pytest.raises(SourceError, match="not a Graph object id"):
        await instagram.reply(cfg, client, "mention:1/../../me", "x")
    assert instagram.SOURCE.reply is instagram.reply and instagram.SOURCE.search == "hashtags"


async def test_dry_run_from_the_command_line(server: ReplayServer) -> None:
    server.script(f"/v23.0/{IG}/media", Reply(200, fixture("instagram_own_media.json")))
    server.script(f"/v23.0/{MEDIA}/comments", Reply(200, fixture("instagram_media_comments.json")))
    server.script("/v23.0/17870913679156914/replies", Reply(200, LAST))
    server.script(f"/v23.0/{IG}/tags", Reply(200, fixture("instagram_tags.json")))
    sets = {
        "ig_user_id": IG,
        "access_token": TOKEN,
        "api_url": server.url("/v23.0"),
        "recent_media_days": "3650",
    }
    records, err = await dry_run("instagram", sets)
    assert [m["source_id"] for m in records if "source_id" in m] == [
        "17870913679156914",
        "17881770991003328",
        "17870913679156916",
        "18027939643230671",
    ]
    assert "instagram: 4 mentions, 1 dead-lettered" in err and TOKEN not in err


async def test_a_mention_webhooks_ids_are_read_through_the_mentioned_fields(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    comment = {
        "mentioned_comment": {
            "id": "17967008497439572",
            "text": "@acmebank وين الرد؟ 3ayzeen ne3raf 🙄",
            "timestamp": "2026-11-28T11:00:00+0000",
            "like_count": 3,
            "username": "hala.m",
        },
        "id": IG,
    }
    server.script(f"/v23.0/{IG}", Reply(200, json.dumps(comment)))
    (mention,) = await instagram.read_mention(
        config(server), client, media_id="17889114512354744", comment_id="17967008497439572"
    )
    assert isinstance(mention, Mention)
    assert mention.text == "@acmebank وين الرد؟ 3ayzeen ne3raf 🙄"
    assert mention.author.handle == "hala.m" and mention.parent_id == "17889114512354744"
    assert mention.reply_target == "mention:17889114512354744:17967008497439572"
    (asked,) = server.seen(f"/v23.0/{IG}")
    assert asked.query["fields"] == (
        "mentioned_comment.comment_id(17967008497439572){id,text,timestamp,like_count,username}"
    )
    server.script(f"/v23.0/{IG}", Reply(200, json.dumps({"id": IG})))
    await instagram.read_mention(config(server), client, media_id="17889114512354744")
    assert server.seen(f"/v23.0/{IG}")[1].query["fields"] == (
        "mentioned_media.media_id(17889114512354744)"
        "{id,caption,timestamp,like_count,comments_count,username}"
    )
    with pytest.raises(SourceError, match="not a Graph object id"):
        await instagram.read_mention(config(server), client, media_id="1),caption{x")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
def test_the_real_mentioned_answers() -> None:
    media = (SHARED / "instagram_mentioned_media.json").read_bytes()
    (caption,) = only_mentions(
        instagram.parse_mentioned(media, media_id="17889114512354744", fetched_at=AT)
    )
    assert caption.source_id == "17889114512354744" and caption.text == "@ikroskun hey"
    assert caption.created_at == datetime(2021, 8, 19, 9, 0, 22, tzinfo=UTC)
    assert caption.reply_target == "mention:17889114512354744"
    comment = (SHARED / "instagram_mentioned_comment.json").read_bytes()
    (said,) = only_mentions(instagram.parse_mentioned(comment, media_id="1", fetched_at=AT))
    assert said.source_id == "17967008497439572" and said.author.handle == "ikroskun"
    (none,) = instagram.parse_mentioned(b'{"id": "1"}', media_id="1", fetched_at=AT)
    assert isinstance(none, Rejected) and "no mentioned_comment or mentioned_media" in none.reason
