"""End to end at the speed of the store (`python -m bench.bench_e2e`).

`--count` varied mentions of 1,000 brands (an hour of event time) are put on the raw topic of
a namespace of its own; then the documented workers start on the running services, each its
own process: `sada process --stage score`, `sada process --stage detect` and `sada sinks`.
The clock runs from their start until Elasticsearch holds every scored document (all three
consumer groups caught up, the count no longer growing). The same documents are then read
back and bulk-indexed from one Python client into a fresh index of the same template: the
store's own rate. Prints both, their ratio (the target is at least 0.5), and each worker's
CPU (share of a core) and peak memory.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from elasticsearch import Elasticsearch, helpers

from bench.bench_latency import chatter, cpu_seconds, fake_mention, peak_memory_mb, write_config
from core import connect, topics
from core.config import Settings
from sada import services
from sada.topics import delete_namespace, ensure_topics, lags
from sada.workers import spawn, stop
from sinks.elasticsearch import group_alias, monthly_index

TARGET = 0.5
BRANDS = 1000


def _fill_raw(settings: Settings, count: int) -> None:
    rng = random.Random(7)
    producer = Producer({**connect.confluent(settings), "acks": "all", "linger.ms": 20})
    start = datetime.now(UTC) - timedelta(hours=1)
    raw = settings.topic(topics.RAW)
    for index in range(count):
        at = start + timedelta(seconds=3600 * index / count)
        mention = fake_mention(chatter(f"load{rng.randrange(BRANDS):04d}", rng), at, rng)
        producer.produce(raw, key=mention.uid.encode(), value=mention.to_bytes())
        if index % 1000 == 0:
            producer.poll(0)
    producer.flush()


def _count(es: Elasticsearch, alias: str) -> int:
    es.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    found = es.count(index=alias, ignore_unavailable=True, allow_no_indices=True)
    return int(found["count"])


def end_to_end(settings: Settings, work: Path, es: Elasticsearch) -> tuple[int, float, str]:
    """(documents indexed, seconds from the workers' start to the last one, worker usage)."""
    alias = group_alias(settings.namespace, "mentions")
    specs = [("process", "--stage", "score"), ("process", "--stage", "detect"), ("sinks",)]
    procs = []
    for stage, *options in specs:
        own = work / "-".join([stage, *options]).replace("--stage-", "")
        own.mkdir()
        procs.append(spawn(stage, settings.model_copy(update={"cache_dir": own}), own, *options))
    began = time.monotonic()
    try:
        documents, last_growth, checked = 0, began, began
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            if (count := _count(es, alias)) > documents:
                documents, last_growth = count, now
            if now - last_growth > 3 and now - checked > 3:
                checked = now
                if not any(lags(settings, split=True).values()) and _count(es, alias) == documents:
                    break
            if now - began > 1800:
                raise SystemExit("the workers did not catch up within 30 minutes")
        seconds = last_growth - began
        usage = "; ".join(
            f"{' '.join([stage, *options])}: {cpu_seconds(p.pid) / seconds:.0%} of a core, "
            f"peak {peak_memory_mb(p.pid):.0f} MB"
            for (stage, *options), p in zip(specs, procs, strict=True)
        )
    finally:
        stop(procs)
    return documents, seconds, usage


def stored_bytes(settings: Settings, es: Elasticsearch) -> float:
    """Bytes on disk per indexed document (primaries, after a force merge): for sizing."""
    alias = group_alias(settings.namespace, "mentions")
    es.indices.forcemerge(index=alias, max_num_segments=1)
    stats = es.indices.stats(index=alias, metric=["store", "docs"])["_all"]["primaries"]
    return float(stats["store"]["size_in_bytes"]) / max(int(stats["docs"]["count"]), 1)


def bulk_rate(settings: Settings, es: Elasticsearch) -> float:
    """Documents per second bulk-indexing the indexed documents again from one client."""
    alias = group_alias(settings.namespace, "mentions")
    docs: list[dict[str, Any]] = [
        {"_id": hit["_id"], "_source": hit["_source"]}
        for hit in helpers.scan(es, index=alias, size=5000)
    ]
    fresh = monthly_index(settings.namespace, "mentions", "bulkcheck", datetime.now(UTC))
    es.indices.create(index=fresh)
    started = time.perf_counter()
    helpers.bulk(es, ({"_index": fresh, **doc} for doc in docs), chunk_size=500)
    es.indices.refresh(index=fresh)
    rate = len(docs) / (time.perf_counter() - started)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40_000, help="mentions replayed")
    args = parser.parse_args()
    base = Settings.from_env()
    services.up(base)
    work = Path(tempfile.mkdtemp(prefix="sada-bench-e2e-"))
    settings = base.model_copy(
        update={
            "namespace": f"bench{uuid.uuid4().hex[:8]}",
            "config_path": write_config(work / "config.yaml", 0, BRANDS),
        }
    )
    ensure_topics(settings)
    es = connect.elasticsearch(settings)
    try:
        _fill_raw(settings, args.count)
        documents, seconds, usage = end_to_end(settings, work, es)
        store = bulk_rate(settings, es)
        size = stored_bytes(settings, es)
    finally:
        made = es.indices.get(index=f"{settings.namespace}-*", allow_no_indices=True)
        if made:
            es.indices.delete(index=",".join(made))
        es.close()
        delete_namespace(settings)
    rate = documents / seconds
    print(f"{args.count:,} mentions -> {documents:,} documents in {seconds:.1f}s")
    print(f"end to end: {rate:,.0f} documents/s ({args.count / seconds:,.0f} mentions/s)")
    print(f"bulk from one client: {store:,.0f} documents/s")
    verdict = "ok" if rate / store >= TARGET else "BELOW"
    print(f"ratio: {rate / store:.2f} (target >= {TARGET}) {verdict}")
    print(f"workers: {usage}")
    print(f"stored: {size:,.0f} bytes per document (primaries, merged)")


if __name__ == "__main__":
    main()
