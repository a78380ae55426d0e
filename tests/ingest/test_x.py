"""The X sources against a local double of the X API v2.

Fixtures (written by the project, in the documented shapes):
- x_search_recent_page1/2.json: `GET /2/tweets/search/recent` as the API reference's response
  example with `expansions=author_id,referenced_tweets.id` (docs.x.com, "Search Posts", Recent
  search; the Post, User and `includes` objects of "Fields" and "Expansions"; edits as "Edit
  Posts" describes `edit_history_tweet_ids`; `note_tweet` for long posts). Ids are snowflakes
  matching their `created_at`.
- x_stream_events.jsonl: `GET /2/tweets/search/stream` lines as "Filtered stream" documents
  them (one JSON object per line with `matching_rules`, blank keep-alive lines), and a
  compliance `delete` event as "Compliance streams" documents it.
- x_stream_rules.json: `GET /2/tweets/search/stream/rules` as its reference example.
The real recorded payloads (../shared/fixtures/sources/x_v2_*, see PROVENANCE.md there) check
the mapping too, when present.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Engagement, Mention, Removal, make_uid, now
from ingest import x
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions

PAGE1 = fixture("x_search_recent_page1.json")
PAGE2 = fixture("x_search_recent_page2.json")
EVENTS = fixture("x_stream_events.jsonl")
RULES = fixture("x_stream_rules.json")
EMPTY = b'{"meta": {"result_count": 0}}'
BEARER = "AAAA-app-bearer-for-tests"
HEADERS = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449"}
FIXTURE_TIME = datetime(2026, 11, 20, 9, tzinfo=UTC)  # when the fixtures' tweets were fresh


def config(server: ReplayServer, **kw: object) -> x.Config:
    values: dict[str, object] = {
        "bearer_token": BEARER,
        "queries": ["@skylineair OR skyline air"],
        "api_url": server.url(),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local server
    }
    return x.Config.model_validate({**values, **kw})


def stream_config(server: ReplayServer, **kw: object) -> x.StreamConfig:
    values: dict[str, object] = {
        "bearer_token": BEARER,
        "queries": ["@skylineair -is:retweet", "طيران سكاي لاين"],
        "api_url": server.url(),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "backoff_initial_seconds": 0.01,
        "allow_private": True,
    }
    return x.StreamConfig.model_validate({**values, **kw})


def test_parse_pins_every_field_of_a_reply_in_arabic() -> None:
    fetched = now()
    _, reply, _, _ = only_mentions(x.parse(PAGE1, fetched_at=fetched))
    assert reply == Mention(
        uid=make_uid("x", "2123697994724282368"),
        source="x",
        source_id="2123697994724282368",
        url="https://x.com/salma_q/status/2123697994724282368",
        author=Author(handle="salma_q", name="سلمى \u200fق", followers=1523),
        text="\u200f@skylineair رحلتي اتأخرت ٣ ساعات وما حد رد علي 😡 & الشنطة ضاعت <للمرة الثانية>",
        language_hint="ar",
        created_at=datetime(2026, 11, 20, 8, 40, 33, tzinfo=UTC),
        fetched_at=fetched,
        engagement=Engagement(likes=27, reposts=4, replies=1),
        parent_id="2123687286666170368",  # the conversation: the brand's tweet
        reply_target="2123697994724282368",
        edited_at=None,
    )


def test_parse_long_posts_edits_retweets_arabizi_and_bidi() -> None:
    note, _, edited, retweeted = only_mentions(x.parse(PAGE1, fetched_at=now()))
    assert note.text.endswith("by 18:00 <GST>.") and "& covering" in note.text  # note_tweet
    assert note.parent_id is None and note.author.followers == 250000
    # An edit: the uid of the first version, the time of the first version, edited_at set.
    assert edited.source_id == "2123693116748730368"
    assert edited.uid == make_uid("x", "2123693116748730368")
    assert edited.reply_target == "2123694081438650368"
    assert edited.url == "https://x.com/rami_b/status/2123694081438650368"
    assert edited.created_at == datetime(2026, 11, 20, 8, 21, 10, tzinfo=UTC)
    assert edited.edited_at == datetime(2026, 11, 20, 8, 25, tzinfo=UTC)
    assert (
        edited.text
        == "@skylineair el flight kan 7elw bas el wifi ma 3am yeshtghil 🙃 (edit: 2 sa3at!) #skyline"
    )
    assert edited.language_hint is None  # "und"
    assert edited.parent_id is None  # its conversation is its own first version
    # A retweet is the tweet it retweets, whole, by its author (bidi isolates kept).
    assert retweeted.source_id == "2123691573244858368"
    assert retweeted.author.handle == "claire_dz" and retweeted.language_hint == "fr"
    assert retweeted.text == (
        "Skyline Air a perdu ma valise… merci pour rien 👏 « service client » \u2066@skylineair\u2069"
    )
    assert retweeted.engagement.likes == 19


def test_parse_skips_old_versions_and_isolates_a_broken_tweet() -> None:
    page = json.loads(PAGE1)
    old = {**page["data"][2], "id": "2123693116748730368"}  # the first version of the edit
    broken = {"id": "not-a-snowflake", "text": "🙂", "author_id": "1"}
    textless = {"id": "2123698862945210369", "created_at": "2026-11-20T08:44:00.000Z"}
    page["data"] = [old, broken, textless, page["data"][1]]
    first, second, third = x.parse(json.dumps(page, ensure_ascii=False), fetched_at=now())
    assert isinstance(first, Rejected) and "invalid literal for int()" in first.reason
    assert isinstance(second, Rejected) and "'text'" in second.reason
    assert isinstance(third, Mention) and third.author.handle == "salma_q"
    (error,) = x.parse(b'{"title": "Unauthorized", "status": 401}', fetched_at=now())
    assert isinstance(error, Rejected) and "not a page of tweets" in error.reason
    assert x.parse(EMPTY, fetched_at=now()) == []


@pytest.mark.skipif(not SHARED.exists(), reason="shared fixtures not present")
def test_real_recorded_pages_map() -> None:
    kfc = (SHARED / "x_v2_search_all_tweets_expansions.json").read_bytes()
    first, _, _, answer = only_mentions(x.parse(kfc, fetched_at=now()))
    assert first.author.handle == "kfc" and first.author.name == "KFC"
    assert first.author.followers == 1525159
    assert first.url == "https://x.com/kfc/status/1400942130898554891"
    assert first.created_at == datetime(2021, 6, 4, 22, 26, 46, tzinfo=UTC)
    assert first.engagement.likes == 1238 and first.engagement.reposts == 141 + 17
    assert first.engagement.replies == 55 and first.language_hint == "en"
    assert first.text.startswith("Don’t be fooled") and first.parent_id is None
    assert answer.parent_id == "1399538256274882566" and answer.text.startswith("@mattraub")
    # Default fields only (no created_at, no author): the time comes from the snowflake id.
    tweepy = (SHARED / "x_v2_search_recent_tweets.json").read_bytes()
    mentions = only_mentions(x.parse(tweepy, fetched_at=now()))
    assert len(mentions) == 10
    for mention in mentions:
        stamp = datetime.strptime(mention.text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert abs((mention.created_at - stamp).total_seconds()) < 60  # the text says when
        assert mention.url == f"https://x.com/i/status/{mention.source_id}"
    for error in ("x_v2_error_401_unauthorized.json", "x_v2_error_400_invalid_request.json"):
        (rejected,) = x.parse((SHARED / error).read_bytes(), fetched_at=now())
        assert isinstance(rejected, Rejected)


async def test_search_pages_waits_for_reset_and_resumes_without_repeats(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    reset = str(int(now().timestamp()) + 30)
    server.script(
        x.SEARCH,
        Reply(200, PAGE1, {**HEADERS, "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}),
        Reply(
            429,
            b'{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}',
            {"x-rate-limit-reset": reset},
        ),
        Reply(200, PAGE2, HEADERS),
        Reply(200, EMPTY, HEADERS),
    )
    store = CursorStore(tmp_path)
    items = [
        i
        async for i in x.fetch(
            config(server), client, cursors=store, sleep=sleeps, clock=lambda: FIXTURE_TIME
        )
    ]
    assert [i.source_id for i in items] == [  # type: ignore[union-attr]
        "2123698862945210368",
        "2123697994724282368",
        "2123693116748730368",
        "2123691573244858368",
        "2123687286666170368",
    ]
    first, second, third = server.seen(x.SEARCH)
    assert first.headers["Authorization"] == f"Bearer {BEARER}"
    assert first.query.keys() == {"query", "max_results", "start_time", *x.FIELDS}
    assert (
        first.query["expansions"] == "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
    )
    assert "public_metrics" in first.query["tweet.fields"]
    assert third.query["next_token"] == "b26v89c19zqg8o3fo7gesq314yb9l2l4ptqy7ybq5ijb1"
    assert third.query["start_time"] == first.query["start_time"]  # one walk, one window
    assert any(25 < s <= 31 for s in sleeps.calls)  # remaining 0: held until the reset
    # A restart: since_id is the newest tweet of the finished walk, nothing comes twice.
    again = [
        i
        async for i in x.fetch(
            config(server),
            client,
            cursors=CursorStore(tmp_path),
            sleep=sleeps,
            clock=lambda: FIXTURE_TIME,
        )
    ]
    assert again == []
    last = server.seen(x.SEARCH)[-1]
    assert last.query["since_id"] == "2123698862945210368" and "start_time" not in last.query


async def test_a_walk_cut_by_the_page_cap_goes_on_next_round(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        x.SEARCH, Reply(200, PAGE1, HEADERS), Reply(200, PAGE2, HEADERS), Reply(200, EMPTY)
    )
    store = CursorStore()
    cfg = config(server, max_pages_per_poll=1)
    assert (
        len(
            [
                i
                async for i in x.fetch(
                    cfg, client, cursors=store, sleep=sleeps, clock=lambda: FIXTURE_TIME
                )
            ]
        )
        == 4
    )
    assert (
        len(
            [
                i
                async for i in x.fetch(
                    cfg, client, cursors=store, sleep=sleeps, clock=lambda: FIXTURE_TIME
                )
            ]
        )
        == 1
    )
    [i async for i in x.fetch(cfg, client, cursors=store, sleep=sleeps, clock=lambda: FIXTURE_TIME)]
    first, second, third = server.seen(x.SEARCH)
    assert second.query["next_token"] and second.query["start_time"] == first.query["start_time"]
    assert third.query["since_id"] == "2123698862945210368" and "next_token" not in third.query


async def test_usage_cap_and_refused_token_are_explained(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capped = {
        "title": "UsageCapExceeded",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.x.com/2/problems/usage-capped",
        "period": "Monthly",
        "scope": "Product",
        "status": 429,
    }
    server.script(x.SEARCH, Reply(429, json.dumps(capped)))
    with caplog.at_level(logging.WARNING):
        assert [i async for i in x.fetch(config(server), client, sleep=sleeps)] == []
    assert "usage cap is spent" in caplog.text and "Monthly product cap" in caplog.text
    assert len(server.seen(x.SEARCH)) == 1  # no retries against a spent cap
    caplog.clear()
    unauthorized = (
        b'{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}'
    )
    server.script(x.SEARCH, Reply(401, unauthorized))
    with caplog.at_level(logging.WARNING):
        assert [i async for i in x.fetch(config(server), client, sleep=sleeps)] == []
    assert "x: GET /2/tweets/search/recent: X refused the bearer token" in caplog.text
    assert "renew the bearer token" in caplog.text and BEARER not in caplog.text


async def test_reply_posts_as_the_brand_with_the_user_token(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script(x.TWEETS, Reply(201, '{"data": {"id": "2123703000000000000", "text": "…"}}'))
    answer = "نعتذر جداً 🙏 راسلنا على الخاص برقم الحجز \u200f(DM)"
    cfg = config(server, user_access_token="user-ctx-token")
    assert await x.reply(cfg, client, "2123697994724282368", answer) == "2123703000000000000"
    (posted,) = server.seen(x.TWEETS)
    assert posted.headers["Authorization"] == "Bearer user-ctx-token"
    assert json.loads(posted.body) == {
        "text": answer,
        "reply": {"in_reply_to_tweet_id": "2123697994724282368"},
    }
    assert x.SOURCE.reply is x.reply and x.STREAM_SOURCE.reply is x.reply
    with pytest.raises(SourceError, match="replying needs user_access_token.*tweet.write"):
        await x.reply(config(server), client, "1", "hi")
    server.script(x.TWEETS, Reply(401, '{"title":"Unauthorized","status":401}'))
    with pytest.raises(SourceError, match="renew the user access token"):
        await x.reply(cfg, client, "1", "hi")
    limited = {
        "title": "Forbidden",
        "status": 403,
        "detail": "Reply to this conversation is not allowed",
    }
    server.script(x.TWEETS, Reply(403, json.dumps(limited)))
    with pytest.raises(SourceError, match="not allowed.*may limit who can reply"):
        await x.reply(cfg, client, "1", "hi")
    server.script(x.TWEETS, Reply(503, "{}"), Reply(201, '{"data": {"id": "2"}}'))
    before = len(server.seen(x.TWEETS))
    with pytest.raises(RetryLater, match="HTTP 503"):
        await x.reply(cfg, client, "1", "hi")  # sent once: a lost answer is never posted twice
    assert len(server.seen(x.TWEETS)) == before + 1


async def test_stream_syncs_only_its_own_rules_and_reads_lines(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        x.RULES,
        Reply(200, RULES),
        Reply(200, '{"meta": {"summary": {"deleted": 1}}}'),
        Reply(200, '{"data": [], "meta": {"summary": {"created": 1}}}'),
    )
    server.script(
        x.STREAM,
        Reply(503, '{"title": "Service Unavailable"}'),
        Reply(
            200,
            b'{"errors": [{"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect"}]}\r\n',
        ),
        Reply(200, EVENTS),  # ends with a keep-alive: caught up, `once` stops there
    )
    cfg = stream_config(server, backfill_minutes=2)
    items = [i async for i in x.stream(cfg, client, once=True, sleep=sleeps)]
    listed, deleted, added = server.seen(x.RULES)
    assert listed.headers["Authorization"] == f"Bearer {BEARER}"
    assert json.loads(deleted.body) == {"delete": {"ids": ["1865100000000000002"]}}
    assert json.loads(added.body) == {"add": [{"value": "طيران سكاي لاين", "tag": "sada"}]}
    reply, edited, removal = items
    assert isinstance(reply, Mention) and reply.author.handle == "salma_q"
    assert isinstance(edited, Mention) and edited.edited_at is not None
    assert removal == Removal(
        uid=make_uid("x", "2123692256916410368"),
        source="x",
        source_id="2123692256916410368",
        removed_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )
    connects = server.seen(x.STREAM)
    assert len(connects) == 3 and len(sleeps.calls) == 2  # a backoff before each reconnect
    assert "backfill_minutes" not in connects[0].query
    assert connects[2].query["backfill_minutes"] == "2"
    assert connects[0].query["expansions"] == x.FIELDS["expansions"]


async def test_stream_waits_for_the_reset_and_refuses_a_bad_token(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(
        x.RULES,
        Reply(
            200,
            '{"data": [{"id": "1", "value": "@skylineair -is:retweet", "tag": "sada"}, {"id": "2", "value": "طيران سكاي لاين", "tag": "sada"}], "meta": {"result_count": 2}}',
        ),
    )
    reset = str(int(now().timestamp()) + 60)
    server.script(
        x.STREAM,
        Reply(429, '{"title": "Too Many Requests"}', {"x-rate-limit-reset": reset}),
        Reply(200, b"\r\n" + EVENTS),
    )
    items = []
    async for item in x.stream(stream_config(server), client, sleep=sleeps):
        items.append(item)  # not `once`: a keep-alive is skipped, the stream goes on
        if len(items) == 3:
            break
    assert len(server.seen(x.RULES)) == 1  # rules already in sync
    assert 55 < sleeps.calls[0] <= 60
    server.script(x.STREAM, Reply(401, '{"title": "Unauthorized", "status": 401}'))
    with pytest.raises(SourceError, match="renew the bearer token"):
        [i async for i in x.stream(stream_config(server), client, once=True, sleep=sleeps)]


async def test_stream_refuses_invalid_rules_by_name(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    refused = {
        "meta": {"summary": {"created": 0, "not_created": 1, "valid": 0, "invalid": 1}},
        "errors": [
            {
                "value": "((unbalanced",
                "details": ["Rules must contain balanced parentheses"],
                "title": "UnprocessableEntity",
                "type": "https://api.x.com/2/problems/invalid-rules",
            }
        ],
    }
    server.script(
        x.RULES, Reply(200, '{"meta": {"result_count": 0}}'), Reply(200, json.dumps(refused))
    )
    with pytest.raises(SourceError, match=r"'\(\(unbalanced': \['Rules must contain balanced"):
        [
            i
            async for i in x.stream(
                stream_config(server, queries=["((unbalanced"]), client, once=True, sleep=sleeps
            )
        ]
    assert server.seen(x.STREAM) == []


async def test_a_compliance_partition_turns_deletes_into_removals(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    delete = {
        "data": {
            "delete": {
                "tweet": {"id": "2123697994724282368", "author_id": "1460000000000000001"},
                "event_at": "2026-11-20T09:30:00.000Z",
            }
        }
    }
    edit = {
        "data": {
            "tweet_edit": {
                "tweet": {"id": "2123694081438650368", "author_id": "1460000000000000002"},
                "initial_tweet_id": "2123693116748730368",
                "edit_tweet_ids": ["2123693116748730368", "2123694081438650368"],
                "event_at": "2026-11-20T08:25:00.000Z",
            }
        }
    }
    broken = {"data": {"delete": {"tweet": {"id": "n/a"}}}}
    lines = [json.dumps(delete), json.dumps(edit), json.dumps(broken), "{not json", "", ""]
    server.script(x.COMPLIANCE, Reply(200, "\r\n".join(lines)))
    cfg = stream_config(server, queries=[], compliance_partition=3)
    removal, bad, garbled = [i async for i in x.stream(cfg, client, once=True, sleep=sleeps)]
    assert removal == Removal(
        uid=make_uid("x", "2123697994724282368"),
        source="x",
        source_id="2123697994724282368",
        removed_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    assert isinstance(bad, Rejected) and "invalid literal for int()" in bad.reason
    assert isinstance(garbled, Rejected) and "not JSON" in garbled.reason
    assert server.seen(x.COMPLIANCE)[0].query == {"partition": "3"}
    assert server.seen(x.RULES) == []  # no rules for the compliance stream
    with pytest.raises(ValueError, match="at least one rule"):
        stream_config(server, queries=[])


@pytest.mark.parametrize("source", ["x", "x_stream"])
async def test_dry_run_from_the_command_line(server: ReplayServer, source: str) -> None:
    server.script(x.SEARCH, Reply(200, PAGE1, HEADERS), Reply(200, PAGE2, HEADERS))
    server.script(x.RULES, Reply(200, RULES), Reply(200, '{"meta": {"summary": {}}}'))
    server.script(x.STREAM, Reply(200, EVENTS))
    sets = {
        "bearer_token": BEARER,
        "queries": json.dumps(["@skylineair -is:retweet"]),
        "api_url": server.url(),
        "allow_private": "true",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sada", "ingest", "--source", source, "--once", "--dry-run"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    expected = 5 if source == "x" else 3  # the stream: two tweets and a removal
    assert len(records) == expected and all(r["source"] == "x" for r in records)
    assert "رحلتي اتأخرت" in out.decode()  # Arabic printed as itself
    assert BEARER not in err.decode() + out.decode()


async def test_a_cursor_older_than_seven_days_reads_the_last_seven(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script(x.SEARCH, Reply(200, EMPTY, HEADERS))
    cfg = config(server)
    eight_days_ago = int((now() - timedelta(days=8)).timestamp() * 1000)
    stale = str((eight_days_ago - 1288834974657) << 22)
    store = CursorStore()
    store.save("x", cfg, {cfg.queries[0]: {"after": {"since_id": stale}}})
    with caplog.at_level(logging.WARNING):
        assert [i async for i in x.fetch(cfg, client, cursors=store, sleep=sleeps)] == []
    (request,) = server.seen(x.SEARCH)
    assert "since_id" not in request.query
    start = datetime.fromisoformat(request.query["start_time"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < now() - start < timedelta(days=7)
    assert "beyond recent search's reach" in caplog.text


async def test_429s_wait_for_retry_after_or_the_reset(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    reported = SHARED / "x_v2_error_429_too_many_requests_REPORTED.json"
    too_many = reported.read_bytes() if reported.exists() else b'{"title":"Too Many Requests"}'
    reset = str(int(now().timestamp()) + 45)  # X's reset is epoch seconds
    server.script(
        x.SEARCH,
        Reply(429, too_many, {"retry-after": "12"}),
        Reply(429, too_many, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}),
        Reply(200, PAGE2, HEADERS),
    )
    items = [
        i async for i in x.fetch(config(server), client, sleep=sleeps, clock=lambda: FIXTURE_TIME)
    ]
    assert len(items) == 1
    assert 11.5 < sleeps.calls[0] <= 12 and 40 < sleeps.calls[1] <= 45


async def test_an_idle_stream_reconnects_and_ends_a_once_run(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(x.RULES, Reply(200, RULES), Reply(200, "{}"), Reply(200, "{}"))
    server.script(x.STREAM, Reply(200, EVENTS, delay_seconds=1.0))
    cfg = stream_config(server, idle_timeout_seconds=0.2)
    assert [i async for i in x.stream(cfg, client, once=True, sleep=sleeps)] == []
    assert len(server.seen(x.STREAM)) == 1 and sleeps.calls == []
    server.script(x.STREAM, Reply(200, EVENTS, delay_seconds=1.0), Reply(200, EVENTS))
    items = []
    async for item in x.stream(cfg, client, sleep=sleeps):
        items.append(item)
        if len(items) == 3:
            break
    assert len(sleeps.calls) == 1  # one backoff after the silent connection
