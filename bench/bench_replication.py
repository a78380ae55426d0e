"""What three copies of every record cost: replication factor 3 (min ISR 2) against 1, on the
local multi-node cluster (sada/cluster.py: three brokers on this machine), with acks=all.

Two figures, each for the same number of synthetic mentions in a namespace of its own per
replication factor, the factors measured in turns (`--rounds`) so a busy moment of the machine
does not favour one:
- ingest: the ingest producer (KafkaEmitter, librdkafka, acks=all, idempotent) from the first
  send until every record is acknowledged, in mentions/s;
- score stage: a `sada process --stage score` worker reading mentions.raw and writing
  mentions.scored (its writes and offset commits replicated too), from the first record
  produced until the worker has committed the last, in mentions/s; after a warm-up batch, so
  the worker's start is not counted.

Starts the cluster (as `sada cluster up` would, in SADA_CACHE_DIR) unless it runs.

    python -m bench.bench_replication [--count 50000] [--score-count 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from core import topics
from core.config import Settings
from core.events import Mention
from ingest import synthetic
from ingest.producer import KafkaEmitter
from sada import SAMPLE_CONFIG, cluster
from sada.topics import delete_namespace, ensure_topics, lag
from sada.workers import spawn, stop

FACTORS = (1, 3)
WARMUP = 500


def settings_for(layout: cluster.Layout, factor: int) -> Settings:
    """Settings on the cluster, in a fresh namespace, with `factor` copies (a write needs all but
    one of them, at least one)."""
    return Settings.from_env(
        {
            **os.environ,
            **layout.env(),
            "SADA_NAMESPACE": f"bench-rf{factor}-{uuid.uuid4().hex[:6]}",
            "SADA_CONFIG": os.environ.get("SADA_CONFIG", str(SAMPLE_CONFIG)),
            "SADA_KAFKA_REPLICATION_FACTOR": str(factor),
            "SADA_KAFKA_MIN_INSYNC_REPLICAS": str(max(factor - 1, 1)),
        }
    )


def produce(settings: Settings, mentions: list[Mention]) -> float:
    """Seconds to produce `mentions` and have every one acknowledged."""
    emitter = KafkaEmitter(settings)
    began = time.perf_counter()
    for mention in mentions:
        emitter.mention("bench", mention)
    emitter.close()
    return time.perf_counter() - began


def ingest_rate(layout: cluster.Layout, factor: int, mentions: list[Mention]) -> float:
    settings = settings_for(layout, factor)
    ensure_topics(settings)
    try:
        return len(mentions) / produce(settings, mentions)
    finally:
        delete_namespace(settings)


def score_rate(layout: cluster.Layout, factor: int, mentions: list[Mention], logs: Path) -> float:
    """Mentions/s from producing them to the score worker having committed them all."""
    settings = settings_for(layout, factor)
    ensure_topics(settings)
    worker = spawn("process", settings, logs, "--stage", "score")
    group = settings.processor_group("score")
    try:
        produce(settings, mentions[:WARMUP])
        while lag(settings, group, topics.RAW):
            assert worker.poll() is None, f"the score worker exited; log in {logs}"
            time.sleep(0.2)
        began = time.perf_counter()
        produce(settings, mentions[WARMUP:])
        while lag(settings, group, topics.RAW):
            assert worker.poll() is None, f"the score worker exited; log in {logs}"
            time.sleep(0.1)
        return (len(mentions) - WARMUP) / (time.perf_counter() - began)
    finally:
        stop([worker])
        delete_namespace(settings)


def _cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="mentions produced per run")
    parser.add_argument("--score-count", type=int, default=10_000, help="mentions scored per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each factor, in turns")
    args = parser.parse_args()
    layout = cluster.Layout()
    base = Settings.from_env({**os.environ, **layout.env()})
    began = time.monotonic()
    cluster.up(base, layout)
    print(
        f"cluster of {layout.brokers} brokers up (or already) in {time.monotonic() - began:.0f}s",
        flush=True,
    )
    mentions = list(
        synthetic.generate(
            synthetic.Config(
                count=max(args.count, args.score_count), start=datetime(2026, 1, 1, tzinfo=UTC)
            )
        )
    )
    ingest: dict[int, list[float]] = {f: [] for f in FACTORS}
    score: dict[int, list[float]] = {f: [] for f in FACTORS}
    logs = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    print(f"score workers log to {logs}")
    for _ in range(args.rounds):
        for factor in FACTORS:
            ingest[factor].append(ingest_rate(layout, factor, mentions[: args.count]))
            score[factor].append(score_rate(layout, factor, mentions[: args.score_count], logs))
    print(
        f"{'replication':<14}{'ingest mentions/s':>30}{'score stage mentions/s':>30}"
        f"   (median [min-max] of {args.rounds}; ingest {args.count:,}, score {args.score_count:,})"
    )
    for factor in FACTORS:
        isr = max(factor - 1, 1)
        print(
            f"{f'RF {factor}, ISR {isr}':<14}{_cell(ingest[factor]):>30}{_cell(score[factor]):>30}"
        )
    for name, rates in (("ingest", ingest), ("score stage", score)):
        cost = 1 - statistics.median(rates[3]) / statistics.median(rates[1])
        print(f"RF 3 costs {cost:.0%} of the {name} throughput of RF 1")


if __name__ == "__main__":
    main()
