"""The detect agent: scored mentions in; per-brand, per-minute counts and alerts out.

It keeps two tables, backed by changelog topics: the detector's state per brand and the
mention counts per brand and event-time minute (`processors.windows.EventTimeWindow`).

Exact state on at-least-once processing. Faust's default guarantee is at-least-once: after a
crash, the records since the last offset commit are processed again, so the score agent sends
them to the scored topic twice and the detect agent may apply them twice. Faust's
`processing_guarantee="exactly_once"` was not taken: faust-streaming's transactions are known
to let duplicates through a kill even to read_committed readers (faust-streaming/faust#517) and
to crash on rebalances (#323), and they would hold every alert back from committed readers until
the next commit. Instead the state is idempotent. Each scored record carries its origin (raw
partition and offset) in a header; a table value records, per raw partition, the highest origin
it has applied, in the same changelog record as the numbers, and a record at or below that mark
is skipped. A brand's records reach its scored partition in raw-offset order from each raw
partition, so everything at or below the mark was applied already, in its own (event-time)
window too. The producer is flushed before offsets are committed, so no committed record is
missing from a changelog (Faust's own flush gives up after 0.1 s without a send; ours waits:
`processors.faust_fixes.Producer`). Alerts are sent, and acknowledged, before the detector state that raised them is
written: a crash in between re-sends the same alert (same deterministic id), never loses it.

A restarted worker never sits on uncommitted records: see `processors.faust_fixes.Consumer`.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import WindowRange

from core import metrics, topics
from core.config import SadaConfig
from core.events import ScoredMention
from core.live import LiveConfig
from processors import detect
from processors.deadletter import DeadLetters
from processors.detect_state import BrandState
from processors.faust_fixes import carried_by
from processors.windows import EventTimeWindow, Origin, applied, counted, marked, read_origin

log = logging.getLogger(__name__)

MINUTE_SECONDS = 60
DETECT_BATCH = 500  # scored records handled together at most
DETECT_WAIT = 0.02  # seconds a batch waits for more records: a small part of the alert budget

Pending = tuple[dict[str, Any], faust.EventT]  # a table value to write, and the event it is for


def add_detect_agent(
    app: faust.App,
    live: LiveConfig,
    scored: faust.TopicT,
    alerts: faust.TopicT,
    letters: DeadLetters,
    raw_partitions: int,
) -> None:
    """Add `detect_spikes` and its two tables to `app`: it reads `scored`, sends to `alerts`;
    `raw_partitions` (of the raw topic, each a source of event time) close minutes.

    Each batch is handled with the clients file as it is when the batch starts (`live`). A
    brand removed from it keeps its state and minute counts in the tables (the counts expire;
    the state waits, harmless, and is taken up again if the brand comes back); with no more
    mentions its open incident is never resolved here, and the alert sinks send nothing for a
    brand that is not in the file. A brand added is new to the detector: it warms up first."""
    # No key/value types on the tables: plain JSON; Faust would rebuild a `dict` as a model.
    detector_state = app.Table(
        topics.DETECTOR_STATE.table, default=dict, partitions=scored.partitions
    )
    minutes = EventTimeWindow(
        MINUTE_SECONDS, expires=topics.COUNTS_EXPIRES_SECONDS, sources=raw_partitions
    )
    mention_counts = app.Table(
        topics.MENTION_COUNTS.table, default=dict, partitions=scored.partitions
    ).using_window(minutes)
    rules_now = live.derive(_rules)

    def count(
        record: ScoredMention,
        event: faust.EventT,
        origin: Origin | None,
        pending: dict[tuple[str, WindowRange], Pending],
    ) -> None:
        """Add `record` to its minute's counts, unless that minute is closed or has it."""
        at = record.mention.created_at.timestamp()
        minute = minutes.place(at, event.message.partition, origin)
        if minute is not None:
            slot = (record.key, minute)
            current = pending[slot][0] if slot in pending else mention_counts[record.key][minute]
            if not applied(current, origin):
                pending[slot] = (marked(counted(current, record), current, origin), event)

    async def feed_detector(
        detector: detect.Detector,
        record: ScoredMention,
        event: faust.EventT,
        origin: Origin | None,
        pending: dict[str, Pending],
    ) -> None:
        """Feed `record` to its brand's detector, unless applied; send the alerts it raises,
        then keep the state for the batch's end."""
        value = pending[record.key][0] if record.key in pending else detector_state[record.key]
        if applied(value, origin):
            return
        try:
            state = BrandState.from_dict(value)
            transitions = detector.add(state, detect.observation(record))
        except Exception as exc:  # one bad record must not stop the stream
            log.exception("detection failed for %s", record.mention.uid)
            reason = f"detection failed: {exc!r}"
            await letters.reject(reason, event.value, scored.get_topic_name())
            return
        for status, alert in transitions:
            metrics.ALERTS.labels(alert.kind).inc()
            log.info("alert %s %s: %s", status, alert.id, alert.explanation)
            await (await alerts.send(key=alert.key.encode(), value=alert.to_bytes()))
        pending[record.key] = (marked(state.to_dict(), value, origin), event)

    @app.agent(scored, concurrency=1)
    async def detect_spikes(stream: Any) -> None:
        # In batches: a brand's state and each of its minutes' counts are written to their
        # changelogs once a batch, however many of its records the batch holds. take_events
        # acks a batch's events only after this loop's body, so the writes are queued before
        # the offsets can be committed; an alert is still sent as soon as it is raised.
        async for events in stream.take_events(DETECT_BATCH, within=DETECT_WAIT):
            states: dict[str, Pending] = {}
            counts: dict[tuple[str, WindowRange], Pending] = {}
            detector, competitors = rules_now()
            for event in events:
                record = await letters.parse(ScoredMention, event)
                if record is None or record.mention.edited_at is not None:  # an edit: once
                    continue
                origin = read_origin(event.headers)
                count(record, event, origin, counts)
                if record.key not in competitors:
                    await feed_detector(detector, record, event, origin, states)
            for key, (value, carrier) in states.items():
                with carried_by(carrier):
                    detector_state[key] = value
            for (key, minute), (value, carrier) in counts.items():
                with carried_by(carrier):
                    mention_counts[key][minute] = value


def _rules(config: SadaConfig) -> tuple[detect.Detector, frozenset[str]]:
    """The detector of `config`'s detection settings, and its competitors (counted, never
    alerted on)."""
    return detect.Detector(config.detection), config.competitors()
