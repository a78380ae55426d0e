"""Spike and crisis detection per brand: a pure state machine, usable outside Faust.

Each mention is counted into the current time bucket and tested at once against the brand's
seasonal baseline (processors.baseline). A partial bucket is a lower bound on the final count,
so when it is already surprising the spike is certain and the alert goes out without waiting
for the bucket to close. Three kinds are tested on the same counts:

- volume_spike: the count of the last few minutes (`spike_minutes`, the current bucket
  included) against its expected count (Anscombe z-score);
- sustained_drift: an exponentially weighted mean of those z-scores over hours, scaled to unit
  variance, which a slow rise pushes up long before any single bucket looks odd;
- negative_share_spike: recent negative mentions against the brand's usual negative share
  (binomial z-score), which moves even when the volume does not.

Floors (a minimum count and ratio) keep 1 -> 4 mentions from being a crisis, and a warm-up
keeps new brands quiet until their baseline means something. To open, a surprise must also
beat the largest one of the brand's recent past (decaying over days): a brand that bursts
daily needs a bigger burst, a quiet one is heard at once.

An incident is one alert thread per brand, whatever kinds it shows, with a deterministic id
(client/brand/start): it opens, escalates when its severity rises (judged against the bar at
opening), and resolves after a quiet spell; a crossing within the cooldown after that joins
the same thread quietly instead of opening another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal, NamedTuple

from core.config import DetectionConfig
from core.events import (
    SEVERITY_RANK,
    Alert,
    AlertKind,
    ScoredMention,
    Severity,
    TriageLabel,
    now,
)
from core.text import normalize, tokenize
from processors import baseline as bl
from processors import evidence as ev
from processors.baseline import Rates
from processors.detect_state import BrandState, Closed, Thread

Status = Literal["open", "escalate", "resolve"]
_MAX_TERMS = 16  # terms taken from one mention


@dataclass(frozen=True, slots=True)
class Observation:
    """One scored mention as the detector sees it; `count` > 1 stands for a whole bucket."""

    client: str
    brand: str
    at: float  # event time, epoch seconds
    count: float = 1.0
    negative: bool = False
    uid: str = ""
    url: str | None = None
    author: str = ""
    reach: int = 0
    terms: tuple[str, ...] = ()
    triage: TriageLabel | None = None


class Test(NamedTuple):
    """One test of the current partial bucket: how surprising, and what was seen and expected."""

    kind: AlertKind
    z: float  # 0 below the test's floor
    observed: float
    expected: float


class Transition(NamedTuple):
    """A step of an alert thread; the Alert carries the thread's id."""

    status: Status
    alert: Alert


# Function words that would otherwise top "rising terms" in every language we watch.
STOPWORDS = frozenset(
    "the and for you your with this that are was were but not have has had its our from they "
    "their them what when just about all out now can will would been who how why yet any "
    "les des une pour pas que qui est avec dans sur par mais ont son ses nous vous "
    "على الى علي عن مع هذا هذه اللي انا انت هو هي كان كانت ما لا في من او ثم بعد قبل كل".split()
)


def observation(record: ScoredMention) -> Observation:
    """What the detector needs from a scored mention (terms: words of 3+ letters that say
    something: neither the brand's own words nor function words)."""
    mention = record.mention
    brand_words = _words_of(tuple(record.matched_terms))
    words = dict.fromkeys(
        w
        for w in tokenize(record.text_normalized)
        if len(w) >= 3 and w not in STOPWORDS and w not in brand_words
    )
    return Observation(
        client=record.client,
        brand=record.brand,
        at=min(
            mention.created_at, mention.fetched_at
        ).timestamp(),  # a skewed clock cannot run ahead
        negative=record.sentiment.label == "negative",
        uid=mention.uid,
        url=mention.url,
        author=mention.author.handle,
        reach=mention.author.followers or 0,
        terms=tuple(words)[:_MAX_TERMS],
        triage=record.triage,
    )


@lru_cache(maxsize=65536)
def _words_of(terms: tuple[str, ...]) -> frozenset[str]:
    """The words of a brand's matched terms; few distinct tuples, met on every mention."""
    return frozenset(w for term in terms for w in tokenize(normalize(term)))


def _decay(seconds: float, half_life_seconds: float) -> float:
    return 0.5 ** (seconds / half_life_seconds)


