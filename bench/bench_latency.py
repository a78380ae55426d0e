"""Alert latency under load, on the local Kafka (`python -m bench.bench_latency`).

A real `sada process` worker runs in a namespace of its own. Probe brands first get a day of
quiet history (so the detector's warm-up is over), then background mentions of other brands
flow at `--rate` per second (loopback only, bounded by `--seconds`) while, every so often, one
probe brand gets a burst of complaints. Latency is from the burst entering Kafka (the time
just before it is produced: an upper bound, the producer's linger included) to the alert
being readable on the alerts topic; p50 and p99 over the probes are printed. Each rate runs
with each layout: `all` (each worker runs both stages) and `split` (score and detect stages
in workers of their own, `sada process --stage`). Then, on one
core without Kafka, the detect agent's own work per record (parse, per-minute counts update,
detector, both table values JSON-encoded as for their changelogs) across 10,000 brands.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles

import yaml
from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition

from core import connect, topics
from core.config import DetectionConfig, Settings
from core.events import Author, Mention, ScoredMention, Sentiment, make_uid
from ingest import synthetic
from processors import detect
from processors.detect_state import BrandState
from processors.windows import EventTimeWindow, applied, counted, marked
from sada import services
from sada.topics import delete_namespace, ensure_topics, lag
from sada.workers import processor_stages, spawn, stop

COMPLAINT = "{brand} lost my luggage again, terrible service, I want a refund"
VOCABULARY = sorted({w for texts in synthetic.CHATTER.values() for t in texts for w in t.split()})


def chatter(brand: str, rng: random.Random) -> str:
    """Everyday text about `brand`, varied (a stream of one sentence would be all duplicates)."""
    return " ".join([brand, *rng.sample(VOCABULARY, 12)])


def fake_mention(text: str, at: datetime, rng: random.Random) -> Mention:
    source_id = uuid.UUID(int=rng.getrandbits(128)).hex
    return Mention(
        uid=make_uid("bench", source_id),
        source="bench",
        source_id=source_id,
        author=Author(handle=f"user{rng.randrange(10_000)}", followers=rng.randrange(5000)),
        text=text,
        created_at=at,
        fetched_at=at,
    )


def write_config(path: Path, probes: int, load_brands: int) -> Path:
    """One client: probe brands (`probe007`) and background brands (`load0042`), by one word."""
    brands = [
        {"id": f"probe{i:03d}", "name": f"Probe {i}", "include": [f"probe{i:03d}"]}
        for i in range(probes)
    ]
    brands += [
        {"id": f"load{i:04d}", "name": f"Load {i}", "include": [f"load{i:04d}"]}
        for i in range(load_brands)
    ]
    data = {"clients": [{"id": "bench", "name": "Bench", "brands": brands}]}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _send(producer: Producer, raw: str, mentions: list[Mention]) -> None:
    for mention in mentions:
        producer.produce(raw, key=mention.uid.encode(), value=mention.to_bytes())
    producer.poll(0)


def _lags(settings: Settings, layout: str) -> list[int]:
    """Raw and scored records the layout's workers have not committed yet."""
    stages = processor_stages(layout == "split")
    return [
        lag(settings, settings.processor_group(stages[0]), topics.RAW),
        lag(settings, settings.processor_group(stages[-1]), topics.SCORED),
    ]


def _caught_up(settings: Settings, layout: str) -> bool:
    return not any(_lags(settings, layout))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(pid: int) -> float:
    """Largest resident set a process has had, from /proc (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


class AlertWatcher(threading.Thread):
    """Notes when each brand's first `open` alert becomes readable on the alerts topic."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.seen: dict[str, float] = {}
        self.done = threading.Event()
        self._consumer = KafkaConsumer(
            **connect.kafka_python(settings), fetch_max_wait_ms=10, group_id=None
        )
        name = settings.topic(topics.ALERTS)
        parts = [TopicPartition(name, p) for p in range(topics.ALERTS.partitions)]
        self._consumer.assign(parts)
        self._consumer.seek_to_end(*parts)
        for part in parts:
            self._consumer.position(part)  # resolve "end" now, before the probes

    def run(self) -> None:
        while not self.done.is_set():
            for records in self._consumer.poll(timeout_ms=50).values():
                now = time.time()
                for record in records:
                    alert = json.loads(record.value)
                    if alert["status"] == "open":
                        self.seen.setdefault(alert["brand"], now)
        self._consumer.close()


