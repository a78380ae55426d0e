"""Event-time minutes and idempotence marks for the detect agent's tables (pure, no Kafka).

A scored record names its origin (raw partition and offset) in a header; a table value keeps,
in `origins`, the highest origin applied per raw partition, so a record replayed after a crash
is skipped. Why this makes the state exact: see `processors.detect_agent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.types.windows import WindowRange

from core.events import ScoredMention

Origin = tuple[str, int]  # raw partition (as a JSON key), raw offset
ORIGIN_HEADER = "sada-origin"


class EventTimeWindow(faust.TumblingWindow):
    """Tumbling windows closed by the stream's own clocks (watermarks), not by the wall clock.

    Faust's table cleanup asks `stale(window_end, time.time())`: with event time, a replayed or
    backfilled minute would be dropped from memory while still being counted, and its next
    update would start from zero and overwrite the changelog. Here each scored partition has a
    watermark: the least, over the raw partitions, of the newest event time that came from each.
    Partitions are read at different speeds (hours apart in a replay), and one running ahead
    must not close the minutes another is still filling; until every raw partition has been
    heard from, nothing closes. `place` refuses an event whose window is `expires` behind its
    partition's watermark (it is not counted, as the detector ignores mentions far behind); the
    cleanup drops windows behind the slowest watermark, so it never drops a window that a
    partition could still count into.
    """

    def __init__(self, size: float, expires: float, sources: int) -> None:
        super().__init__(size, expires=expires)
        self.sources = sources
        self.clocks: dict[int, dict[str, float]] = {}  # partition -> raw partition -> newest

    def place(self, timestamp: float, partition: int, origin: Origin | None) -> WindowRange | None:
        """The window of an event at `timestamp`, or None when that window is already closed."""
        clocks = self.clocks.setdefault(partition, {str(p): 0.0 for p in range(self.sources)})
        if origin is not None:
            clocks[origin[0]] = max(clocks.get(origin[0], 0.0), timestamp)
        window = self.current(timestamp)
        return None if super().stale(window[1], min(clocks.values())) else window

    def stale(self, timestamp: float, latest_timestamp: float) -> bool:
        slowest = min((min(clocks.values()) for clocks in self.clocks.values()), default=0.0)
        return bool(super().stale(timestamp, slowest))


def origin_headers(partition: int, offset: int) -> dict[str, bytes]:
    """The headers naming a scored record's origin: the raw record it was scored from."""
    return {ORIGIN_HEADER: f"{partition}:{offset}".encode()}


def read_origin(headers: Mapping[str, bytes]) -> Origin | None:
    """The origin in a scored record's headers; None if it has none (not sent by the score
    agent: counted, without replay protection)."""
    raw = headers.get(ORIGIN_HEADER)
    if raw is None:
        return None
    partition, offset = raw.decode().split(":")
    return partition, int(offset)


def applied(value: dict[str, Any], origin: Origin | None) -> bool:
    """Whether the record from `origin` is already in `value` (None: unknown origin, never)."""
    return origin is not None and value.get("origins", {}).get(origin[0], -1) >= origin[1]


def marked(
    value: dict[str, Any], previous: dict[str, Any], origin: Origin | None
) -> dict[str, Any]:
    """`value` with the high-water marks of `previous`, raised to `origin`."""
    origins = dict(previous.get("origins", {}))
    if origin is not None:
        origins[origin[0]] = origin[1]
    value["origins"] = origins
    return value


def counted(counts: dict[str, Any], record: ScoredMention) -> dict[str, Any]:
    """A minute's counts with `record` added: total, negative, by source and by language."""
    out = {
        "total": counts.get("total", 0) + 1,
        "negative": counts.get("negative", 0) + (record.sentiment.label == "negative"),
        "source": dict(counts.get("source", {})),
        "language": dict(counts.get("language", {})),
    }
    for dimension, name in (("source", record.mention.source), ("language", record.language)):
        out[dimension][name] = out[dimension].get(name, 0) + 1
    return out
