from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from prometheus_client import REGISTRY

from core.errors import Rejected, RetryLater
from core.events import Author, Mention, make_uid, now
from ingest.http import SourceError
from ingest.parsing import Item
from ingest.polling import accept_page, observe, poll
from tests.ingest.support import Sleeps, only_mentions


def mention(i: int, age_seconds: float = 0) -> Mention:
    return Mention(uid=make_uid("t", str(i)), source="t", source_id=str(i),
                   author=Author(handle="a"), text="x", fetched_at=now(),
                   created_at=datetime.now(UTC) - timedelta(seconds=age_seconds))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_counts_received_rejected_and_freshness() -> None:
    before = metric("sada_records_received_total", stage="ingest.obs")
    rejected = metric("sada_errors_total", stage="ingest.obs", kind="rejected")
    observe("obs", [mention(1, 30), Rejected(payload="x", reason="obs: bad"), mention(2, 90)])
    assert metric("sada_records_received_total", stage="ingest.obs") == before + 3
    assert metric("sada_errors_total", stage="ingest.obs", kind="rejected") == rejected + 1
    assert 29 <= metric("sada_newest_item_lag_seconds", source="obs") < 40


async def test_a_failing_target_is_skipped_and_the_others_go_on(sleeps: Sleeps) -> None:
    async def run(target: str) -> AsyncIterator[Item]:
        if target == "down":
            raise RetryLater("down: HTTP 503 after 5 tries")
        if target == "gone":
            raise SourceError("gone: HTTP 404", status=404)
        yield mention(int(target))

    got = [i async for i in poll("t", ["1", "down", "gone", "2"], run, interval_seconds=30,
                                 once=True, sleep=sleeps)]
    assert [m.source_id for m in only_mentions(got)] == ["1", "2"]
    assert sleeps.calls == []  # once: no pause after the round

    rounds = cast(AsyncGenerator[Item, None],
                  poll("t", ["1"], run, interval_seconds=30, once=False, sleep=sleeps))
    got_rounds = only_mentions([await anext(rounds) for _ in range(3)])
    assert [m.source_id for m in got_rounds] == ["1", "1", "1"]
    await rounds.aclose()
    assert sleeps.calls == [30, 30]


def test_a_whole_page_rejected_raises_retry_later_and_single_items_pass() -> None:
    page = b"<html>502 Bad Gateway</html>"
    with pytest.raises(RetryLater, match="the cursor stays"):
        accept_page("t", "https://x.example/a?key=secret", [Rejected(
            payload=page.decode(), reason="t: payload is not JSON")], page)
    one: list[Item] = [Rejected(payload='{"id": 1}', reason="t: missing field")]
    assert accept_page("t", "u", one, b'[{"id": 1}]') == one
