"""The Faust app: thin agents that loop, call the pure steps, and forward.

raw mentions --score_mentions--> scored mentions --detect_spikes--> alerts
                                                        +--> per-brand, per-minute counts
Any record a step cannot process goes to the dead-letter topic with the reason; the stream goes on.

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
window too. Faust flushes the producer before committing offsets, so no committed record is
missing from a changelog (caveat: its queue of table writes gives up waiting after 0.1 s without
a send). Alerts are sent, and acknowledged, before the detector state that raised them is
written: a crash in between re-sends the same alert (same deterministic id), never loses it.

A restarted worker never sits on uncommitted records: see `Consumer`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any, Literal

import faust
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types.tuples import TP
from faust.types.windows import WindowRange
from pydantic import ValidationError

from core import metrics, topics
from core.breaker import DeadLetterBreaker
from core.config import SadaConfig, Settings
from core.errors import Fatal
from core.events import Mention, Record, ScoredMention, dead_letter
from processors import detect
from processors.dedupe import Deduper
from processors.detect_state import BrandState
from processors.match import build_matcher
from processors.pipeline import process_each
from processors.sentiment import LinearModel, keeping_up, load_scorer

log = logging.getLogger(__name__)

Stage = Literal["all", "score", "detect"]
Origin = tuple[str, int]  # raw partition (as a JSON key), raw offset
ORIGIN_HEADER = "sada-origin"
MINUTE_SECONDS = 60
SCORE_BATCH = 500  # raw records scored together at most
# A slow backend (e5: ~130 mentions/s on two cores) is as fast in batches of 64 as of 500
# (measured), and the batch is what it adds to alert latency: about half a second, not four.
SLOW_SCORE_BATCH = 64
SCORE_WAIT = 0.02  # seconds a batch waits for more records
PRODUCER_BUFFER = 10_000  # queued sends before Faust holds the stream back


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

    def _new_offset(self, tp: TP) -> int | None:
        acked, gap = self._acked[tp], self._gap[tp]
        if acked:
            offsets = set(acked)
            spans = gap.overlap(0, max(acked))
            for span in spans:
                offsets.update(range(span.begin, span.end))
            gap.chop(0, max([max(acked) + 1, *(span.end for span in spans)]))
            acked[:] = sorted(offsets)
        return super()._new_offset(tp)


class Producer(faust_kafka.Producer):
    """Faust's producer with a roomier queue of table writes (two per mention): past its default
    100, Faust stops delivering records and sends one write an event-loop turn, which capped
    the detect stage at the arrival rate (measured), and "producer buffer full" was logged. Set
    here, not in an app task: those start only after recovery, and a restarted worker's first
    records can come before (see `Consumer`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffer.max_messages = PRODUCER_BUFFER


class Transport(faust_kafka.Transport):
    """Faust's Kafka transport, with the consumer and producer above."""

    Consumer = Consumer
    Producer = Producer


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


def _origin(event: faust.EventT) -> Origin | None:
    raw = event.headers.get(ORIGIN_HEADER)
    if raw is None:
        return None  # not sent by score_mentions: counted, without replay protection
    partition, offset = raw.decode().split(":")
    return partition, int(offset)


def _raw_topic(app: faust.App, name: str, partitions: int) -> Any:
    """Bytes in and out: parsing is ours, so a bad record is dead-lettered, not skipped by Faust."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )


def create_app(settings: Settings, config: SadaConfig, stage: Stage = "all") -> faust.App:
    """Build the processor app for one deployment (namespace) and one clients file.

    `stage` "all" runs both agents in each worker. "score" and "detect" run one each, so the
    two stages get a process (a core) each and scale apart: a Python process does one core's
    work at most, and one worker doing both stages tops out near 1,500 mentions/s on 2 cores.
    """
    name = settings.processor_group(stage)
    datadir = settings.cache_dir / "faust" / name
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        name,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        topic_partitions=topics.SCORED.partitions,
        topic_allow_declare=True,
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # A dead worker's partitions move after 10 s, not Faust's 60 s: heartbeats come from
        # the consumer's own thread, so a busy agent does not miss them.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        # Three records go out per mention (scored, two changelogs); without a linger each
        # goes in a request of its own, and the requests, not the work, cap throughput
        # (measured: 2x mentions/s). 50 ms rather than 5 ms: at 1,000 mentions/s the worker
        # then needs 7% less CPU, for 0.04 s more alert latency (of a 1 s budget).
        producer_linger=0.05,
        # The Kafka client keeps one request in flight per broker; a partition whose batch is
        # full makes every send wait for it. 16 KB (the default) is 8 detector states: at
        # 2,000 mentions/s the detect stage then queued, alerts 1.7 s late instead of 0.23 s.
        producer_max_batch_size=512 * 1024,
    )

    app.transport = Transport(app.conf.broker_consumer, app)
    raw = _raw_topic(app, settings.topic(topics.RAW), topics.RAW.partitions)
    scored = _raw_topic(app, settings.topic(topics.SCORED), topics.SCORED.partitions)
    alerts = _raw_topic(app, settings.topic(topics.ALERTS), topics.ALERTS.partitions)
    deadletter = _raw_topic(app, settings.topic(topics.DEADLETTER), topics.DEADLETTER.partitions)
    received = {step: metrics.RECEIVED.labels(step) for step in ("score", "detect")}
    share = settings.deadletter_max_share
    breakers = {step: DeadLetterBreaker(step, share) for step in ("score", "detect")}

    async def reject(step: str, reason: str, payload: bytes, topic: str) -> None:
        metrics.DEADLETTERED.labels(step).inc()
        log.warning("dead-lettered a record from %s: %s", topic, reason)
        await deadletter.send(value=dead_letter(step, reason, payload, topic).to_bytes())
        try:
            breakers[step].rejected(reason)
        except Fatal as exc:  # mostly dead letters: stop now, exit 1, commit nothing more
            # One line on the real stderr (Faust redirects sys.stderr); os._exit, because Faust's
            # own crash path went on consuming, or hung, while it shut down (tried). What was not
            # committed is read again after the fix; committed records had their letters flushed.
            print(f"error: {exc}", file=sys.__stderr__, flush=True)
            os._exit(1)

    async def parse(model: type[Record], step: str, event: faust.EventT) -> Any | None:
        """The event's record, or None after dead-lettering what does not parse."""
        received[step].inc()
        try:
            record = model.from_bytes(event.value)
            breakers[step].accepted()
            return record
        except ValidationError as exc:
            reason = f"not a valid {model.__name__}: {exc}"
            await reject(step, reason, event.value, event.message.topic)
            return None

    if stage in ("all", "score"):
        matcher = build_matcher(config)
        model = load_scorer(settings.sentiment_backend, settings.sentiment_model_dir)
        deduper = Deduper()  # per worker: near-duplicates across partitions are linked only
        # when one worker owns them (see README, Operations)
        sent = metrics.SENT.labels("score")
        # A slow backend (e5, a transformer) takes a while per batch: it scores in a thread so
        # the event loop keeps heartbeats, fetches and commits going meanwhile.
        offload = not isinstance(model, LinearModel)
        batch_size = SLOW_SCORE_BATCH if offload else SCORE_BATCH
        fell_behind = metrics.FELL_BEHIND

        @app.agent(raw, concurrency=1)
        async def score_mentions(stream: Any) -> None:
            # Batches: the sentiment model scores a batch in one call (see process_batch); a
            # batch waits at most SCORE_WAIT for more records, a small part of the latency budget.
            async for events in stream.take_events(batch_size, within=SCORE_WAIT):
                parsed = [(event, await parse(Mention, "score", event)) for event in events]
                valid = [(event, mention) for event, mention in parsed if mention is not None]
                mentions = [mention for _, mention in valid]
                if offload:
                    now = time.time()
                    waited = max((now - (e.message.timestamp or now) for e in events), default=0.0)
                    scorer = keeping_up(model, waited, settings.sentiment_max_delay_seconds)
                    if scorer is not model:
                        fell_behind.inc(len(mentions))
                    results = await asyncio.to_thread(
                        process_each, mentions, matcher, deduper, scorer
                    )
                else:
                    results = process_each(mentions, matcher, deduper, model)
                for (event, _), records in zip(valid, results, strict=True):
                    if isinstance(records, Exception):
                        reason = f"scoring failed: {records!r}"
                        await reject("score", reason, event.value, raw.get_topic_name())
                        continue
                    origin = f"{event.message.partition}:{event.message.offset}".encode()
                    for record in records:
                        await scored.send(
                            key=record.key.encode(),
                            value=record.to_bytes(),
                            headers={ORIGIN_HEADER: origin},
                        )
                    sent.inc(len(records))

    if stage in ("all", "detect"):
        # No key/value types on the tables: plain JSON; Faust would rebuild a `dict` as a model.
        detector_state = app.Table(
            topics.DETECTOR_STATE.table, default=dict, partitions=topics.SCORED.partitions
        )
        minutes = EventTimeWindow(
            MINUTE_SECONDS, expires=topics.COUNTS_EXPIRES_SECONDS, sources=topics.RAW.partitions
        )
        mention_counts = app.Table(
            topics.MENTION_COUNTS.table, default=dict, partitions=topics.SCORED.partitions
        ).using_window(minutes)
        detector = detect.Detector(config.detection)

        @app.agent(scored, concurrency=1)
        async def detect_spikes(stream: Any) -> None:
            async for event in stream.events():
                payload = event.value
                record = await parse(ScoredMention, "detect", event)
                if record is None:
                    continue
                origin = _origin(event)
                at = record.mention.created_at.timestamp()
                minute = minutes.place(at, event.message.partition, origin)
                if minute is not None:
                    counts = mention_counts[record.key]
                    current = counts[minute]
                    if not applied(current, origin):
                        counts[minute] = marked(counted(current, record), current, origin)
                value = detector_state[record.key]
                if applied(value, origin):
                    continue
                try:
                    state = BrandState.from_dict(value)
                    transitions = detector.add(state, detect.observation(record))
                except Exception as exc:  # one bad record must not stop the stream
                    log.exception("detection failed for %s", record.mention.uid)
                    await reject(
                        "detect", f"detection failed: {exc!r}", payload, scored.get_topic_name()
                    )
                    continue
                for status, alert in transitions:
                    metrics.ALERTS.labels(alert.kind).inc()
                    log.info("alert %s %s: %s", status, alert.id, alert.explanation)
                    await (await alerts.send(key=alert.key.encode(), value=alert.to_bytes()))
                detector_state[record.key] = marked(state.to_dict(), value, origin)

    return app
