"""bench_spikes: the leave-one-series-out choice, NAB's normalisation and the synthetic bench."""

from __future__ import annotations

from bench.bench_spikes import (
    SIZES,
    SYNTHETIC,
    Fold,
    bench_synthetic,
    configurations,
    leave_one_out,
    nab_score,
    synthetic,
)
from core.config import DetectionConfig


def test_nab_score_is_zero_for_nothing_and_100_for_every_window_at_once() -> None:
    nothing, perfect = Fold(-3.0, 0, 3, 0, 1.0), Fold(2.0, 2, 2, 0, 1.0)
    assert nab_score([nothing]) == 0.0 and nab_score([perfect]) == 100.0
    assert nab_score([nothing, perfect]) == 40.0  # pooled over windows, not averaged


def test_each_fold_is_scored_with_the_configuration_best_on_the_others() -> None:
    configs = configurations({"open_z": (6.0, 7.0)})
    assert configs == [{"open_z": 6.0}, {"open_z": 7.0}]
    good, bad = Fold(1.0, 1, 1, 0, 1.0), Fold(-1.0, 0, 1, 0, 1.0)
    table = [[good, good, bad], [bad, good, good]]  # table[config][series]
    chosen = leave_one_out(["a", "b", "c"], configs, table)
    assert chosen == [
        ("a", {"open_z": 7.0}, bad),  # b and c prefer 7, which misses a
        ("b", {"open_z": 6.0}, good),  # a and c: a tie, the first configuration
        ("c", {"open_z": 6.0}, bad),  # a and b prefer 6, which misses c
    ]


def test_synthetic_series_plant_every_size_away_from_shift_and_holiday() -> None:
    series = synthetic("medium", 2, base=40.0)
    assert sorted(series.spikes.values()) == sorted(SIZES)
    assert len(series.values) == 35 * 288 and min(series.values) >= 0
    assert series == synthetic("medium", 2, base=40.0)  # seeded: the bench is repeatable


def test_defaults_catch_the_largest_spikes_without_false_alarms() -> None:
    """Seasonality, a trend, a lasting level shift and a holiday raise nothing; a 21x burst is
    heard on every series, from 400 mentions a bucket down to 1.5."""
    config = DetectionConfig(bucket_seconds=300)
    for name, seed, base in SYNTHETIC:
        caught, false, weeks = bench_synthetic(synthetic(name, seed, base=base), config)
        assert false == 0 and weeks > 3, name
        assert 21.0 in caught, name
