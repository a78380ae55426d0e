"""SIGKILL a processor worker mid-stream and restart it, round after round, on real processes.

The stages run split (`sada process --stage score|detect`, `sada sinks`) against the real local
Kafka and Elasticsearch and a real webhook receiver. The synthetic stream (with its planted
crisis) is produced at a steady rate in as many parts as there are rounds; in each round the
victim stage is SIGKILLed halfway through its part, restarted at once (as a supervisor would),
the rest of the part keeps arriving, and the round ends when every lag is back to 0. A round
that does not catch up within its bound is a stall: it is recorded and the worker restarted once
more, so that a 10-round run says how many of its restarts stalled instead of stopping at the
first. Used by tests/processors/test_app_restart.py and the chaos suite (`make chaos`).
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from core import connect
from core.config import Settings, load_config
from core.events import Mention
from ingest import synthetic
from ingest.producer import KafkaEmitter
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process
from sada.receiver import Receiver
from sada.topics import backlog, ensure_topics, lags
from sada.workers import spawn, stop
from tests.conftest import config_with_webhook

START = datetime(2026, 1, 1, 10, tzinfo=UTC)
WARM_UP = 50  # mentions through the whole pipeline before the first kill: every worker is up
CRISIS_INCIDENT = "northwind/skyline-air/20260102T110000Z"  # the planted crisis's incident id
Counts = dict[tuple[str, float], dict[str, Any]]  # (client/brand, minute start) -> counts


def expected_counts(mentions: list[Mention], config_path: Path) -> tuple[Counts, int]:
    """Per-minute counts computed from the input by the pure steps, and the scored records."""
    matcher = build_matcher(load_config(config_path))
    deduper = Deduper()
    counts: Counts = {}
    records = 0
    for mention in mentions:
        for record in process(mention, matcher, deduper):
            records += 1
            minute = mention.created_at.timestamp() // 60 * 60
            entry = counts.setdefault(
                (record.key, minute),
                {"total": 0, "negative": 0, "source": Counter(), "language": Counter()},
            )
            entry["total"] += 1
            entry["negative"] += record.sentiment.label == "negative"
            entry["source"][mention.source] += 1
            entry["language"][record.language] += 1
    return {
        k: {**v, "source": dict(v["source"]), "language": dict(v["language"])}
        for k, v in counts.items()
    }, records


def changelog_counts(settings: Settings) -> Counts:
    """The counts table as its changelog holds it: the last value written for each key."""
    consumer = KafkaConsumer(
        f"{settings.group('processors')}-mention-counts-changelog",
        **connect.kafka_python(settings),
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        latest: Counts = {}
        for message in consumer:
            brand, (start, _end) = json.loads(message.key)
            value = json.loads(message.value)
            latest[(brand, start)] = {
                k: value[k] for k in ("total", "negative", "source", "language")
            }
        return latest
    finally:
        consumer.close()


@dataclass(frozen=True)
class Round:
    """One kill and restart: seconds from the restart until every lag was 0 (None: it stalled,
    and caught up only after one more restart)."""

    recovery_seconds: float | None


@dataclass(frozen=True)
class Outcome:
    rounds: list[Round]
    counts: Counts  # the counts table as its changelog ends
    expected: Counts  # the same computed from the input by the pure steps
    alerts: list[dict[str, Any]]  # every alert step the webhook received

    @property
    def stalls(self) -> int:
        return sum(r.recovery_seconds is None for r in self.rounds)

    def summary(self) -> str:
        took = ", ".join(
            "stalled" if r.recovery_seconds is None else f"{r.recovery_seconds:.1f}s"
            for r in self.rounds
        )
        return (
            f"{len(self.rounds) - self.stalls} of {len(self.rounds)} restarts without a stall; "
            f"recovery per round: {took}"
        )


def _catch_up(settings: Settings, since: float, seconds: float) -> float | None:
    """Seconds from `since` (monotonic) until every stage's lag is 0, or None if that takes
    longer than `seconds`."""
    while time.monotonic() - since < seconds:
        if backlog(settings, split=True) == 0:
            return time.monotonic() - since
        time.sleep(0.5)
    return None


def _produce(
    emitter: KafkaEmitter, mentions: list[Mention], rate: float, then: Callable[[int], None]
) -> None:
    """Produce `mentions` at `rate` per second, calling `then(i)` after the i-th."""
    began = time.monotonic()
    for i, mention in enumerate(mentions, 1):
        emitter.mention("synthetic", mention)
        then(i)
        if i % 10 == 0:
            emitter.flush()
            time.sleep(max(0.0, began + i / rate - time.monotonic()))
    emitter.flush()


def kill_and_restart_rounds(
    settings: Settings,
    log_dir: Path,
    rounds: int,
    *,
    stage: str = "detect",
    count: int = 2000,
    rate: float = 100.0,
    catch_up_seconds: float = 60.0,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run the pipeline on the synthetic stream of `count` mentions, SIGKILLing the `stage`
    worker (score or detect) halfway through each of `rounds` parts of it and restarting it."""
    stream = list(synthetic.generate(synthetic.Config(count=count, start=START)))
    part = -(-(count - WARM_UP) // rounds)
    with Receiver() as receiver:
        config_path = config_with_webhook(receiver.url, log_dir / "config.yaml")
        settings = settings.model_copy(update={"config_path": config_path})
        expected, _ = expected_counts(stream, config_path)
        ensure_topics(settings)
        cache = settings.model_copy(update={"cache_dir": log_dir / "cache"})
        workers = {s: spawn("process", cache, log_dir, "--stage", s) for s in ("score", "detect")}
        workers["sinks"] = spawn("sinks", cache, log_dir)
        emitter = KafkaEmitter(settings)
        results: list[Round] = []
        restarted = 0.0
        try:
            _produce(emitter, stream[:WARM_UP], rate, lambda i: None)
            if _catch_up(settings, time.monotonic(), catch_up_seconds) is None:
                raise AssertionError(f"the pipeline did not start: {lags(settings, split=True)}")
            for number in range(rounds):

                def kill_halfway(i: int) -> None:
                    nonlocal restarted
                    if i == part // 2:
                        workers[stage].kill()  # SIGKILL: no shutdown, no last commit
                        workers[stage].wait()
                        workers[stage] = spawn("process", cache, log_dir, "--stage", stage)
                        restarted = time.monotonic()

                begin = WARM_UP + number * part
                _produce(emitter, stream[begin : begin + part], rate, kill_halfway)
                recovery = _catch_up(settings, restarted, catch_up_seconds)
                if recovery is None:
                    behind = lags(settings, split=True)
                    log(f"round {number + 1}: stalled; not yet committed: {behind}")
                    workers[stage].send_signal(signal.SIGUSR1)  # every task's stack to its log
                    time.sleep(2)
                    stop([workers[stage]])
                    workers[stage] = spawn("process", cache, log_dir, "--stage", stage)
                    if _catch_up(settings, time.monotonic(), catch_up_seconds) is None:
                        raise AssertionError(f"{stage} did not catch up even after a restart")
                else:
                    log(f"round {number + 1}: caught up {recovery:.1f}s after the restart")
                results.append(Round(recovery))
            counts = changelog_counts(settings)
        finally:
            emitter.close()
            stop(list(workers.values()))
        return Outcome(results, counts, expected, list(receiver.received))