def latency(
    settings: Settings,
    *,
    rate: float,
    seconds: float,
    probes: int,
    workers: int = 1,
    layout: str = "all",
) -> None:
    rng = random.Random(1)
    work = Path(tempfile.mkdtemp(prefix="sada-bench-latency-"))
    load_brands = 1000
    settings = settings.model_copy(
        update={
            "namespace": f"bench{uuid.uuid4().hex[:8]}",
            "config_path": write_config(work / "config.yaml", probes, load_brands),
            "cache_dir": work / "cache",
        }
    )
    ensure_topics(settings)
    raw = settings.topic(topics.RAW)
    producer = Producer(
        {
            **connect.confluent(settings),
            "acks": "all",
            "linger.ms": 5,
            "enable.idempotence": True,
        }
    )
    procs = []
    for stage in processor_stages(layout == "split"):
        for index in range(workers):  # each worker its own cache and log dir
            own = work / f"{stage}{index}"
            own.mkdir()
            own_settings = settings.model_copy(update={"cache_dir": own})
            procs.append(spawn("process", own_settings, own, "--stage", stage))
    try:
        # A day of quiet history for each probe brand: one mention every 20 minutes.
        now = datetime.now(UTC)
        history = sorted(
            (now - timedelta(hours=25) + timedelta(minutes=20 * k + rng.uniform(0, 20)), i)
            for i in range(probes)
            for k in range(75)
        )
        _send(
            producer,
            raw,
            [fake_mention(chatter(f"probe{i:03d}", rng), at, rng) for at, i in history],
        )
        producer.flush()
        began = time.monotonic()
        _wait(lambda: _caught_up(settings, layout), 300, "the worker to learn the probes' history")
        print(f"history: {len(history)} mentions learned in {time.monotonic() - began:.1f}s")

        watcher = AlertWatcher(settings)
        watcher.start()
        bursts: dict[str, float] = {}
        tick, sent = 0.01, 0
        probe_every = seconds / (probes + 1)
        start = time.monotonic()
        cpu_before = sum(cpu_seconds(proc.pid) for proc in procs)
        next_probe = start + probe_every
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate) - sent
            at = datetime.now(UTC)
            batch = [
                fake_mention(chatter(f"load{rng.randrange(load_brands):04d}", rng), at, rng)
                for _ in range(due)
            ]
            _send(producer, raw, batch)
            sent += due
            if time.monotonic() >= next_probe and len(bursts) < probes:
                brand = f"probe{len(bursts):03d}"
                burst = [fake_mention(COMPLAINT.format(brand=brand), at, rng) for _ in range(30)]
                bursts[brand] = time.time()
                _send(producer, raw, burst)
                next_probe += probe_every
            time.sleep(tick)
        producer.flush()
        load_seconds = time.monotonic() - start
        cpu = (sum(cpu_seconds(proc.pid) for proc in procs) - cpu_before) / load_seconds
        memory = ", ".join(f"{peak_memory_mb(proc.pid):.0f}" for proc in procs)
        backlog = _lags(settings, layout)
        _wait(
            lambda: len(watcher.seen) >= len(bursts) or time.monotonic() - start > seconds + 15,
            30,
            "the last alerts",
        )
        watcher.done.set()
        watcher.join()
    finally:
        stop(procs)
        delete_namespace(settings)

    delays = sorted(watcher.seen[b] - t for b, t in bursts.items() if b in watcher.seen)
    print(
        f"background: {sent} mentions in {load_seconds:.1f}s ({sent / load_seconds:,.0f}/s); "
        f"{len(procs)} worker(s) used {cpu:.0%} of a core, peak memory {memory} MB; "
        "records not yet committed when the load "
        f"stopped: {backlog[0]} raw, {backlog[1]} scored"
    )
    print(
        f"alerts: {len(delays)} of {len(bursts)} probe bursts raised one in time "
        "(the percentiles below are over those; any others were still queued)"
    )
    if len(delays) >= 2:
        cuts = quantiles(delays, n=100, method="inclusive")
        print(
            f"alert latency: p50 {cuts[49]:.3f}s  p99 {cuts[98]:.3f}s  max {delays[-1]:.3f}s "
            "(targets: p50 <= 1 s, p99 <= 3 s)"
        )


def agent_throughput(brands: int = 10_000, records: int = 50_000) -> float:
    """Mentions/s through the detect agent's per-record work, tables as plain dicts."""
    rng = random.Random(2)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = 3600 / records
    payloads = [
        ScoredMention(
            mention=fake_mention(
                f"brand{b} word{rng.randrange(500)} word{rng.randrange(500)}",
                start + timedelta(seconds=k * step),
                rng,
            ),
            client="bench",
            brand=f"brand{b}",
            matched_terms=[f"brand{b}"],
            text_normalized=f"brand{b} word",
            language="en",
            sentiment=Sentiment(
                label=rng.choice(["negative", "neutral", "positive"]),
                probability=0.9,
                model="bench",
            ),
            triage="other",
        ).to_bytes()
        for k, b in enumerate(rng.randrange(brands) for _ in range(records))
    ]
    detector = detect.Detector(DetectionConfig(warmup_hours=0))
    window = EventTimeWindow(60, expires=3600, sources=1)
    counts: dict[tuple[str, tuple[float, float]], dict[str, object]] = {}
    states: dict[str, dict[str, object]] = {}
    began = time.perf_counter()
    for offset, payload in enumerate(payloads):
        record = ScoredMention.from_bytes(payload)
        origin = ("0", offset)
        minute = window.place(record.mention.created_at.timestamp(), 0, origin)
        assert minute is not None
        current = counts.get((record.key, minute), {})
        if not applied(current, origin):
            counts[record.key, minute] = value = marked(counted(current, record), current, origin)
            json.dumps(value)
        previous = states.get(record.key, {})
        state = BrandState.from_dict(previous)
        detector.add(state, detect.observation(record))
        states[record.key] = value = marked(state.to_dict(), previous, origin)
        json.dumps(value)
    return records / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[1000.0, 2000.0],
        help="background mentions/s, one run each",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load")
    parser.add_argument("--probes", type=int, default=60, help="bursts (one brand each)")
    parser.add_argument(
        "--layout",
        nargs="+",
        choices=["all", "split"],
        default=["all", "split"],
        help="all: workers run both stages; split: a score and a detect worker; one run each",
    )
    parser.add_argument("--workers", type=int, default=1, help="`sada process` workers per stage")
    args = parser.parse_args()
    settings = Settings.from_env()
    if not services.kafka_reachable(settings):
        services.up(settings)
    for layout in args.layout:
        for rate in args.rate:
            print(
                f"--- {rate:,.0f} mentions/s background, layout {layout}, {args.workers} per stage"
            )
            latency(
                settings,
                rate=rate,
                seconds=args.seconds,
                probes=args.probes,
                workers=args.workers,
                layout=layout,
            )
    print(
        f"detect agent work (parse, counts, detector, JSON state): "
        f"{agent_throughput():,.0f} mentions/s on one core across 10,000 brands"
    )


if __name__ == "__main__":
    main()
