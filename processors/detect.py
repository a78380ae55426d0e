"""Spike detection per brand: a pure state machine, usable outside Faust (tests, backtests).

This version counts mentions per time bucket and raises a volume alert when the current
bucket reaches `factor` x the mean of the previous buckets and at least `min_count`; a
cooldown keeps one incident to one alert. Evaluated on every mention, so the alert fires as
soon as the partial bucket crosses the line, not when it closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.config import DetectionConfig
from core.events import Alert, now


@dataclass
class BrandState:
    """Counts per bucket start (epoch seconds) and the event time of the last alert."""

    counts: dict[int, int] = field(default_factory=dict)
    last_alert_at: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"counts": {str(k): v for k, v in self.counts.items()}, "last_alert_at": self.last_alert_at}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> BrandState:
        if not data:
            return cls()
        counts = data.get("counts") or {}
        assert isinstance(counts, dict)
        last = data.get("last_alert_at")
        return cls({int(k): int(v) for k, v in counts.items()}, int(last) if last is not None else None)  # type: ignore[arg-type]


def add(
    state: BrandState,
    at: datetime,
    *,
    client: str,
    brand: str,
    uid: str,
    config: DetectionConfig,
) -> Alert | None:
    """Count one mention at event time `at` into `state`; return an Alert if one opens."""
    width = config.window_seconds
    bucket = int(at.timestamp()) // width * width
    state.counts[bucket] = state.counts.get(bucket, 0) + 1
    oldest = bucket - width * (config.baseline_windows + 1)
    for stale in [b for b in state.counts if b < oldest]:
        del state.counts[stale]

    history = [state.counts.get(bucket - width * i, 0) for i in range(1, config.baseline_windows + 1)]
    first_seen = min(state.counts)
    if (bucket - first_seen) // width < config.warmup_windows:
        return None
    expected = max(sum(history) / len(history), 1.0)
    observed = state.counts[bucket]
    if observed < config.min_count or observed < config.factor * expected:
        return None
    if state.last_alert_at is not None and bucket - state.last_alert_at < config.cooldown_seconds:
        return None
    state.last_alert_at = bucket
    start = datetime.fromtimestamp(bucket, UTC)
    ratio = observed / expected
    return Alert(
        id=f"{client}/{brand}/volume_spike/{bucket}",
        client=client,
        brand=brand,
        kind="volume_spike",
        window_start=start,
        window_end=start + timedelta(seconds=width),
        observed=observed,
        expected=round(expected, 3),
        score=round(ratio, 3),
        severity="critical" if ratio >= 2 * config.factor else "warning",
        sample_uids=[uid],
        explanation=(
            f"{observed} mentions in the {width}s window from {start.isoformat()} against "
            f"{expected:.1f} expected (mean of the previous {config.baseline_windows} windows)"
        ),
        raised_at=now(),
    )
