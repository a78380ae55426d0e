"""The Faust workarounds: what they correct, shown on Faust's own consumer and producer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types.tuples import TP
from faust.utils import json as faust_json
from intervaltree import Interval, IntervalTree

from core.config import Settings, load_config
from core.live import LiveConfig
from processors import faust_fixes
from processors.app import create_app
from sada import SAMPLE_CONFIG

TP0 = TP("t.mentions.scored", 0)


def test_a_restarted_worker_commits_what_it_acked_not_one_offset_a_time(tmp_path: Path) -> None:
    """faust-streaming/faust#596: records 10-12 were processed before the seek to the committed
    offset (10), read and acked again after it, and taken for a gap as well."""
    app = create_app(
        Settings(namespace="t", cache_dir=tmp_path), LiveConfig(load_config(SAMPLE_CONFIG))
    )
    consumer = app.consumer
    assert isinstance(consumer, faust_fixes.Consumer)

    def next_commit(new_offset: Callable[[faust_fixes.Consumer, TP], int | None]) -> int | None:
        consumer._committed_offset[TP0] = 10
        consumer._acked[TP0] = [10, 11, 12, 10, 11, 12, 13, 14]
        consumer._gap[TP0] = IntervalTree([Interval(10, 13)])
        return new_offset(consumer, TP0)

    assert next_commit(faust_kafka.Consumer._new_offset) == 11  # Faust's own: one at a time
    assert next_commit(faust_fixes.Consumer._new_offset) == 15  # everything acked


def test_a_partition_whose_commits_are_held_is_said_with_the_offsets_never_acked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Offsets 10-11 neither acked nor a gap: Faust commits nothing past 10, for good. Said
    once it has held 30 s, then once a minute, not on every commit interval."""
    app = create_app(
        Settings(namespace="t", cache_dir=tmp_path), LiveConfig(load_config(SAMPLE_CONFIG))
    )
    consumer = app.consumer
    assert isinstance(consumer, faust_fixes.Consumer)
    clock = [1000.0]
    monkeypatch.setattr(faust_fixes.time, "monotonic", lambda: clock[0])
    said = []
    for seconds in (0, 10, 29, 31, 45, 80, 95):
        clock[0] = 1000.0 + seconds
        consumer._committed_offset[TP0] = 10
        consumer._acked[TP0] = [12, 13]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=faust_fixes.__name__):
            assert consumer._new_offset(TP0) is None  # held
        said += [(seconds, r.getMessage()) for r in caplog.records]
    assert [at for at, _ in said] == [31, 95]
    assert said[0][1].startswith(
        "t.mentions.scored[0]: commits held at 10 for 31s: offsets 10-11 never acked"
    )


def test_each_acked_offset_is_counted_once_and_later_gaps_are_kept() -> None:
    acked, gap = [5, 3, 4, 3], IntervalTree([Interval(1, 3), Interval(8, 10)])
    faust_fixes.count_each_once(acked, gap)
    assert acked == [1, 2, 3, 4, 5]
    assert sorted(gap) == [Interval(8, 10)]  # past the acked offsets: Faust's to fill later


def test_the_producer_queues_table_writes_roomily_from_the_start(tmp_path: Path) -> None:
    app = create_app(
        Settings(namespace="t", cache_dir=tmp_path), LiveConfig(load_config(SAMPLE_CONFIG))
    )
    assert isinstance(app.producer, faust_fixes.Producer)
    assert app.producer.buffer.max_messages == faust_fixes.PRODUCER_BUFFER == 10_000


def test_faust_encodes_table_changelogs_with_orjson() -> None:
    assert faust_json.dumps({"total": 1}) == b'{"total":1}'  # orjson's bytes, not json's str
