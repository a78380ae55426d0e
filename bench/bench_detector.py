"""Detector throughput on one core: mentions/s across many brands (`python -m bench.bench_detector`).

Every mention is tested (no warm-up) and buckets close often (about one mention per brand
per bucket), the costly case. Two figures: the pure update on live states, and the update
with the state read from and written back to a plain dict, as the Faust agent does with its
table (the JSON encoding of the changelog itself is Faust's and not counted).
"""

from __future__ import annotations

import argparse
import random
import time

from core.config import DetectionConfig
from processors.detect import Detector, Observation
from processors.detect_state import BrandState

WORDS = [f"word{i}" for i in range(500)]


def observations(brands: int, mentions: int, minutes: float, seed: int = 1) -> list[Observation]:
    rng = random.Random(seed)
    start = 1_767_225_600.0  # 2026-01-01 UTC
    step = minutes * 60 / mentions
    return [
        Observation(
            client="bench",
            brand=f"brand{rng.randrange(brands)}",
            at=start + i * step,
            negative=rng.random() < 0.15,
            uid=f"m{i}",
            url=f"https://example.org/{i}",
            author=f"user{rng.randrange(50_000)}",
            reach=int(rng.paretovariate(1.2) * 100),
            terms=tuple(rng.sample(WORDS, 6)),
        )
        for i in range(mentions)
    ]


def run(stream: list[Observation], *, round_trip: bool) -> float:
    """Mentions per second through `Detector.add`, optionally with the table round trip."""
    detector = Detector(DetectionConfig(warmup_hours=0))
    states: dict[str, BrandState] = {}
    table: dict[str, dict[str, object]] = {}
    began = time.perf_counter()
    if round_trip:
        for obs in stream:
            state = BrandState.from_dict(table.get(obs.brand))
            detector.add(state, obs)
            table[obs.brand] = state.to_dict()
    else:
        for obs in stream:
            live = states.get(obs.brand)
            if live is None:
                live = states[obs.brand] = BrandState()
            detector.add(live, obs)
    return len(stream) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=10_000)
    parser.add_argument("--mentions", type=int, default=300_000)
    parser.add_argument("--minutes", type=float, default=30.0, help="Event time the stream spans.")
    args = parser.parse_args()
    stream = observations(args.brands, args.mentions, args.minutes)
    print(f"{args.mentions:,} mentions, {args.brands:,} brands, {args.minutes:g} min of event time")
    print(f"detector updates: {run(stream, round_trip=False):,.0f} mentions/s")
    print(f"with state dict round trip: {run(stream, round_trip=True):,.0f} mentions/s")


if __name__ == "__main__":
    main()
