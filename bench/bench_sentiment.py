"""Sentiment + triage throughput on one core, batched, and the model's load time, per backend.

    python bench/bench_sentiment.py [--mentions N] [--e5-mentions N] [--batch B]

Mentions are the project's own labelled triage set (Arabic dialects, Arabizi, English, French),
each made unique with a random handle and a number so nothing can be served from a cache. The
time counted is CPU seconds of this process (pinned to one core, BLAS threads off), so other work
on the machine does not distort it. As in the pipeline, each mention's language is detected once
beforehand (the pipeline stores it on every record; its rate is printed apart), and triage reuses
the sentiment model's features. Targets (the default, linear backend): >= 20,000
mentions/s and a load under 2 s. The e5 backend is measured too, on fewer mentions: it is
about 500 times slower.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from core.config import SentimentBackend  # noqa: E402

LABELLED = Path(__file__).parents[1] / "tests" / "data" / "triage_labelled.jsonl"


def _mentions(count: int, rng: random.Random) -> list[str]:
    texts = [json.loads(line)["text"] for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    return [
        f"@user{rng.randrange(10**6)} {rng.choice(texts)} {rng.randrange(1000)}"
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--e5-mentions", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    _run("linear", args.mentions, args.batch)
    _run("e5", args.e5_mentions, args.batch)


def _run(backend: SentimentBackend, count: int, batch_size: int) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    from processors.language import detect_language
    from processors.sentiment import load_scorer, score
    from processors.sentiment.scorer import score_with_features
    from processors.triage import triage_batch

    model = load_scorer(backend)
    score(["warm up"], model=model)  # the e5 encoder loads on first use
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu

    mentions = _mentions(count, random.Random(5))
    score(mentions[:batch_size], model=model)  # warm the allocator, as a running worker would be
    cpu = time.process_time()
    languages = [detect_language(mention) for mention in mentions]
    detecting = time.process_time() - cpu
    cpu = time.process_time()
    labels = []
    for start in range(0, len(mentions), batch_size):
        batch = slice(start, start + batch_size)
        sentiments, features = score_with_features(mentions[batch], model=model)
        triaged = triage_batch(mentions[batch], sentiments, languages[batch], features)
        labels += [label for label, _ in triaged]
    elapsed = time.process_time() - cpu

    print(f"[{backend}] model load and first call: {load_wall:.2f} s wall, {load_cpu:.2f} s CPU")
    print(
        f"[{backend}] sentiment + triage: {len(labels):,} mentions in {elapsed:.2f} CPU s = "
        f"{len(labels) / elapsed:,.0f} mentions/s on one core (batch {batch_size})"
    )
    if count:
        print(f"language detection (the pipeline's, not counted): {count / detecting:,.0f}/s")


if __name__ == "__main__":
    main()
