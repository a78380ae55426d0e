"""YouTube Data API v3 source against a local double of the API.

Fixtures (written by the project in the documented shapes): youtube_commentThreads_list.json
follows the commentThread and comment resources of
https://developers.google.com/youtube/v3/docs/commentThreads and /docs/comments (snippet,
topLevelComment, replies.comments[], authorChannelId.value, textOriginal, publishedAt/updatedAt);
youtube_search_list.json follows https://developers.google.com/youtube/v3/docs/search/list
(items[].id.videoId). Error bodies follow the Google API error form of
https://developers.google.com/youtube/v3/docs/errors (error.errors[].reason).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected, RetryLater, SourceError
from core.events import Mention, make_uid, now
from ingest import youtube
from ingest.cursor import CursorStore, default_store
from ingest.http import HttpPolicy
from tests.ingest.support import EVER, SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions
from tests.ingest.test_appstore import cli_dry_run

PAGE = fixture("youtube_commentThreads_list.json")
SEARCH = fixture("youtube_search_list.json")
EMPTY = b'{"kind": "youtube#commentThreadListResponse", "items": []}'
T1 = "UgzArabicBidiThread0001AaABAg"
T2 = "UgxArabiziEditedThread02AaABAg"
T3 = "UgwEmojiPraiseThread0003AaABAg"


def error(code: int, reason: str, message: str = "") -> str:
    return json.dumps(
        {
            "error": {
                "code": code,
                "message": message or reason,
                "errors": [{"message": message or reason, "domain": "youtube", "reason": reason}],
            }
        }
    )


def config(server: ReplayServer, **kw: object) -> youtube.Config:
    values: dict[str, object] = {
        "api_key": "AIzaSy-test-key-0123456789",
        "channel_id": "UCacmeBankOfficial000000",
        "api_url": server.url(),
        "token_url": server.url("/token"),
        "initial_lookback_seconds": EVER,
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local server
    }
    return youtube.Config.model_validate({**values, **kw})


def test_parse_maps_threads_replies_edits_and_text_intact() -> None:
    fetched = now()
    items = only_mentions(youtube.parse(PAGE, fetched_at=fetched))
    assert [m.source_id for m in items] == [
        T1,
        f"{T1}.AcmeReply0001",
        f"{T1}.OmarReply0002",
        T2,
        T3,
    ]
    top, brand_reply, _, edited, emoji = items
    assert top == Mention(
        uid=make_uid("youtube", T1),
        source="youtube",
        source_id=T1,
        url=f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc={T1}",
        author={"handle": "UCsaraK00000000000000001", "name": "@sara.k"},  # type: ignore[arg-type]
        text="\u200fتطبيق أكمي بنك واقف من الصبح 😡 حد عنده نفس المشكلة؟\u200f\n"
        "رقم الطلب: \u2066#A-7781\u2069",
        created_at=datetime(2026, 11, 28, 8, 15, 2, tzinfo=UTC),
        fetched_at=fetched,
        engagement={"likes": 12, "reposts": 0, "replies": 2},  # type: ignore[arg-type]
        parent_id="dQw4w9WgXcQ",
        reply_target=T1,
        edited_at=None,
    )
    assert brand_reply.parent_id == T1 and brand_reply.reply_target == T1
    assert brand_reply.url == f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc={T1}.AcmeReply0001"
    assert brand_reply.engagement.replies == 0 and brand_reply.engagement.likes == 3
    assert edited.text.startswith("el app 3amal update w ba2a a7san bkteer")
    assert edited.created_at == datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    assert edited.edited_at == datetime(2026, 11, 27, 21, 30, 45, tzinfo=UTC)
    assert emoji.text == "أحلى بنك 💚🇸🇦 خدمة سريعة" and emoji.parent_id == "abcDEF12345"


def test_a_malformed_thread_is_rejected_and_its_neighbours_parse() -> None:
    page = json.loads(PAGE)
    del page["items"][1]["snippet"]["topLevelComment"]["snippet"]["publishedAt"]
    page["items"][0]["replies"]["comments"][1] = "not a comment"
    items = youtube.parse(json.dumps(page), fetched_at=now())
    assert [i.reason for i in items if isinstance(i, Rejected)] == [
        "youtube: missing or malformed field 'snippet'",  # the reply that is not an object
        "youtube: missing or malformed field 'publishedAt'",
    ]
    assert [m.source_id for m in items if isinstance(m, Mention)] == [
        T1,
        f"{T1}.AcmeReply0001",
        T3,
    ]
    (page_error,) = youtube.parse(youtube_error := error(403, "forbidden"), fetched_at=now())
    assert isinstance(page_error, Rejected) and "not a list with items" in page_error.reason
    assert youtube_error in page_error.payload


def test_the_recorded_api_answer_maps_text_original_not_html() -> None:
    path = SHARED / "youtube_commentThreads_list.json"
    if not path.exists():
        pytest.skip("shared recorded fixtures absent")
    items = only_mentions(youtube.parse(path.read_bytes(), fetched_at=now()))
    assert len(items) == 5
    first = items[0]
    assert first.text == "Google.com"  # textDisplay is '<a href=...>Google.com</a>'
    assert first.source_id == "UgyZ1jqkHKYvi1-ruOZ4AaABAg" == first.reply_target
    assert first.parent_id == "F1UP7wRCPH8"
    assert first.author.handle == "UCzj-CjKYmGlZ7vTL-vOe57A"
    assert first.author.name == "himani agarwal"
    assert first.created_at == datetime(2019, 11, 26, 15, 51, 44, tzinfo=UTC)
    assert first.edited_at is None


async def test_fetch_searches_pages_follows_videos_and_resumes(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script("/search", Reply(200, SEARCH))
    second = json.loads(PAGE)
    second.pop("nextPageToken")
    second["items"] = second["items"][2:]
    for thread in second["items"]:  # older threads on page 2 (ids differ)
        thread["id"] = thread["snippet"]["topLevelComment"]["id"] = "UgOlder" + thread["id"][7:]
    server.script(
        "/commentThreads",
        Reply(429, error(429, "rateLimitExceeded"), {"Retry-After": "3"}),
        Reply(200, PAGE),
        Reply(200, json.dumps(second)),
        Reply(200, EMPTY),
    )
    cfg = config(server, queries=["أكمي بنك"])
    store = CursorStore(tmp_path)
    items = [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert len(only_mentions(items)) == 6
    (search,) = server.seen("/search")
    assert search.headers["X-Goog-Api-Key"] == "AIzaSy-test-key-0123456789"
    assert "key" not in search.query
    assert search.query | {"publishedAfter": "?"} == {
        "part": "snippet",
        "q": "أكمي بنك",
        "type": "video",
        "order": "date",
        "maxResults": "50",
        "publishedAfter": "?",
    }
    assert search.query["publishedAfter"].endswith("Z")
    lists = server.seen("/commentThreads")
    assert any(2.9 < s <= 3 for s in sleeps.calls)  # the 429's Retry-After
    assert lists[1].query == {
        "part": "snippet,replies",
        "allThreadsRelatedToChannelId": "UCacmeBankOfficial000000",
        "order": "time",
        "maxResults": "100",
        "textFormat": "plainText",
    }
    assert lists[2].query["pageToken"] == "QURTSl9pMl9wYWdlMg=="
    assert [r.query.get("videoId") for r in lists[3:]] == ["vidReview01", "vidUnbox002"]
    assert youtube.Quota(cfg, store).today()["used"] == 100 + 4  # a call, its retries counted once

    # Restart: the search is not due again, every comment was yielded; an edit comes back.
    edited = json.loads(PAGE)
    top = edited["items"][0]["snippet"]["topLevelComment"]["snippet"]
    top["textOriginal"] = "تم حل المشكلة، شكراً"
    top["updatedAt"] = "2026-11-28T10:00:00Z"
    server.script("/commentThreads", Reply(200, json.dumps(edited)), Reply(200, EMPTY))
    again = only_mentions(
        [i async for i in youtube.fetch(cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps)]
    )
    assert [(m.uid, m.text, m.edited_at) for m in again] == [
        (make_uid("youtube", T1), "تم حل المشكلة، شكراً", datetime(2026, 11, 28, 10, tzinfo=UTC))
    ]
    assert len(server.seen("/search")) == 1


async def test_the_daily_budget_stops_calls_until_the_pacific_reset(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script("/search", Reply(200, SEARCH))
    server.script("/commentThreads", Reply(200, EMPTY))
    cfg = config(server, queries=["acme"], daily_quota_units=102)
    store = CursorStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        items = [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert items == []
    assert len(server.seen("/search")) == 1 and len(server.seen("/commentThreads")) == 2
    assert "commentThreads costs 1 units and 102 of the 102 daily units are spent" in caplog.text
    assert "after midnight Pacific time" in caplog.text
    assert youtube.Quota(cfg, store).today() == {
        "day": youtube.pacific_day(now().timestamp()),
        "used": 102,
    }

    # A new Pacific day: the count starts again and the round goes on where it stopped.
    store.save(
        "youtube-quota", youtube.Quota(cfg, store).project, {"day": "2026-01-01", "used": 102}
    )
    [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert len(server.seen("/commentThreads")) == 2 + 3  # the search is not due again
    assert youtube.Quota(cfg, store).today()["used"] == 3


async def test_a_refusal_for_the_quota_ends_the_round_with_one_warning(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script("/search", Reply(200, SEARCH))
    server.script("/commentThreads", Reply(200, EMPTY))
    cfg = config(server, queries=["acme"], daily_quota_units=101)
    with caplog.at_level(logging.WARNING):
        items = [i async for i in youtube.fetch(cfg, client, cursors=CursorStore(tmp_path))]
    assert items == [] and len(server.seen("/commentThreads")) == 1  # of 3 targets
    assert caplog.text.count("daily units are spent; calls resume after midnight") == 1


def test_the_quota_day_is_pacific_and_follows_daylight_saving() -> None:
    summer = datetime(2026, 7, 1, 6, 59, tzinfo=UTC).timestamp()  # 23:59 PDT
    assert youtube.pacific_day(summer) == "2026-06-30"
    assert youtube.pacific_day(summer + 60) == "2026-07-01"
    assert youtube.until_reset(summer) == 60
    winter = datetime(2026, 12, 6, 7, 0, tzinfo=UTC).timestamp()  # 23:00 PST
    assert youtube.until_reset(winter) == 3600


async def test_quota_exceeded_holds_every_call_until_the_reset(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script("/commentThreads", Reply(403, error(403, "quotaExceeded")))
    cfg = config(server)
    store = CursorStore(tmp_path)
    assert [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)] == []
    assert youtube.Quota(cfg, store).today()["used"] == 10_000
    assert [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)] == []
    assert len(server.seen("/commentThreads")) == 1


async def test_an_invalid_key_says_what_to_renew(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorded = SHARED / "youtube_error_400_keyInvalid.json"
    body = recorded.read_text() if recorded.exists() else error(400, "keyInvalid", "Bad Request")
    server.script("/commentThreads", Reply(400, body))
    assert [i async for i in youtube.fetch(config(server), client, sleep=sleeps)] == []
    assert "youtube: the API key is refused (keyInvalid); renew api_key" in caplog.text
    assert "AIzaSy-test-key" not in caplog.text


async def test_a_video_with_comments_disabled_is_skipped_and_no_longer_followed(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script("/search", Reply(200, SEARCH))
    disabled = error(403, "commentsDisabled", "The video has disabled comments.")
    server.script("/commentThreads", Reply(403, disabled), Reply(200, PAGE), Reply(200, EMPTY))
    cfg = config(server, channel_id=None, queries=["acme"])
    store = CursorStore(tmp_path)
    items = [i async for i in youtube.fetch(cfg, client, cursors=store, sleep=sleeps)]
    assert len(only_mentions(items)) == 5  # the second video's comments
    assert list(store.load("youtube", cfg)["videos"]) == ["vidUnbox002"]


async def test_reply_posts_a_comment_as_the_brand_with_a_fresh_oauth_token(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script("/token", Reply(200, '{"access_token": "ya29.brand", "expires_in": 3599}'))
    server.script(
        "/comments",
        Reply(200, json.dumps({"kind": "youtube#comment", "id": f"{T1}.NewReply00"})),
    )
    cfg = config(
        server,
        client_id="cid.apps.googleusercontent.com",
        client_secret="csecret",
        refresh_token="1//refresh",
    )
    text = "\u200fنعتذر عن الإزعاج، تواصلي معنا على الخاص 🙏"
    assert await youtube.reply(cfg, client, T1, text) == f"{T1}.NewReply00"
    (grant,) = server.seen("/token")
    assert dict(httpx.QueryParams(grant.body.decode())) == {
        "grant_type": "refresh_token",
        "client_id": "cid.apps.googleusercontent.com",
        "client_secret": "csecret",
        "refresh_token": "1//refresh",
    }
    (post,) = server.seen("/comments")
    assert post.query == {"part": "snippet"}
    assert post.headers["Authorization"] == "Bearer ya29.brand"
    assert json.loads(post.body) == {"snippet": {"parentId": T1, "textOriginal": text}}
    assert youtube.Quota(cfg, default_store()).today()["used"] == 50
    other_job = config(server, channel_id="UCanotherBrand0000000000")  # the same key: one count
    assert youtube.Quota(other_job, default_store()).today()["used"] == 50


async def test_reply_with_a_revoked_grant_or_no_budget_says_what_to_do(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script(
        "/token",
        Reply(
            400,
            '{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}',
        ),
    )
    cfg = config(server, client_id="cid", client_secret="csecret", refresh_token="1//refresh")
    with pytest.raises(SourceError, match="Token has been expired or revoked.*renew refresh_token"):
        await youtube.reply(cfg, client, T1, "شكراً")
    assert server.seen("/comments") == []
    with pytest.raises(SourceError, match="replying needs client_id"):
        await youtube.reply(config(server), client, T1, "شكراً")
    youtube.Quota(cfg, default_store()).save(used=9_990)
    with pytest.raises(RetryLater, match="comments.insert costs 50 units") as caught:
        await youtube.reply(cfg, client, T1, "شكراً")
    assert 0 < (caught.value.after_seconds or 0) <= 25 * 3600


async def test_dry_run_from_the_command_line(server: ReplayServer) -> None:
    server.script("/commentThreads", Reply(200, PAGE))
    records, err = await cli_dry_run(
        "youtube",
        {
            "api_key": "AIzaSy-test-key-0123456789",
            "channel_id": "UCacmeBankOfficial000000",
            "api_url": server.url(),
            "initial_lookback_seconds": str(EVER),
            "allow_private": "true",
        },
    )
    assert [r["source_id"] for r in records][:2] == [T1, f"{T1}.AcmeReply0001"]
    assert "youtube: 5 mentions, 0 dead-lettered" in err
    assert "AIzaSy-test-key" not in err
