"""Spike detector quality: leave-one-series-out NAB scores and a synthetic bench (`python -m bench.bench_spikes`).

Leave-one-series-out on the NAB dev series (read from ../shared, never shipped): for each series,
the grid configuration with the best NAB score on the other four is chosen and scored on the one
left out, so every fold's figure is a score on a series its settings never saw. The synthetic
bench plants spikes in series with daily and weekly seasonality, a trend, level shifts that are
not incidents and holidays, and counts what was caught and the false alarms a week on the quiet
stretches (more than a day away from any planted spike).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from core.config import DetectionConfig
from sada.commands.backtest import Row, bucket_seconds, parse_time, read_series, run, summarise

SHARED = Path(__file__).resolve().parents[2] / "shared"
NAB_DEV = SHARED / "data" / "spikes" / "nab_realtweets_dev"
SCORER = SHARED / "tools" / "nab_score.py"
STANDARD = (1.0, 0.11, 1.0)  # NAB standard profile: tp, fp, fn weights
WEEK = 7 * 86_400

# The settings chosen by leave-one-series-out: every combination is run on every series.
GRID: dict[str, Sequence[float]] = {
    "open_z": (6.0, 7.0, 8.0),
    "memory_hours": (120.0, 240.0, 480.0),
    "drift_half_life_hours": (2.0, 4.0),
    "spread_half_life_hours": (24.0, 72.0, 168.0),
}


class Fold(NamedTuple):
    """One series' NAB figures under one configuration."""

    raw: float
    hit: int
    windows: int
    false_alarms: int
    quiet_weeks: float


