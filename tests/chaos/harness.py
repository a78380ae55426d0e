"""One chaos run: the whole pipeline as real processes on the chaos services, a stream with a
planted crisis, a fault, and the checks every scenario shares.

A run streams the synthetic mentions through `sada ingest` (replaying a file), `sada process
--stage score`, `sada process --stage detect` and `sada sinks`, with the alert route pointing at
a real local webhook receiver. After the fault it waits until every stage has caught up and
checks: every matched mention indexed exactly once (distinct ids == count == expected), exactly
one incident for the planted crisis, every alert step delivered once, every lag 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx
from kafka import KafkaAdminClient, KafkaConsumer

from core import connect, topics
from core.config import Settings, load_config
from core.events import Mention
from ingest import synthetic
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process
from sada import services
from sada.receiver import Receiver
from sada.topics import backlog, consumed, end_offsets, ensure_topics, lags, partition_lags
from sada.workers import spawn, stop
from tests.conftest import config_with_webhook

START = datetime(2026, 1, 1, 10, tzinfo=UTC)
CRISIS_INCIDENT = "northwind/skyline-air/20260102T110000Z"
STAGES = ("score", "detect", "sinks")  # the long-running workers, in pipeline order


def full() -> bool:
    """`make chaos` (SADA_CHAOS=full) runs every scenario at full length; `make test` the short ones."""
    return os.environ.get("SADA_CHAOS") == "full"


class DownableReceiver:
    """The alert destination: a real webhook receiver on a fixed port that can go away and
    come back, keeping what it received."""

    def __init__(self) -> None:
        first = Receiver().__enter__()
        self._receiver: Receiver | None = first
        self.url, self.received = first.url, first.received
        self.port = int(urlparse(first.url).port or 0)

    def down(self) -> None:
        assert self._receiver is not None
        self._receiver.__exit__()
        self._receiver = None

    def up(self) -> None:
        receiver = Receiver(self.port)
        receiver.received = self.received  # one record of deliveries across restarts
        self._receiver = receiver.__enter__()

    def close(self) -> None:
        if self._receiver is not None:
            self.down()


@dataclass
class Run:
    """A pipeline on the chaos services, with its stream and what it must produce."""

    settings: Settings
    log_dir: Path
    receiver: DownableReceiver
    stream_file: Path
    expected_documents: int
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ingest: subprocess.Popen[bytes] | None = None

    def start(self, stage: str) -> None:
        options = () if stage == "sinks" else ("--stage", stage)
        command = "sinks" if stage == "sinks" else "process"
        self.workers[stage] = spawn(command, self.settings, self.log_dir, *options)

    def kill(self, stage: str) -> None:
        """SIGKILL: no shutdown, no last commit, buffers lost."""
        self.workers[stage].kill()
        self.workers[stage].wait()

    def stream(self, rate: float, *extra_files: Path) -> None:
        """Start `sada ingest` replaying the stream file (and `extra_files` first) at `rate`/s."""
        files = [*extra_files, self.stream_file]
        joined = self.log_dir / "ingest.jsonl"
        with joined.open("wb") as out:
            for path in files:
                with path.open("rb") as part:
                    while chunk := part.read(1 << 20):
                        out.write(chunk)
        self.ingest = spawn(
            "ingest",
            self.settings,
            self.log_dir,
            "--source",
            "replay",
            "--set",
            f"path={joined}",
            "--set",
            f"rate_per_second={rate}",
            "--once",
        )

    def position(self, stage: str) -> tuple[int, int]:
        """(records committed, records there are) for the stage's consumer group."""
        group, topic = {
            "score": (self.settings.processor_group("score"), topics.RAW),
            "detect": (self.settings.processor_group("detect"), topics.SCORED),
            "sinks": (self.settings.group("index-mentions"), topics.SCORED),
        }[stage]
        admin = KafkaAdminClient(**connect.kafka_python(self.settings))
        try:
            offsets = admin.list_group_offsets({group: None}).get(group, {})
        finally:
            admin.close()
        name = self.settings.topic(topic)
        committed = sum(max(m.offset, 0) for tp, m in offsets.items() if tp.topic == name)
        return committed, end_offsets(self.settings, topic)

    def produced(self) -> int:
        return end_offsets(self.settings, topics.RAW)

    def caught_up(self) -> bool:
        ingest_done = self.ingest is not None and self.ingest.poll() is not None
        return (
            ingest_done
            and backlog(self.settings, split=True) == 0
            and self.indexed() == self.expected_documents
        )

    def indexed(self) -> int:
        index = self.settings.mentions_index
        httpx.post(f"{self.settings.es_url}/{index}/_refresh", timeout=30)
        response = httpx.get(f"{self.settings.es_url}/{index}/_count", timeout=30)
        return int(response.json()["count"]) if response.status_code == 200 else 0

    def wait_caught_up(self, since: float, timeout: float) -> float:
        """Seconds from `since` until every stage caught up; fails with where things stood, and
        how the lags moved on the way (still draining slowly, or stuck)."""
        deadline = time.monotonic() + timeout
        note_at = time.monotonic()
        trail: list[str] = []  # every 15 s: seconds since `since`, and the lags then
        while time.monotonic() < deadline:
            for stage, worker in self.workers.items():
                assert worker.poll() is None, (
                    f"{stage} exited ({worker.returncode}); logs in {self.log_dir}"
                )
            try:
                if self.caught_up():
                    return time.monotonic() - since
                if time.monotonic() >= note_at:
                    note_at += 15
                    lagging = {k: v for k, v in lags(self.settings, split=True).items() if v}
                    trail.append(f"{time.monotonic() - since:.0f}s {lagging}")
            except Exception:  # a service still coming back: ask again
                pass
            time.sleep(1.0)
        for stage, worker in self.workers.items():
            if stage != "sinks":  # a Faust worker: its tasks' stacks to its log
                worker.send_signal(signal.SIGUSR1)
        time.sleep(2)
        raise AssertionError(
            f"not caught up within {timeout:.0f}s: lags {lags(self.settings, split=True)}, "
            f"by partition {self.partition_lags()}, indexed {self.indexed()} of "
            f"{self.expected_documents}, ingest "
            f"{'running' if self.ingest and self.ingest.poll() is None else 'done'}; "
            f"lags on the way: {'; '.join(trail[-12:])}; logs in {self.log_dir}"
        )

    def partition_lags(self) -> dict[str, dict[int, int]]:
        """Where each lagging consumer group stands, by partition."""
        admin = KafkaAdminClient(**connect.kafka_python(self.settings))
        consumer = KafkaConsumer(**connect.kafka_python(self.settings), enable_auto_commit=False)
        try:
            found = {
                group: partition_lags(admin, consumer, group, self.settings.topic(topic))
                for stage in STAGES
                for group, topic in consumed(self.settings, stage)
            }
            return {group: lag for group, lag in found.items() if any(lag.values())}
        finally:
            consumer.close()
            admin.close()


