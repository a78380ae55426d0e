"""What the detector remembers about one brand, as plain JSON for a Faust table's changelog.

A restarted or rebalanced worker reads the dict back and carries on exactly where the last one
stopped: every number round-trips through JSON unchanged, and the whole stays small (a few
hundred values) because the baseline is 33 floats and the evidence is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict

from core.events import AlertKind, Severity
from processors.baseline import Baseline
from processors.evidence import Evidence

STATE_VERSION = 1  # bump when the meaning or layout of the state changes


class Closed(NamedTuple):
    """A closed bucket of the spike span: its mentions and the count expected of it."""

    mentions: float
    expected: float


@dataclass(slots=True)
class Drift:
    """Exponentially weighted means over hours of each bucket's z-score, count and expected
    count: the sustained-drift test."""

    z: float = 0.0
    count: float = 0.0
    expected: float = 0.0

    def to_list(self) -> list[float]:
        return [self.z, self.count, self.expected]

    @classmethod
    def from_list(cls, data: list[Any]) -> Drift:
        return cls(*data)


@dataclass(slots=True)
class Share:
    """Decayed counts of negative and of all mentions: usually (learned outside incidents,
    over days) and recently (over minutes): the negative-share test."""

    usual_negatives: float = 0.0
    usual_count: float = 0.0
    recent_negatives: float = 0.0
    recent_count: float = 0.0

    def to_list(self) -> list[float]:
        return [self.usual_negatives, self.usual_count, self.recent_negatives, self.recent_count]

    @classmethod
    def from_list(cls, data: list[Any]) -> Share:
        return cls(*data)


class Thread(TypedDict):
    """The brand's open (or cooling) incident; plain JSON so the state stays a dict."""

    kind: AlertKind  # what opened it
    start: int  # bucket it opened in: the thread id
    bars: list[float]  # per test, the surprise that was needed at opening
    severity: Severity
    hot: int  # last bucket with a test above resolve_z
    resolved: int | None  # when it went quiet; crossings until the cooldown ends rejoin it


@dataclass(slots=True)
class BrandState:
    """Everything the detector remembers about one brand; a few hundred JSON values at most."""

    bucket: int = -1  # start of the current bucket, epoch seconds
    count: float = 0.0  # mentions in it so far
    negatives: float = 0.0
    first: int = -1  # first bucket seen, for the warm-up
    base: Baseline = field(default_factory=Baseline)
    recent: list[Closed] = field(default_factory=list)  # closed buckets of the spike span
    drift: Drift = field(default_factory=Drift)
    share: Share = field(default_factory=Share)
    records: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # decayed max z per test
    thread: Thread | None = None
    evidence: Evidence = field(default_factory=Evidence)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON, laid out as every version 1 detector wrote it (named parts as lists), so
        an older worker and a newer one read each other's state."""
        return {
            "version": STATE_VERSION,
            "bucket": self.bucket,
            "count": self.count,
            "negatives": self.negatives,
            "first": self.first,
            "base": self.base.to_list(),
            "recent": [list(r) for r in self.recent],
            "drift": self.drift.to_list(),
            "share": self.share.to_list(),
            "records": self.records,
            "thread": self.thread,
            "evidence": self.evidence.to_list(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BrandState:
        """The state in `data`; a fresh one (the brand warms up again) when `data` is empty or
        was written by another version of the detector, whose numbers would not mean the same."""
        if not data or data.get("version") != STATE_VERSION:
            return cls()
        return cls(
            bucket=int(data["bucket"]),
            count=float(data["count"]),
            negatives=float(data["negatives"]),
            first=int(data["first"]),
            base=Baseline.from_list(data["base"]),
            recent=[Closed(*r) for r in data["recent"]],
            drift=Drift.from_list(data["drift"]),
            share=Share.from_list(data["share"]),
            records=list(data["records"]),
            thread=_thread(data["thread"]),
            evidence=Evidence.from_list(data["evidence"]),
        )


def _thread(data: dict[str, Any] | None) -> Thread | None:
    """A copy: the table keeps the dict it was given, the detector mutates its own."""
    if data is None:
        return None
    return Thread(
        kind=data["kind"],
        start=data["start"],
        bars=list(data["bars"]),
        severity=data["severity"],
        hot=data["hot"],
        resolved=data["resolved"],
    )
