"""What a brand's mention count should be right now: a seasonal baseline learned online.

Expected count per bucket = level x hour-of-day factor x day-of-week factor, each an
exponentially weighted average, so the model fits in 33 floats and learns as it goes.
Counts are compared on the Anscombe scale 2*sqrt(x + 3/8), where a Poisson count has unit
variance whatever its mean: one test serves 0.1 and 10,000 mentions per bucket. The spread
of the residuals is learned too (never below Poisson), which absorbs the overdispersion
of real mention streams; learning from winsorised counts keeps a spike out of its own
baseline while a lasting change of level is still followed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

_DAY = 86_400
_HOUR = 3_600
_FLOOR = 1e-6  # smallest level: keeps the seasonal ratios finite for silent brands
_MAD = 1.2533  # mean absolute deviation -> standard deviation, for a normal residual


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-bucket learning rates, from half-lives in time so every bucket size agrees."""

    level: float
    hour: float
    weekday: float
    spread: float
    clip: float  # residuals are winsorised at this many spreads before learning
    day: int  # buckets in a day: a shape is learned only once a whole cycle was seen

    @classmethod
    def of(
        cls,
        bucket_seconds: int,
        *,
        level_half_life_hours: float,
        seasonal_half_life_cycles: float,
        spread_half_life_hours: float,
        clip_z: float,
    ) -> Rates:
        def rate(updates_per_half_life: float) -> float:
            return 1.0 - 0.5 ** (1.0 / max(updates_per_half_life, 1.0))

        per_hour = _HOUR / bucket_seconds
        return cls(
            level=rate(level_half_life_hours * per_hour),
            hour=rate(seasonal_half_life_cycles * per_hour),  # a slot sees one hour a day
            weekday=rate(seasonal_half_life_cycles * 24 * per_hour),  # one day a week
            spread=rate(spread_half_life_hours * per_hour),
            clip=clip_z,
            day=max(1, round(24 * per_hour)),
        )


@dataclass(slots=True)
class Baseline:
    """Seasonal level of one brand's counts, and the spread of its residuals."""

    level: float = 0.0
    hour: list[float] = field(default_factory=lambda: [1.0] * 24)
    weekday: list[float] = field(default_factory=lambda: [1.0] * 7)
    spread: float = 1.0
    buckets: int = 0  # buckets learned from; drives the warm-up averaging

    def to_list(self) -> list[object]:
        return [self.level, self.hour, self.weekday, self.spread, self.buckets]

    @classmethod
    def from_list(cls, data: list[Any]) -> Baseline:
        level, hour, weekday, spread, buckets = data
        return cls(float(level), list(hour), list(weekday), float(spread), int(buckets))


def slots(start: int) -> tuple[int, int]:
    """Hour of day and day of week (Monday 0) of a bucket starting at epoch `start`, in UTC."""
    return start // _HOUR % 24, (start // _DAY + 3) % 7


def expected(base: Baseline, start: int) -> float:
    """Expected count of the bucket starting at `start`."""
    hour, day = slots(start)
    return base.level * base.hour[hour] * base.weekday[day]


def anscombe(count: float) -> float:
    return 2.0 * math.sqrt(count + 0.375)


def sigma(base: Baseline, buckets: int = 1) -> float:
    """Standard deviation of a residual on the Anscombe scale, for a sum over `buckets`.

    Poisson's 1 at least. Overdispersion (variance mu + alpha*mu^2) adds alpha*mu to the
    Anscombe variance, so it grows with the span summed: a 5-minute sum of 1-minute buckets
    is as noisy as one 5-minute bucket, and both bucket sizes agree on what is surprising.
    """
    one = max(1.0, _MAD * base.spread)
    return math.sqrt(1.0 + buckets * (one * one - 1.0)) if buckets > 1 else one


def zscore(base: Baseline, count: float, mean: float, buckets: int = 1) -> float:
    """How surprising `count` (summed over `buckets`) is against `mean`, in standard deviations."""
    return (anscombe(count) - anscombe(mean)) / sigma(base, buckets)


def interval(base: Baseline, mean: float, z: float, buckets: int = 1) -> tuple[float, float]:
    """Counts within `z` standard deviations of `mean`: what would not be surprising."""
    centre, half = anscombe(mean), z * sigma(base, buckets)
    low = max(0.0, centre - half)
    return max(0.0, (low / 2) ** 2 - 0.375), ((centre + half) / 2) ** 2 - 0.375


def learn(base: Baseline, start: int, count: float, rates: Rates) -> float:
    """Fold a closed bucket into the baseline; return its z-score against the old baseline."""
    mean = expected(base, start)
    z = zscore(base, count, mean) if base.buckets else 0.0
    clipped = max(-rates.clip, min(rates.clip, z))
    if clipped != z:  # winsorise: learn from the nearest unsurprising count
        count = max(0.0, ((anscombe(mean) + clipped * sigma(base)) / 2) ** 2 - 0.375)
    base.buckets += 1
    n = base.buckets
    hour, day = slots(start)
    if n > 1:
        a = max(rates.spread, 1.0 / n)
        base.spread += a * (abs(clipped) * sigma(base) - base.spread)
    season_h, season_d = base.hour[hour], base.weekday[day]
    a = max(rates.level, 1.0 / n)
    base.level = max(_FLOOR, base.level + a * (count / (season_h * season_d) - base.level))
    if n > rates.day:
        base.hour[hour] = season_h + rates.hour * (count / (base.level * season_d) - season_h)
    if n > 7 * rates.day:
        base.weekday[day] = season_d + rates.weekday * (count / (base.level * season_h) - season_d)
    return z


def renormalise(base: Baseline) -> None:
    """Keep the mean seasonal factor at 1 so the level stays the mean count per bucket."""
    for factors in (base.hour, base.weekday):
        mean = sum(factors) / len(factors)
        if mean > 0:
            base.level *= mean
            factors[:] = [max(f / mean, 0.01) for f in factors]