def scorer(path: Path = SCORER) -> ModuleType:
    """The shared NAB scorer, loaded from its file so the bench scores exactly as it does."""
    spec = importlib.util.spec_from_file_location("nab_score", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fold(nab: ModuleType, rows: Sequence[Row], spans: list[list[str]]) -> Fold:
    """NAB's raw score and hits (after its probation) and the false alarms a quiet week
    as `sada backtest` counts them (alert rows outside every window, over the whole series)."""
    raw, hit, _, n = nab.score_series(
        [nab._key(r.timestamp) for r in rows], [bool(r.alert) for r in rows], spans, *STANDARD
    )
    summary = summarise(rows, [(parse_time(a), parse_time(b)) for a, b in spans])
    return Fold(raw, hit, n, summary.false_alerts, summary.quiet_weeks)


def nab_score(folds: Sequence[Fold]) -> float:
    """NAB's normalised score over `folds`: 0 detects nothing, 100 detects each window at once."""
    n = sum(f.windows for f in folds)
    return 100 * (sum(f.raw for f in folds) + n) / (2 * n) if n else 0.0


def configurations(grid: dict[str, Sequence[float]]) -> list[dict[str, float]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def evaluate(
    data: Path, grid: dict[str, Sequence[float]], nab: ModuleType
) -> tuple[list[str], list[dict[str, float]], list[list[Fold]]]:
    """Every grid configuration on every series: (series, configurations, folds[config][series])."""
    windows: dict[str, list[list[str]]] = json.loads((data / "windows.json").read_text())
    names = sorted(windows)
    series = {name: read_series(data / name) for name in names}
    configs = configurations(grid)
    table = []
    for overrides in configs:
        row = []
        for name in names:
            rows = series[name]
            config = DetectionConfig(bucket_seconds=bucket_seconds(rows), **overrides)  # type: ignore[arg-type]
            row.append(fold(nab, run(rows, name=name, config=config), windows[name]))
        table.append(row)
    return names, configs, table


def leave_one_out(
    names: list[str], configs: list[dict[str, float]], table: list[list[Fold]]
) -> list[tuple[str, dict[str, float], Fold]]:
    """For each series: the configuration best on the others, and its fold on that series."""
    out = []
    for held, name in enumerate(names):
        best = max(
            range(len(configs)),
            key=lambda c: nab_score([f for s, f in enumerate(table[c]) if s != held]),
        )
        out.append((name, configs[best], table[best][held]))
    return out


# -- the synthetic bench -----------------------------------------------------------------------

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


class Synthetic(NamedTuple):
    name: str
    values: list[float]
    spikes: dict[int, float]  # planted spike row -> its peak, in multiples of the usual count
    step: int  # seconds per row


SIZES = (2.0, 3.0, 5.0, 8.0, 13.0, 21.0)  # peak of a planted spike, x the usual count
SPIKE_DAYS = (6, 10, 15, 21, 26, 31)  # one spike somewhere in each of these days
SHIFT_DAY, HOLIDAY = 12.5, 18  # more than a day from every spike: their alerts are false


def synthetic(name: str, seed: int, *, base: float, days: int = 35, step: int = 300) -> Synthetic:
    """Poisson-gamma counts around `base` with a daily and weekly shape, a trend, a lasting
    level shift (x1.8), a holiday (a day at a third of the usual volume) and one spike of each
    of SIZES, in random order, decaying over 20-40 minutes."""
    rng = random.Random(seed)
    per_day = 86_400 // step
    n = days * per_day
    means = []
    for i in range(n):
        day, hour = divmod(i * step / 3600, 24)
        mean = base * (1 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24))
        mean *= 0.7 if day % 7 >= 5 else 1.0  # weekends
        mean *= 1 + 0.5 * i / n  # trend: half as much again by the end
        mean *= 1.8 if day >= SHIFT_DAY else 1.0  # a lasting change of level, not an incident
        mean *= 0.33 if int(day) == HOLIDAY else 1.0
        means.append(mean * rng.gammavariate(10.0, 0.1))  # over-dispersion
    spikes = dict(
        zip(
            (d * per_day + rng.randrange(per_day) for d in SPIKE_DAYS),
            rng.sample(SIZES, len(SIZES)),
            strict=True,
        )
    )
    for at, size in spikes.items():
        usual = means[at]
        for k in range(rng.randrange(4, 9)):
            means[at + k] += usual * (size - 1) * 0.7**k
    return Synthetic(name, [float(_poisson(rng, m)) for m in means], spikes, step)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def bench_synthetic(series: Synthetic, config: DetectionConfig) -> tuple[list[float], int, float]:
    """The sizes of the planted spikes caught (an alert within an hour of the start), and the
    false alarms on quiet stretches (more than a day from every spike, after the warm-up) with
    the weeks those stretches last."""
    at = [START + timedelta(seconds=i * series.step) for i in range(len(series.values))]
    rows = [Row(t.isoformat(), t, v) for t, v in zip(at, series.values, strict=True)]
    alerts = [i for i, r in enumerate(run(rows, name=series.name, config=config)) if r.alert]
    hour, day = 3600 // series.step, 86_400 // series.step
    warm = math.ceil(config.warmup_hours * 3600 / series.step)
    caught = sorted(
        size for s, size in series.spikes.items() if any(s <= a <= s + hour for a in alerts)
    )
    quiet = [i >= warm and all(abs(i - s) > day for s in series.spikes) for i in range(len(rows))]
    false = sum(1 for a in alerts if quiet[a])
    return caught, false, sum(quiet) * series.step / WEEK


SYNTHETIC: list[tuple[str, int, float]] = [
    ("busy", 1, 400.0),
    ("medium", 2, 40.0),
    ("small", 3, 6.0),
    ("tiny", 4, 1.5),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NAB_DEV, help="NAB series + windows.json.")
    parser.add_argument("--scorer", type=Path, default=SCORER, help="nab_score.py")
    args = parser.parse_args(argv)
    print("== synthetic series, default configuration (5-minute buckets)")
    config = DetectionConfig(bucket_seconds=300)
    for name, seed, base in SYNTHETIC:
        s = synthetic(name, seed, base=base)
        caught, false, weeks = bench_synthetic(s, config)
        sizes = ", ".join(f"{x:g}x" for x in caught) or "none"
        print(
            f"{name:8} {base:6g} a bucket: spikes caught {len(caught)}/{len(s.spikes)} ({sizes}); "
            f"false alarms {false} in {weeks:.1f} quiet weeks ({false / weeks:.1f} a week)"
        )
    if not (args.data / "windows.json").exists() or not args.scorer.exists():
        print(f"== NAB leave-one-series-out skipped: {args.data} or {args.scorer} not found")
        return
    nab = scorer(args.scorer)
    names, configs, table = evaluate(args.data, GRID, nab)
    defaults = {k: getattr(DetectionConfig(), k) for k in GRID}
    mine = table[configs.index(defaults)] if defaults in configs else None
    print("== NAB standard profile, leave-one-series-out over", json.dumps(GRID))
    print(f"{'held out':28} {'chosen on the other four':40} {'NAB':>6} {'hit':>5} {'FP/wk':>6}")
    folds = []
    for name, chosen, f in leave_one_out(names, configs, table):
        folds.append(f)
        print(
            f"{name:28} {json.dumps(chosen):40} {nab_score([f]):6.1f} "
            f"{f.hit:>2}/{f.windows:<2} {f.false_alarms / f.quiet_weeks:6.1f}"
        )
    print(f"{'pooled held-out':69} {nab_score(folds):6.1f}")
    if mine is not None:
        print(f"defaults {json.dumps(defaults)} on all five (in-sample): {nab_score(mine):.1f}")
        for name, f in zip(names, mine, strict=True):
            print(
                f"  {name:28} {nab_score([f]):6.1f} {f.hit}/{f.windows} "
                f"FP {f.false_alarms} ({f.false_alarms / f.quiet_weeks:.1f}/week quiet)"
            )


if __name__ == "__main__":
    main()