@dataclass(frozen=True)
class Outcome:
    produced: int
    indexed: int
    distinct_ids: int
    incidents: int
    deliveries: int
    recovery_seconds: float

    def row(self, scenario: str) -> str:
        return (
            f"CHAOS {scenario}: produced {self.produced} / indexed {self.indexed} / distinct ids "
            f"{self.distinct_ids} / incidents {self.incidents} / deliveries {self.deliveries} / "
            f"recovery {self.recovery_seconds:.1f}s"
        )


def write_stream(path: Path, count: int) -> tuple[list[Mention], Path]:
    mentions = list(synthetic.generate(synthetic.Config(count=count, start=START)))
    path.write_text("".join(m.model_dump_json() + "\n" for m in mentions), encoding="utf-8")
    return mentions, path


def expected_documents(mentions: list[Mention], config_path: Path) -> int:
    """Scored records the pure steps make of `mentions`: one document each."""
    matcher = build_matcher(load_config(config_path))
    deduper = Deduper()
    return sum(len(process(m, matcher, deduper)) for m in mentions)


@contextlib.contextmanager
def pipeline(base: Settings, tmp_path: Path, *, count: int) -> Iterator[Run]:
    """Topics, a webhook receiver, the workers; the run, stopped and cleaned up afterwards."""
    settings = base.model_copy(update={"namespace": f"chaos{os.urandom(4).hex()}"})
    receiver = DownableReceiver()
    config = config_with_webhook(receiver.url, tmp_path / "config.yaml")
    settings = settings.model_copy(update={"config_path": config, "cache_dir": tmp_path / "cache"})
    mentions, stream_file = write_stream(tmp_path / "stream.jsonl", count)
    ensure_topics(settings)
    run = Run(settings, tmp_path, receiver, stream_file, expected_documents(mentions, config))
    try:
        for stage in STAGES:
            run.start(stage)
        yield run
    finally:
        stop([*run.workers.values(), *([run.ingest] if run.ingest else [])])
        receiver.close()


