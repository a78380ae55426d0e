"""Ingest throughput into the real local Kafka: the replay source, and each source's parser
feeding the producer (parse + produce), in mentions per second of wall time and per CPU second.

Starts the local services if they are not running; writes to a namespace of its own.

    python -m bench.bench_ingest_kafka [--count 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_ingest_parsing import pages
from core.config import Settings
from core.events import Mention
from ingest import replay, synthetic
from ingest.parsing import Item
from ingest.producer import KafkaEmitter
from ingest.runner import Job, run
from sada import services
from sada.cli import quiet_gc
from sada.topics import delete_namespace, ensure_topics
from tests.ingest.support import PARSERS

TARGET = 20_000


def timed(work: Callable[[], int]) -> tuple[float, float]:
    """(items per wall second, items per CPU second of the whole process, producer thread too)."""
    wall, cpu = time.perf_counter(), time.process_time()
    items = work()
    return items / (time.perf_counter() - wall), items / (time.process_time() - cpu)


def replay_into_kafka(emitter: KafkaEmitter, path: Path) -> int:
    """The replay source through the runner, into the producer made before (as below)."""
    job = Job("replay", replay.SOURCE, replay.Config(path=path))
    return asyncio.run(run([job], emitter, once=True))["replay"].mentions


def parse_and_produce(
    emitter: KafkaEmitter, parse: Callable[[bytes], list[Item]], page: bytes, count: int
) -> int:
    """Until Kafka acknowledged `count` mentions: the producer is made (and its idempotence id
    fetched) before, as a running source's is."""
    produced = 0
    while produced < count:
        for item in parse(page):
            if isinstance(item, Mention):
                emitter.mention("bench", item)
                produced += 1
    emitter.flush()
    return produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="mentions per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per row (median)")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    args = parser.parse_args()
    base = Settings.from_env()
    services.up(base)
    settings = base.model_copy(update={"namespace": f"bench-{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mentions.jsonl"
            stream = synthetic.generate(
                synthetic.Config(count=args.count, start=datetime(2026, 1, 1, tzinfo=UTC))
            )
            path.write_text("".join(m.model_dump_json() + "\n" for m in stream), encoding="utf-8")
            emitter = KafkaEmitter(settings)
            emitter.mention("bench", next(iter(synthetic.generate(synthetic.Config(count=1)))))
            emitter.flush()
            quiet_gc()  # as `sada ingest` runs its sources
            print(f"{'what':<28}{'mentions/s':>12}{'per CPU s':>12}  vs target {TARGET:,}/s")
            print(f"{'':<28}(median of {args.rounds} rounds of {args.count:,})")
            rows: dict[str, Callable[[], int]] = {
                "replay file -> Kafka": functools.partial(replay_into_kafka, emitter, path)
            }
            for source, page in pages().items():
                if args.source and source not in args.source:
                    continue
                rows[f"{source} parse -> Kafka"] = functools.partial(
                    parse_and_produce, emitter, PARSERS[source], page, args.count
                )
            for name, work in rows.items():
                runs = sorted(timed(work) for _ in range(args.rounds))
                wall, cpu = runs[len(runs) // 2]
                verdict = "ok" if wall >= TARGET else "BELOW"
                print(f"{name:<28}{wall:>12,.0f}{cpu:>12,.0f}  {verdict}")
            emitter.close()
    finally:
        delete_namespace(settings)


if __name__ == "__main__":
    main()
