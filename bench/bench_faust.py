"""The floor Faust puts under a stage (`python -m bench.bench_faust`).

A Faust worker with the processors' own app settings and transport (`processors.app`) runs one
agent that only forwards records from one topic to another: no parsing, no work. `--count`
raw mentions are put on the input first; the rate is from the first forwarded record to the
last, with the worker's CPU over that span. Two agents: `each` (a send per event, as the
detect agent) and `batch` (`take_events` of 500, as the score agent); and, for comparison, `plain`:
the same forwarding with a librdkafka consumer and producer and no Faust.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer, TopicPartition

from bench.bench_latency import cpu_seconds
from core import connect, topics
from core.config import Settings
from ingest import synthetic
from sada import services
from sada.topics import delete_namespace, ensure_topics
from sada.workers import stop

MODES = ("each", "batch", "plain")


def worker(mode: str) -> None:
    """Run the forwarding agent until stopped (in the spawned process)."""
    import uvloop
    from faust import Worker

    from processors.app import _faust_app, _raw_topic

    settings = Settings.from_env()
    app = _faust_app(settings, f"{settings.namespace}-forward")
    source = _raw_topic(app, settings, topics.RAW)
    target = _raw_topic(app, settings, topics.SCORED)

    @app.agent(source, concurrency=1)
    async def forward(stream: Any) -> None:
        if mode == "each":
            async for event in stream.events():
                await target.send(key=event.key, value=event.value)
        else:
            async for events in stream.take_events(500, within=0.02):
                for event in events:
                    await target.send(key=event.key, value=event.value)

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def plain_forward() -> None:
    """The same forwarding without Faust: a librdkafka consumer and producer in batches,
    offsets committed after the batch is acknowledged (in the spawned process)."""
    settings = Settings.from_env()
    consumer = Consumer(
        {
            **connect.confluent(settings),
            "group.id": f"{settings.namespace}-plain",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({**connect.confluent(settings), "acks": "all", "linger.ms": 50})
    consumer.subscribe([settings.topic(topics.RAW)])
    target = settings.topic(topics.SCORED)
    while True:
        messages = consumer.consume(500, timeout=0.02)
        for message in messages:
            if message.error() is None:
                producer.produce(target, message.value(), message.key())
        if messages:
            producer.flush()
            consumer.commit(asynchronous=False)


def _forwarded(consumer: KafkaConsumer, parts: list[TopicPartition]) -> int:
    return sum(consumer.end_offsets(parts).values())


def measure(base: Settings, mode: str, count: int) -> tuple[float, float]:
    """(records forwarded per second, share of a core the worker used meanwhile)."""
    settings = base.model_copy(update={"namespace": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    work = Path(tempfile.mkdtemp(prefix="sada-bench-faust-"))
    producer = Producer({**connect.confluent(settings), "linger.ms": 20})
    values = [m.to_bytes() for m in synthetic.generate(synthetic.Config(count=1000))]
    for index in range(count):
        producer.produce(settings.topic(topics.RAW), values[index % 1000], str(index).encode())
        if index % 1000 == 0:
            producer.poll(0)
    producer.flush()
    consumer = KafkaConsumer(**connect.kafka_python(settings))
    name = settings.topic(topics.SCORED)
    parts = [TopicPartition(name, p) for p in range(settings.partitions(topics.SCORED))]
    env = {**os.environ, **settings.model_copy(update={"cache_dir": work}).to_env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_faust", "--worker", mode],
        env=env,
        stdout=(work / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        while (done := _forwarded(consumer, parts)) == 0:
            time.sleep(0.05)
        first, cpu = time.monotonic(), cpu_seconds(proc.pid)
        while (done := _forwarded(consumer, parts)) < count:
            time.sleep(0.05)
        seconds = time.monotonic() - first
        used = (cpu_seconds(proc.pid) - cpu) / seconds
    finally:
        stop([proc])
        consumer.close()
        delete_namespace(settings)
    return done / seconds, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="records forwarded")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "plain":
        plain_forward()
    elif args.worker:
        worker(args.worker)
        return
    base = Settings.from_env()
    services.up(base)
    for mode in MODES:
        rate, used = measure(base, mode, args.count)
        what = "librdkafka loop, no Faust" if mode == "plain" else f"Faust agent, {mode}"
        print(f"forward ({what}): {rate:,.0f} records/s, {used:.0%} of a core")


if __name__ == "__main__":
    main()
