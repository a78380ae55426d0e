"""Where the processors go around faust-streaming: each workaround, its upstream issue and why.

- `Consumer`: a restarted worker could stop committing (faust-streaming/faust#596, open).
- `Producer`: the queue of table writes is roomy from the first record
  (faust-streaming/faust#173, open: "producer buffer full").
- `Transport`: how the two reach Faust (`app.transport`; Faust has no setting for either).
- `carried_by`: table writes after a batch of events (`take_events`) name the event that
  carried the key (Faust places a key by "the current event", which a batch does not set).
- `exit_now`: a worker that must stop exits at once (faust-streaming/faust#324, closed as
  won't fix: a worker asked to exit from an agent hangs while stopping).
- Table changelogs are encoded with orjson, about 5x Faust's stdlib JSON: nothing to do here,
  Faust takes it when it is installed (a dependency in pyproject.toml).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from faust.streams import _current_event
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types import EventT
from faust.types.tuples import TP
from intervaltree import IntervalTree

log = logging.getLogger(__name__)
PRODUCER_BUFFER = 10_000  # queued sends before Faust holds the stream back


def count_each_once(acked: list[int], gap: IntervalTree) -> None:
    """Fill `gap` into `acked` up to its highest offset and keep `acked` sorted, each offset
    once (in place: both are Faust's own, see `Consumer`)."""
    if acked:
        offsets = set(acked)
        spans = gap.overlap(0, max(acked))
        for span in spans:
            offsets.update(range(span.begin, span.end))
        gap.chop(0, max([max(acked) + 1, *(span.end for span in spans)]))
        acked[:] = sorted(offsets)


class Consumer(faust_kafka.Consumer):
    """Faust's consumer, counting each acknowledged offset once.

    Faust commits up to the end of the first run of consecutive offsets in a partition's list of
    acked offsets, and fills in offsets it never saw (a "gap") as acked. A restarted worker
    replays its tables' changelogs, then resumes the stream partitions and only then seeks them
    to their committed offsets (faust-streaming/faust#596, open): records fetched in between
    are processed and acked, the seek rewinds Faust's read position, and the next record is
    taken for a gap over exactly those offsets. Each is then in the list twice, every run is
    two long, and the commit crawls one offset per commit interval: the worker sits idle with
    hundreds of records uncommitted (measured: about one restart in three). Here the gap is
    filled and the list kept as a set before Faust looks for the run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[TP, tuple[int | None, float, float]] = {}  # offset, since, said

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        count_each_once(acked, self._gap[tp])
        committed = self._committed_offset[tp]
        if acked and committed and acked[0] - committed > 1:
            self._stuck(tp, committed, acked[0])
        return super()._new_offset(tp)

    def _stuck(self, tp: TP, committed: int, first: int) -> None:
        """Faust commits nothing more for `tp` while offsets between the committed one and the
        first acked were neither acked nor taken for a gap. Held for 30 s (not a moment's
        reordering), it is said once a minute with where the partition stands: seen in
        `make chaos` (a), one partition of the detect stage held for good."""
        now = time.monotonic()
        held, since, said = self._held.get(tp, (None, now, 0.0))
        if held != committed:
            since, said = now, 0.0
        if now - since >= 30 and now - said >= 60:
            said = now
            log.warning(
                "%s[%d]: commits held at %d for %.0fs: offsets %d-%d never acked (%d acked "
                "after them; read offset %s; gaps %s)",
                tp.topic,
                tp.partition,
                committed,
                now - since,
                committed,
                first - 1,
                len(self._acked[tp]),
                self._read_offset[tp],
                sorted(self._gap[tp])[:3],
            )
        self._held[tp] = (committed, since, said)


class Producer(faust_kafka.Producer):
    """Faust's producer, draining its queue of table writes before a commit (`flush`), with a
    roomier queue (two writes per mention): past its default 100, Faust stops delivering records and sends one write an event-loop turn, which capped
    the detect stage at the arrival rate (measured), and "producer buffer full" was logged. Set
    here, not in an app task: those start only after recovery, and a restarted worker's first
    records can come before (see `Consumer`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffer.max_messages = PRODUCER_BUFFER

    async def flush(self) -> None:
        """Before an offset commit: every queued table write handed to Kafka. Faust's buffer
        flush gives up after 0.1 s without a send, so offsets could be committed ahead of the
        changelog, and a kill right then lost those counts (seen: one minute one short)."""
        while self.buffer.size:
            await self.buffer.flush()
        await super().flush()


class Transport(faust_kafka.Transport):
    """Faust's Kafka transport, with the consumer and producer above."""

    Consumer = Consumer
    Producer = Producer


@contextmanager
def carried_by(event: EventT) -> Iterator[None]:
    """Within: `event` is Faust's current event, as while a stream hands it over, so a table
    key set here goes to the changelog partition of the partition `event` came from (the
    key's own: the table is co-partitioned with its stream). Faust's `current_event()` reads
    this context variable and offers no setter of its own."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def exit_now(message: str) -> NoReturn:
    """Print one line on the real stderr and end the process with status 1, committing nothing
    more. The real stderr: Faust redirects sys.stderr to its log. os._exit: Faust's own crash
    path went on consuming, or hung, while it shut down (tried)."""
    print(message, file=sys.__stderr__, flush=True)
    os._exit(1)