def verify(run: Run, recovery: float) -> Outcome:
    """The checks every scenario shares; returns the figures for the report."""
    es = run.settings.es_url
    hits = httpx.post(
        f"{es}/{run.settings.mentions_index}/_search",
        json={"size": 10_000, "_source": False, "track_total_hits": True},
        timeout=30,
    ).json()["hits"]
    ids = [hit["_id"] for hit in hits["hits"]]
    indexed = int(hits["total"]["value"])
    assert len(set(ids)) == indexed == run.expected_documents, (
        len(set(ids)),
        indexed,
        run.expected_documents,
    )

    httpx.post(f"{es}/{run.settings.alerts_index}/_refresh", timeout=30)
    stored = httpx.post(
        f"{es}/{run.settings.alerts_index}/_search", json={"size": 1000}, timeout=30
    ).json()["hits"]["hits"]
    incidents = {hit["_source"]["id"] for hit in stored}
    assert incidents == {CRISIS_INCIDENT}, incidents  # one incident, the planted crisis

    # A step is what it says (as sinks/alerts.py knows it): an incident that escalates again to
    # a new window or severity is a new step, the same step sent twice is a duplicate.
    steps = Counter(
        (a["id"], a["status"], a["severity"], a["window_end"]) for a in run.receiver.received
    )
    assert steps, "no alert was delivered"
    assert all(n == 1 for n in steps.values()), f"an alert step was delivered twice: {steps}"
    assert {a["id"] for a in run.receiver.received} == incidents
    assert all(lag == 0 for lag in lags(run.settings, split=True).values())
    return Outcome(
        produced=run.produced(),
        indexed=indexed,
        distinct_ids=len(set(ids)),
        incidents=len(incidents),
        deliveries=sum(steps.values()),
        recovery_seconds=recovery,
    )


def _pid(pid_file: Path) -> int:
    return int(pid_file.read_text())


def stop_broker(settings: Settings) -> None:
    services.stop_kafka(settings)


def start_broker(settings: Settings) -> None:
    services.start_kafka(settings)


def signal_elasticsearch(settings: Settings, sig: signal.Signals) -> None:
    """SIGSTOP / SIGCONT the chaos node's whole process group (the JVM and its launcher)."""
    pid = _pid(services.Paths.for_settings(settings).es_node / "elasticsearch.pid")
    os.killpg(os.getpgid(pid), sig)


def flood_stage(settings: Settings, on: bool) -> None:
    """Make the node believe its disk is full (free space under a 1 TB flood-stage watermark):
    Elasticsearch itself puts the read-only-allow-delete block on every index, as on a real
    full disk. Off: the watermarks back to their defaults, and the block lifted."""
    value = "1tb" if on else None
    body = {
        "persistent": {
            "cluster.routing.allocation.disk.threshold_enabled": True if on else None,
            "cluster.routing.allocation.disk.watermark.low": value,
            "cluster.routing.allocation.disk.watermark.high": value,
            "cluster.routing.allocation.disk.watermark.flood_stage": value,
            "cluster.info.update.interval": "10s" if on else None,  # its least
        }
    }
    httpx.put(f"{settings.es_url}/_cluster/settings", json=body, timeout=30).raise_for_status()
    if not on:
        httpx.put(
            f"{settings.es_url}/{settings.namespace}-*/_settings",
            json={"index.blocks.read_only_allow_delete": None},
            timeout=30,
        ).raise_for_status()


def blocked(settings: Settings) -> bool:
    """Whether Elasticsearch has put the flood-stage block on the mentions index."""
    response = httpx.get(
        f"{settings.es_url}/{settings.mentions_index}/_settings/index.blocks.*", timeout=30
    )
    return "read_only_allow_delete" in response.text