class Detector:
    """The detector for one configuration: learning rates are derived once, here."""

    def __init__(self, config: DetectionConfig | None = None) -> None:
        c = self.config = config or DetectionConfig()
        w = c.bucket_seconds
        self.rates = Rates.of(
            w,
            level_half_life_hours=c.level_half_life_hours,
            seasonal_half_life_cycles=c.seasonal_half_life_cycles,
            spread_half_life_hours=c.spread_half_life_hours,
            clip_z=c.open_z,
        )
        self.drift_rate = 1.0 - _decay(w, c.drift_half_life_hours * 3600)
        self.drift_norm = math.sqrt(self.drift_rate / (2.0 - self.drift_rate))
        self.usual_decay = _decay(w, c.negative_half_life_hours * 3600)
        self.recent_decay = _decay(w, c.share_half_life_minutes * 60)
        self.memory_decay = _decay(w, c.memory_hours * 3600)
        self.warmup = c.warmup_hours * 3600
        self.span = max(1, round(c.spike_minutes * 60 / w))
        self.max_gap = max(1, 86_400 // w)  # silent buckets learned after a gap, at most a day

    # -- the public surface ------------------------------------------------------------------

    def add(self, state: BrandState, obs: Observation) -> list[Transition]:
        """Count one observation into `state`; return the alert transitions it caused."""
        w = self.config.bucket_seconds
        bucket = int(obs.at) // w * w
        out: list[Transition] = []
        if state.bucket < 0:
            state.bucket = state.first = bucket
        elif bucket > state.bucket:
            self._advance(state, bucket, obs, out)
        elif state.bucket - bucket > self.config.max_lateness_minutes * 60:
            return out  # history (a backfill, a replay): indexed, but not news to alert on
        state.count += obs.count  # a late mention counts in the current bucket
        if obs.negative:
            state.negatives += obs.count
        ev.note(
            state.evidence,
            terms=obs.terms,
            negative=obs.negative,
            reach=obs.reach,
            uid=obs.uid,
            url=obs.url,
            author=obs.author,
            size=self.config.evidence_size,
            triage=obs.triage,
        )
        if state.bucket - state.first >= self.warmup:
            for i, test in enumerate(self._tests(state)):
                self._step(state, obs, i, test, out)
        return out

    def score(self, state: BrandState) -> float:
        """Anomaly score of the current bucket in 0..1; 0.5 where an alert would open."""
        if state.bucket < 0 or state.bucket - state.first < self.warmup:
            return 0.0
        r = max(max(t.z, 0.0) / self._bar(state, i) for i, t in enumerate(self._tests(state)))
        return r * r / (r * r + 1.0)

    def _bar(self, state: BrandState, i: int) -> float:
        """The surprise that opens an alert of test `i`: the floor, or the largest recent one."""
        return max(self.config.open_z, state.records[i])

    # -- statistics --------------------------------------------------------------------------

    def _tests(self, state: BrandState) -> list[Test]:
        """The tests of the current partial bucket, in the order of `records` and `bars`."""
        c = self.config
        mean = bl.expected(state.base, state.bucket)
        count = state.count
        z = bl.zscore(state.base, count, mean)
        span_n = count + sum(r.mentions for r in state.recent)
        span_e = mean + sum(r.expected for r in state.recent)
        volume = 0.0
        if span_n >= c.min_count and span_n >= c.min_ratio * span_e:
            volume = bl.zscore(state.base, span_n, span_e, len(state.recent) + 1)
        a = self.drift_rate
        drift = state.drift
        drift_z = ((1 - a) * drift.z + a * z) / self.drift_norm
        drift_n = (1 - a) * drift.count + a * count
        drift_e = (1 - a) * drift.expected + a * mean
        if drift_n / a < c.min_count or drift_n < c.drift_min_ratio * drift_e:
            drift_z = 0.0
        share = state.share
        k = share.recent_negatives * self.recent_decay + state.negatives
        n = share.recent_count * self.recent_decay + count
        p = (share.usual_negatives + 1.0) / (share.usual_count + 2.0)
        share_z = 0.0
        if n > 0 and k >= c.min_negative_count and k / n >= p + c.min_share_increase:
            share_z = (k - n * p) / math.sqrt(n * p * (1 - p))
        return [
            Test("volume_spike", volume, span_n, span_e),
            Test("negative_share_spike", share_z, k / n if n else 0.0, p),
            Test("sustained_drift", drift_z, drift_n, drift_e),
        ]

    def _advance(
        self, state: BrandState, bucket: int, obs: Observation, out: list[Transition]
    ) -> None:
        """Close the current bucket and any silent ones up to `bucket`; learn; resolve."""
        w = self.config.bucket_seconds
        tests = self._tests(state)
        gap = (bucket - state.bucket) // w - 1
        decay = self.memory_decay ** (1 + gap)
        state.records = [max(r * decay, t.z) for r, t in zip(state.records, tests, strict=True)]
        thread = state.thread
        if thread is not None and any(t.z >= self.config.resolve_z for t in tests):
            thread["hot"] = state.bucket
        self._learn(state, state.count, state.negatives)
        for _ in range(min(gap, self.max_gap)):
            state.bucket += w
            self._learn(state, 0.0, 0.0)
        state.bucket, state.count, state.negatives = bucket, 0.0, 0.0
        if thread is not None:
            self._cool(state, thread, obs, out)
        if state.thread is None:
            ev.roll(state.evidence, self.usual_decay)

    def _learn(self, state: BrandState, count: float, negatives: float) -> None:
        start = state.bucket
        mean = bl.expected(state.base, start)
        if start % 3600 == 0:
            bl.renormalise(state.base)
        z = bl.learn(state.base, start, count, self.rates)
        if self.span > 1:
            state.recent.append(Closed(count, mean))
            del state.recent[: -(self.span - 1)]
        a = self.drift_rate
        d = state.drift
        d.z += a * (max(-self.config.open_z, min(self.config.open_z, z)) - d.z)
        d.count += a * (count - d.count)
        d.expected += a * (mean - d.expected)
        s = state.share
        if state.thread is None:  # an incident's mentions are not the usual share
            s.usual_negatives = s.usual_negatives * self.usual_decay + negatives
            s.usual_count = s.usual_count * self.usual_decay + count
        s.recent_negatives = s.recent_negatives * self.recent_decay + negatives
        s.recent_count = s.recent_count * self.recent_decay + count

    # -- the alert lifecycle: one thread per brand and incident --------------------------------

    def _severity(self, z: float, bar: float) -> Severity | None:
        c = self.config
        if z >= bar * c.critical_factor:
            return "critical"
        if z >= bar * c.warning_factor:
            return "warning"
        return "info" if z >= bar else None

    def _step(
        self, state: BrandState, obs: Observation, i: int, test: Test, out: list[Transition]
    ) -> None:
        """Open, escalate or quietly rejoin the brand's thread on test `i` of the current bucket."""
        thread = state.thread
        bar = self._bar(state, i) if thread is None else thread["bars"][i]
        severity = self._severity(test.z, bar)
        if severity is None:
            return
        status: Status | None = None
        if thread is None:
            bars = [self._bar(state, j) for j in range(len(state.records))]
            thread = state.thread = Thread(
                kind=test.kind,
                start=state.bucket,
                bars=bars,
                severity=severity,
                hot=state.bucket,
                resolved=None,
            )
            status = "open"
        elif SEVERITY_RANK[severity] > SEVERITY_RANK[thread["severity"]]:
            thread["severity"] = severity
            status = "escalate"
        quietly_rejoined = status is None and thread["resolved"] is not None
        thread["resolved"] = state.bucket if quietly_rejoined else None  # restarts the cooldown
        thread["hot"] = state.bucket
        if status is not None:
            out.append(Transition(status, self._alert(state, obs, status, test)))

    def _cool(
        self, state: BrandState, thread: Thread, obs: Observation, out: list[Transition]
    ) -> None:
        """Resolve a thread after a quiet spell; forget it once its cooldown is over."""
        resolved = thread["resolved"]
        if resolved is None:
            if state.bucket - thread["hot"] >= self.config.resolve_after_minutes * 60:
                thread["resolved"] = state.bucket
                test = next(t for t in self._tests(state) if t.kind == thread["kind"])
                out.append(Transition("resolve", self._alert(state, obs, "resolve", test)))
        elif state.bucket - resolved > self.config.cooldown_minutes * 60:
            state.thread = None

    def _alert(self, state: BrandState, obs: Observation, status: Status, test: Test) -> Alert:
        kind, z, observed, expected = test
        thread = state.thread
        assert thread is not None
        start = datetime.fromtimestamp(thread["start"], UTC)
        end = datetime.fromtimestamp(state.bucket + self.config.bucket_seconds, UTC)
        if status == "resolve":
            what = f"resolved: quiet for {self.config.resolve_after_minutes:g} min"
        elif kind == "negative_share_spike":
            what = f"{kind.replace('_', ' ')} {status}: negative share {observed:.0%} against the usual {expected:.0%}; z={z:.1f}"
        else:
            buckets = len(state.recent) + 1 if kind == "volume_spike" else 1
            low, high = bl.interval(state.base, expected, self.config.open_z, buckets)
            minutes = buckets * self.config.bucket_seconds / 60
            per = (
                f"in {minutes:g} min"
                if kind == "volume_spike"
                else "per bucket, averaged over hours"
            )
            what = (
                f"{kind.replace('_', ' ')} {status}: {observed:.0f} mentions {per} against "
                f"{expected:.1f} expected (usual range {low:.0f}-{high:.0f}); z={z:.1f}"
            )
        window = f"window {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, {self.config.bucket_seconds}s buckets"
        lines = [what, window, *ev.describe(state.evidence, self.config.evidence_size)]
        return Alert(
            id=f"{obs.client}/{obs.brand}/{start:%Y%m%dT%H%M%SZ}",
            status=status,
            client=obs.client,
            brand=obs.brand,
            kind=kind,
            window_start=start,
            window_end=end,
            observed=round(observed, 4),
            expected=round(expected, 4),
            score=round(z, 3),
            severity=thread["severity"],
            sample_uids=ev.samples(state.evidence, 2 * self.config.evidence_size),
            explanation="\n".join(lines),
            raised_at=now(),
        )
