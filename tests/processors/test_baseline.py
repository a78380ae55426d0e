"""The seasonal baseline: learns a level and a daily shape, tests counts on a variance-stable scale."""

from __future__ import annotations

from datetime import UTC, datetime

from processors.baseline import (
    Baseline,
    Rates,
    expected,
    interval,
    learn,
    renormalise,
    slots,
    zscore,
)

HOUR = 3600
START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # Monday 00:00 UTC
RATES = Rates.of(
    300, level_half_life_hours=6, seasonal_half_life_cycles=4, spread_half_life_hours=24, clip_z=4
)


def train(base: Baseline, counts: list[float], first: int = START) -> None:
    for i, count in enumerate(counts):
        start = first + i * 300
        if start % HOUR == 0:
            renormalise(base)
        learn(base, start, count, RATES)


def test_slots_are_utc_hour_and_monday_based_weekday() -> None:
    assert slots(START) == (0, 0)
    assert slots(START + 6 * 86_400 + 13 * HOUR) == (13, 6)


def test_rates_follow_time_not_buckets() -> None:
    fine = Rates.of(
        60,
        level_half_life_hours=6,
        seasonal_half_life_cycles=4,
        spread_half_life_hours=24,
        clip_z=4,
    )
    # five one-minute steps forget as much as one five-minute step
    assert abs((1 - fine.level) ** 5 - (1 - RATES.level)) < 1e-9


def test_constant_level_is_learned() -> None:
    base = Baseline()
    train(base, [40.0] * 600)
    assert abs(expected(base, START + 600 * 300) - 40.0) < 1.0


def test_daily_shape_is_learned() -> None:
    base = Baseline()
    day = [5.0 if (i * 300 // HOUR) % 24 < 12 else 50.0 for i in range(288)]
    train(base, day * 7)
    night, noon = (
        expected(base, START + 7 * 86_400 + 3 * HOUR),
        expected(base, START + 7 * 86_400 + 15 * HOUR),
    )
    assert night < 15 and noon > 35


def test_spike_is_winsorised_out_of_the_baseline() -> None:
    base = Baseline()
    train(base, [40.0] * 600)
    before = base.level
    z = learn(base, START + 600 * 300, 4000.0, RATES)
    assert z > 50
    assert base.level < before * 1.2


def test_zscore_is_count_aware() -> None:
    base = Baseline()
    assert zscore(base, 4, 1) < 3  # small counts: 1 -> 4 is not extreme
    assert zscore(base, 400, 100) > 15  # large counts: the same ratio is
    low, high = interval(base, 100.0, 4.0)
    assert low < 100 < high and low > 55 and high < 160
