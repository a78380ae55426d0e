"""Apple App Store customer-reviews feed against a local double of itunes.apple.com.

Fixture: appstore_customerreviews_sa.json is written by the project in the shape the public
feed `https://itunes.apple.com/{country}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json`
sends (Apple documents the feed only by its generator, rss.marketingtools.apple.com): `feed`
with `entry[]` of `author.name.label`/`author.uri.label`, `updated.label`, `im:rating`,
`im:version`, `id`, `title`, `content`, `im:voteSum`, `im:voteCount`, and the feed-level
`updated`, `link[]` (first/last/previous/next) and `id`, as in the recorded
../shared/fixtures/sources/appstore_customerreviews_rss_jp_2020_EXCERPT.json, plus the entry
`updated` that current feeds carry.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.errors import Rejected
from core.events import Mention, make_uid, now
from ingest import appstore
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions

PAGE = fixture("appstore_customerreviews_sa.json")
EMPTY = json.dumps({"feed": {"updated": {"label": "2026-11-30T02:11:53-07:00"}}})
PATH = "/{}/rss/customerreviews/page={}/id=1234567890/sortby=mostrecent/json"


def config(server: ReplayServer, **kw: object) -> appstore.Config:
    values: dict[str, object] = {
        "app_id": "1234567890",
        "countries": ["sa"],
        "feed_url": server.url(),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local server
    }
    return appstore.Config.model_validate({**values, **kw})


def test_parse_maps_every_field_with_the_rating_as_stars() -> None:
    fetched = now()
    first, arabizi, english = only_mentions(
        appstore.parse(PAGE, country="sa", app_id="1234567890", fetched_at=fetched)
    )
    assert first == Mention(
        uid=make_uid("appstore", "11223344551"),
        source="appstore",
        source_id="11223344551",
        url="https://apps.apple.com/sa/app/id1234567890?see-all=reviews",
        author={"handle": "id901122334", "name": "سارة ✨"},  # type: ignore[arg-type]
        text="★☆☆☆☆ التطبيق يعلق\n\n\u200fمن آخر تحديث والتطبيق يعلق عند تسجيل الدخول 😤 "
        "رقم الحساب \u2066SA-4471\u2069 ما يظهر\u200f",
        created_at=datetime(2026, 11, 30, 4, 4, 11, tzinfo=UTC),
        fetched_at=fetched,
        engagement={"likes": 7},  # type: ignore[arg-type]
        parent_id="1234567890",
        reply_target=None,
        edited_at=None,
    )
    assert arabizi.text == "★★★★☆ 7elw bs\n\nel app 7elw gedan bs el OTP byegy mt2a5ar 👍"
    assert english.text.startswith("★★★★★ Best bank app\n\n")


def test_malformed_entries_are_rejected_and_their_neighbours_parse() -> None:
    feed = json.loads(PAGE)
    feed["feed"]["entry"][0]["im:rating"]["label"] = "7"
    del feed["feed"]["entry"][1]["content"]
    items = appstore.parse(json.dumps(feed), country="sa", app_id="1", fetched_at=now())
    assert [i.reason for i in items if isinstance(i, Rejected)] == [
        "appstore: ValueError: a star rating is 1 to 5, not '7'",
        "appstore: missing or malformed field 'content.label'",
    ]
    assert [m.source_id for m in items if isinstance(m, Mention)] == ["11223344553"]
    (single,) = appstore.parse(
        json.dumps({"feed": {**feed["feed"], "entry": feed["feed"]["entry"][2]}}),
        country="sa",
        app_id="1",
        fetched_at=now(),
    )
    assert isinstance(single, Mention)  # one review: `entry` is an object, not a list
    (bad,) = appstore.parse(
        b"<html>Service Unavailable</html>", country="sa", app_id="1", fetched_at=now()
    )
    assert isinstance(bad, Rejected) and "not JSON (HTML" in bad.reason


def test_the_recorded_2020_feed_maps_with_the_feed_time() -> None:
    path = SHARED / "appstore_customerreviews_rss_jp_2020_EXCERPT.json"
    if not path.exists():
        pytest.skip("shared recorded fixtures absent")
    items = only_mentions(
        appstore.parse(path.read_bytes(), country="jp", app_id="1404176564", fetched_at=now())
    )
    assert len(items) == 5
    first = items[0]
    assert first.source_id == "6290024630" and first.author.name == "ヤミ。"
    assert first.author.handle == "id638572168"
    assert first.text.startswith("★★★★☆ 神アプリ\n\nとにかく周りの人皆んなが暖かく")
    assert first.text.endswith("だけど不具合が少し多いので、星4で")
    assert first.created_at == datetime(2020, 8, 8, 3, 17, 3, tzinfo=UTC)  # the feed's updated
    assert items[1].text.startswith("★★☆☆☆ ストーキング機能を消して…")
    assert first.url == "https://apps.apple.com/jp/app/id1404176564?see-all=reviews"


async def test_fetch_pages_each_storefront_stops_at_the_cursor_and_produces_edits(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    second = json.loads(PAGE)
    for n, entry in enumerate(second["feed"]["entry"]):
        entry["id"]["label"] = f"9900{n}"
    server.script(PATH.format("sa", 1), Reply(503, "", {"Retry-After": "2"}), Reply(200, PAGE))
    server.script(PATH.format("sa", 2), Reply(200, json.dumps(second)))
    server.script(PATH.format("sa", 3), Reply(200, EMPTY))
    server.script(PATH.format("ae", 1), Reply(200, EMPTY))
    cfg = config(server, countries=["sa", "ae"])
    items = [
        i async for i in appstore.fetch(cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps)
    ]
    assert len(only_mentions(items)) == 6
    assert any(1.9 < s <= 2 for s in sleeps.calls)  # the 503's Retry-After
    assert (
        len(server.seen(PATH.format("sa", 3))) == 1 and len(server.seen(PATH.format("ae", 1))) == 1
    )

    # Next round: one review edited (one star more, new words), the rest as before.
    edited = json.loads(PAGE)
    entry = edited["feed"]["entry"][1]
    entry["im:rating"]["label"] = "5"
    entry["content"]["label"] = "tamam keda, el OTP etzabat 👌"
    entry["updated"]["label"] = "2026-12-01T09:00:00-07:00"
    server.script(PATH.format("sa", 1), Reply(200, json.dumps(edited)))
    again = only_mentions(
        [i async for i in appstore.fetch(cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps)]
    )
    assert [(m.uid, m.text, m.created_at, m.edited_at) for m in again] == [
        (
            make_uid("appstore", "11223344552"),
            "★★★★★ 7elw bs\n\ntamam keda, el OTP etzabat 👌",
            datetime(2026, 11, 29, 17, tzinfo=UTC),  # its first time kept
            datetime(2026, 12, 1, 16, tzinfo=UTC),
        )
    ]
    assert len(server.seen(PATH.format("sa", 2))) == 1  # the cursor was on page 1


def test_reviews_keep_the_newest_and_storefronts_are_checked() -> None:
    reviews = appstore.Reviews(None, keep=2)
    base = only_mentions(appstore.parse(PAGE, country="sa", app_id="1", fetched_at=now()))
    for mention in base:
        assert reviews.admit(mention) is mention
    assert set(reviews.state()) == {"11223344551", "11223344552"}
    later = base[2].model_copy(update={"created_at": base[2].created_at + timedelta(days=9)})
    assert reviews.admit(later) is None  # same text: not an edit
    with pytest.raises(ValueError, match="countries.0"):
        appstore.Config(app_id="1", countries=["Saudi"])


async def cli_dry_run(source: str, sets: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    """`sada ingest --source SOURCE --once --dry-run --set k=v ...` in a subprocess: the records
    it printed, and its stderr. (Kafka's address points nowhere: a dry run must not need it.)"""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sada", "ingest", "--source", source, "--once", "--dry-run"),
        *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")], (
        err.decode()
    )


async def test_dry_run_from_the_command_line(server: ReplayServer) -> None:
    server.script(PATH.format("sa", 1), Reply(200, PAGE))
    server.script(PATH.format("sa", 2), Reply(200, EMPTY))
    records, err = await cli_dry_run(
        "appstore",
        {
            "app_id": "1234567890",
            "countries": '["sa"]',
            "feed_url": server.url(),
            "allow_private": "true",
        },
    )
    assert [r["source_id"] for r in records] == ["11223344551", "11223344552", "11223344553"]
    assert records[0]["text"].startswith("★☆☆☆☆ التطبيق يعلق")
    assert "appstore: 3 mentions, 0 dead-lettered" in err
