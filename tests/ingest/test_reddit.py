from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected
from core.events import Mention, now
from ingest import reddit
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import EVER, ReplayServer, Reply, Sleeps, fixture, only_mentions

PAGE = fixture("reddit_search_new.json")
TOKEN = fixture("reddit_access_token.json")
EMPTY = b'{"kind": "Listing", "data": {"after": null, "children": [], "before": null}}'
UA = "linux:sada-tests:0.1 (by /u/sada_dev)"


def config(server: ReplayServer, **kw: object) -> reddit.Config:
    values: dict[str, object] = {
        "client_id": "app-id",
        "client_secret": "app-secret",
        "user_agent": UA,
        "queries": ["acmebank"],
        "token_url": server.url("/api/v1/access_token"),
        "api_url": server.url(),
        "initial_lookback_seconds": EVER,
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,
    }  # the local server
    return reddit.Config.model_validate({**values, **kw})


def test_parse_maps_posts_with_float_times_and_raw_text() -> None:
    first, arabic, link = only_mentions(reddit.parse(PAGE, fetched_at=now()))
    assert first.text.startswith(
        "AcmeBank froze my account for 9 days & support keeps saying "
        '"escalated"\n\nTitle says it all.'
    )
    assert first.source_id == "t3_1h2k9xq"
    assert first.url == (
        "https://www.reddit.com/r/personalfinance/comments/1h2k9xq/"
        "acmebank_froze_my_account_for_9_days_support_keeps/"
    )
    assert first.created_at.timestamp() == 1795601455.0
    assert first.engagement.likes == 143 and first.engagement.replies == 87
    assert arabic.text == (
        "تجربتي مع تطبيق AcmeBank الجديد\n\nالتطبيق أسرع بكثير من قبل، بس خدمة العملاء لسا بطيئة 🙃"
    )
    assert link.engagement.likes == 0  # a negative score is not negative likes
    assert link.author.handle == "[deleted]"


def test_parse_maps_comments_and_skips_more_stubs() -> None:
    listing = {
        "kind": "Listing",
        "data": {
            "children": [
                {
                    "kind": "t1",
                    "data": {
                        "name": "t1_abc",
                        "body": "AcmeBank > OtherBank",
                        "author": "x",
                        "created_utc": 1795601455.5,
                        "permalink": "/r/a/comments/1/t/abc/",
                        "score": 2,
                    },
                },
                {"kind": "more", "data": {"count": 3, "children": ["d", "e"]}},
            ]
        },
    }
    (comment,) = reddit.parse(json.dumps(listing), fetched_at=now())
    assert isinstance(comment, Mention) and comment.text == "AcmeBank > OtherBank"
    (bad,) = reddit.parse(b'{"message": "Forbidden", "error": 403}', fetched_at=now())
    assert isinstance(bad, Rejected) and "not a Listing" in bad.reason


async def test_fetch_authenticates_pages_waits_for_reset_and_resumes(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script("/api/v1/access_token", Reply(200, TOKEN))
    server.script(
        "/search",
        Reply(200, PAGE),
        Reply(429, "", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"}),
        Reply(200, EMPTY),
        Reply(401, '{"message": "Unauthorized", "error": 401}'),
        Reply(200, PAGE),
    )
    items = [
        i
        async for i in reddit.fetch(
            config(server), client, cursors=CursorStore(tmp_path), sleep=sleeps
        )
    ]
    ids = [i.source_id for i in items]  # type: ignore[union-attr]
    assert ids == ["t3_1h2k9xq", "t3_1h2k7ab", "t3_1h2k2zz"]
    token_request = server.seen("/api/v1/access_token")[0]
    assert (
        token_request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"app-id:app-secret").decode()
    )
    assert token_request.body == b"grant_type=client_credentials"
    searches = server.seen("/search")
    assert searches[0].headers["Authorization"] == "bearer fake-token-for-tests"
    assert searches[0].headers["User-Agent"] == UA
    assert searches[0].query | {"after": None} == {
        "q": "acmebank",
        "sort": "new",
        "limit": "100",
        "raw_json": "1",
        "type": "link",
        "after": None,
    }
    assert searches[1].query["after"] == "t3_1h2k2zz"
    assert any(6.9 < s <= 7 for s in sleeps.calls)  # Reddit's reset is seconds remaining

    # Restart: the token expired (401, renewed once), and every post was already yielded.
    again = [
        i
        async for i in reddit.fetch(
            config(server), client, cursors=CursorStore(tmp_path), sleep=sleeps
        )
    ]
    assert again == []
    assert len(server.seen("/api/v1/access_token")) == 3


async def test_bad_credentials_are_explained(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script("/api/v1/access_token", Reply(401, '{"message": "Unauthorized"}'))
    assert [i async for i in reddit.fetch(config(server), client, sleep=sleeps)] == []
    assert "refused the app credentials" in caplog.text and "client_secret" in caplog.text
    assert "app-secret" not in caplog.text
    assert server.seen("/search") == []


async def test_subreddits_restrict_the_search(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/api/v1/access_token", Reply(200, TOKEN))
    server.script("/r/arabs+technology/search", Reply(200, EMPTY))
    cfg = config(server, subreddits=["arabs", "technology"])
    assert [i async for i in reddit.fetch(cfg, client, sleep=sleeps)] == []
    assert server.seen("/r/arabs+technology/search")[0].query["restrict_sr"] == "1"
