from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from core.errors import Rejected
from core.events import now
from ingest import mastodon
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import ReplayServer, Reply, Sleeps, fixture, only_mentions

PAGE = fixture("mastodon_tag_timeline.json")
TAG = "/api/v1/timelines/tag/acmebank"
FAST = HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5)


def link(base: str, newest: str, oldest: str) -> dict[str, str]:
    return {
        "Link": f'<{base}{TAG}?max_id={oldest}>; rel="next", '
        f'<{base}{TAG}?min_id={newest}>; rel="prev"',
        "X-RateLimit-Remaining": "299",
        "X-RateLimit-Reset": "2026-11-25T11:00:00.000Z",
    }


def test_parse_strips_html_keeps_spoilers_unwraps_boosts_and_skips_media_only() -> None:
    arabic, boosted, original = only_mentions(
        mastodon.parse(PAGE, instance="https://social.example", fetched_at=now())
    )
    assert arabic.text == (
        "شكوى بنك\n\nخدمة العملاء في #acmebank سيئة جداً، انتظرت ساعتين 😡\nما حد رد علي"
    )
    assert arabic.author.handle == "layla@social.example" and arabic.author.name == "ليلى 🌿"
    assert arabic.language_hint == "ar" and arabic.engagement.likes == 3
    assert arabic.created_at.isoformat() == "2026-11-25T10:30:45.120000+00:00"
    # The boost is the boosted post: same uid as the post itself, its author, its counts.
    assert boosted.uid == original.uid
    assert boosted.author.handle == "jo@fedi.example.org"
    assert boosted.engagement.reposts == 3
    assert boosted.text == (
        "Switched my bank to #acmebank last week & the app is much better."
        "\n\nDetails: blog.example.org/2026/11/acmeba"
    )
    assert boosted.url == "https://fedi.example.org/@jo/113500000000000010"


def test_parse_explains_an_error_object_and_a_broken_status() -> None:
    (err,) = mastodon.parse(
        b'{"error":"This API requires an authenticated user"}',
        instance="https://x.example",
        fetched_at=now(),
    )
    assert isinstance(err, Rejected) and "requires an authenticated user" in err.reason
    statuses = json.loads(PAGE)
    del statuses[0]["account"]
    items = mastodon.parse(json.dumps(statuses), instance="https://x.example", fetched_at=now())
    assert isinstance(items[0], Rejected) and "'account'" in items[0].reason
    assert len(items) == 3


def test_config_needs_something_to_poll_and_bare_instance_urls() -> None:
    with pytest.raises(ValidationError, match="nothing to poll"):
        mastodon.Config(instances=["https://a.example"])
    with pytest.raises(ValidationError, match="not an instance URL"):
        mastodon.Config(instances=["a.example"], hashtags=["x"])
    with pytest.raises(ValidationError, match="access_tokens names https://b.example"):
        mastodon.Config(
            instances=["https://a.example"],
            hashtags=["x"],
            access_tokens={"https://b.example/": SecretStr("t")},
        )
    config = mastodon.Config(
        instances=["https://A.example/about"],
        hashtags=["#acme"],
        public_timeline="local",
        access_tokens={"https://a.example/": SecretStr("t")},
    )
    assert list(config.access_tokens) == ["https://a.example"]
    assert mastodon.timelines(config) == [
        ("https://a.example", "/api/v1/timelines/tag/acme", {}),
        ("https://a.example", "/api/v1/timelines/public", {"local": "true"}),
    ]


async def test_polls_forward_with_min_id_pages_and_resumes_after_restart(
    server: ReplayServer,
    other_server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    statuses = json.loads(PAGE)
    newer, older = statuses[:2], statuses[2:]
    base = server.url()
    server.script(
        TAG,
        Reply(500, "oops"),
        Reply(200, json.dumps(older), link(base, "113500000000000020", "113500000000000010")),
        Reply(200, json.dumps(newer), link(base, "113500000000000040", "113500000000000030")),
        Reply(200, "[]"),
    )
    other_server.script(TAG, Reply(401, '{"error":"This API requires an authenticated user"}'))
    config = mastodon.Config(
        instances=[other_server.url(), base],
        hashtags=["acmebank"],
        page_limit=2,
        http=FAST,
        allow_private=True,
    )
    store = CursorStore(tmp_path)
    items = [i async for i in mastodon.fetch(config, client, cursors=store, sleep=sleeps)]
    # The login-only instance was skipped; the other delivered every post (the boost of 010
    # is 010 again: same uid, harmless downstream).
    assert [i.source_id.rsplit("/", 1)[-1] for i in items] == [  # type: ignore[union-attr]
        "113500000000000010",
        "113500000000000040",
        "113500000000000010",
    ]
    assert [r.query.get("min_id") for r in server.seen(TAG)] == [
        None,
        None,
        "113500000000000020",
        "113500000000000040",
    ]
    assert len(other_server.seen(TAG)) == 1

    server.script(TAG, Reply(200, "[]"))
    again = [
        i async for i in mastodon.fetch(config, client, cursors=CursorStore(tmp_path), sleep=sleeps)
    ]
    assert again == []
    assert server.seen(TAG)[-1].query["min_id"] == "113500000000000040"


async def test_401_is_reported_with_what_to_do(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script(TAG, Reply(401, '{"error":"This API requires an authenticated user"}'))
    config = mastodon.Config(
        instances=[server.url()], hashtags=["acmebank"], http=FAST, allow_private=True
    )
    assert [i async for i in mastodon.fetch(config, client, sleep=sleeps)] == []
    assert (
        "requires login to read /api/v1/timelines/tag/acmebank (HTTP 401); add a token"
        in caplog.text
    )


async def test_access_token_is_sent_to_its_instance_only(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script(TAG, Reply(200, "[]"))
    config = mastodon.Config(
        instances=[server.url()],
        hashtags=["acmebank"],
        http=FAST,
        allow_private=True,
        access_tokens={server.url(): SecretStr("tok-123")},
    )
    [i async for i in mastodon.fetch(config, client, sleep=sleeps)]
    assert server.seen(TAG)[0].headers["Authorization"] == "Bearer tok-123"
