from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest
from prometheus_client import REGISTRY

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Mention, make_uid, now
from ingest import gdelt, hackernews, mastodon, reddit, rss
from ingest.parsing import Item
from ingest.polling import accept_page, each_target, observe
from tests.ingest.support import only_mentions


def mention(i: int, age_seconds: float = 0) -> Mention:
    return Mention(
        uid=make_uid("t", str(i)),
        source="t",
        source_id=str(i),
        author=Author(handle="a"),
        text="x",
        fetched_at=now(),
        created_at=datetime.now(UTC) - timedelta(seconds=age_seconds),
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_tracks_the_newest_item_lag() -> None:
    observe("obs", [mention(1, 30), Rejected(payload="x", reason="obs: bad"), mention(2, 90)])
    assert 29 <= metric("sada_newest_item_lag_seconds", source="obs") < 40
    observe("obs", [mention(3, -3600)])  # a clock ahead of ours is not a negative lag
    assert metric("sada_newest_item_lag_seconds", source="obs") == 0


async def test_a_failing_target_is_skipped_and_the_others_go_on() -> None:
    async def run(target: str) -> AsyncIterator[Item]:
        if target == "down":
            raise RetryLater("down: HTTP 503 after 5 tries")
        if target == "gone":
            raise SourceError("gone: HTTP 404", status=404)
        yield mention(int(target))

    skipped = metric("sada_errors_total", stage="ingest:t", kind="retry_later")
    got = [i async for i in each_target("t", ["1", "down", "gone", "2"], run)]
    assert [m.source_id for m in only_mentions(got)] == ["1", "2"]
    assert metric("sada_errors_total", stage="ingest:t", kind="retry_later") == skipped + 1


def test_a_whole_page_rejected_raises_retry_later_and_single_items_pass() -> None:
    page = b"<html>502 Bad Gateway</html>"
    with pytest.raises(RetryLater, match="the cursor stays"):
        accept_page(
            "t",
            "https://x.example/a?key=secret",
            [Rejected(payload=page.decode(), reason="t: payload is not JSON")],
            page,
        )
    one: list[Item] = [Rejected(payload='{"id": 1}', reason="t: missing field")]
    assert accept_page("t", "u", one, b'[{"id": 1}]') == one


REQUIRED: dict[ModuleType, dict[str, object]] = {
    gdelt: {"queries": ["q"]},
    hackernews: {"queries": ["q"]},
    mastodon: {"instances": ["https://a.example"], "hashtags": ["x"]},
    reddit: {
        "client_id": "id",
        "client_secret": "s",
        "user_agent": "web:sada:1 (by /u/x)",
        "queries": ["q"],
    },
    rss: {"feeds": ["https://a.example/feed"]},
}
BOUNDS = {
    "poll_interval_seconds": 0,
    "max_pages_per_poll": 0,
    "initial_lookback_seconds": -1,
    "overlap_seconds": -1,
}


@pytest.mark.parametrize("source", list(REQUIRED), ids=lambda m: m.NAME)
def test_the_shared_polling_fields_keep_their_bounds_and_descriptions(source: ModuleType) -> None:
    fields = source.Config.model_fields
    assert "poll_interval_seconds" in fields and "http" in fields
    for name, out_of_bounds in BOUNDS.items():
        if name in fields:
            assert fields[name].description
            with pytest.raises(ValueError, match=name):
                source.Config(**REQUIRED[source], **{name: out_of_bounds})
    assert source.Config(**REQUIRED[source]).http == fields["http"].default
