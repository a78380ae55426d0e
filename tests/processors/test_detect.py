"""The detector on synthetic series: what must alert, what must not, and how an alert thread runs."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from core.config import DetectionConfig
from core.events import Author, Mention, ScoredMention, Sentiment
from core.text import normalize
from processors.detect import Detector, Observation, Transition, observation
from processors.detect_state import BrandState, Closed
from processors.evidence import LoudAuthor

BUCKET = 300
START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # a Monday, midnight UTC
DAY = 86_400 // BUCKET
CONFIG = DetectionConfig(bucket_seconds=BUCKET)


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def draw(
    means: Iterable[float],
    *,
    negative_share: Callable[[int], float] = lambda i: 0.1,
    noise: float = 0.0,
    seed: int = 7,
) -> list[tuple[int, int]]:
    """Counts per bucket (Poisson, overdispersed by `noise`), and how many are negative."""
    rng = random.Random(seed)
    rows = []
    for i, mean in enumerate(means):
        count = poisson(rng, mean * rng.lognormvariate(0.0, noise) if noise else mean)
        rows.append((count, sum(rng.random() < negative_share(i) for _ in range(count))))
    return rows


def feed(
    detector: Detector,
    state: BrandState,
    means: Iterable[float],
    *,
    negative_share: Callable[[int], float] = lambda i: 0.1,
    rows: list[tuple[int, int]] | None = None,
    first: int = 0,
) -> list[tuple[int, Transition]]:
    """Feed one bucket per row (negatives separately); return (bucket index, transition)."""
    out = []
    for i, (count, negatives) in enumerate(
        rows or draw(means, negative_share=negative_share), first
    ):
        at = START + i * BUCKET
        out += [
            (i, t)
            for t in detector.add(state, Observation("acme", "widget", at, count - negatives))
        ]
        if negatives:
            obs = Observation("acme", "widget", at, count=negatives, negative=True)
            out += [(i, t) for t in detector.add(state, obs)]
    return out


def opened(transitions: list[tuple[int, Transition]]) -> list[tuple[int, str]]:
    return [(i, t.alert.kind) for i, t in transitions if t.status == "open"]


def test_steady_series_raises_nothing() -> None:
    assert feed(Detector(CONFIG), BrandState(), [30.0] * 5 * DAY) == []


def test_spike_opens_one_volume_alert() -> None:
    means = [30.0] * 3 * DAY + [400.0] * 3 + [30.0] * DAY
    found = opened(feed(Detector(CONFIG), BrandState(), means))
    assert found == [(3 * DAY, "volume_spike")]


def test_dip_raises_nothing() -> None:
    means = [30.0] * 3 * DAY + [0.0] * 12 + [30.0] * DAY
    assert opened(feed(Detector(CONFIG), BrandState(), means)) == []


def test_daily_cycle_is_learned_not_alerted() -> None:
    def mean(i: int) -> float:
        hour = i % DAY / DAY * 24
        return 4.0 + 80.0 * max(0.0, math.sin(math.pi * (hour - 6) / 12))  # quiet nights, busy days

    found = feed(Detector(CONFIG), BrandState(), [mean(i) for i in range(10 * DAY)])
    assert opened(found) == []


def test_slow_rise_opens_a_drift_alert() -> None:
    """Noisy counts rising x4 over 8 hours: no single bucket stands out, the average does."""
    ramp = [30.0 * (1 + 3 * min(1.0, i / (8 * 12))) for i in range(DAY)]
    rows = draw([30.0] * 3 * DAY + ramp, noise=0.25)
    found = opened(feed(Detector(CONFIG), BrandState(), [], rows=rows))
    assert [kind for _, kind in found] == ["sustained_drift"]


def test_tiny_counts_never_alert() -> None:
    """One mention a day jumping to four in five minutes is not a crisis."""
    state, detector = BrandState(), Detector(CONFIG)
    for day in range(5):
        detector.add(state, Observation("acme", "widget", START + day * 86_400 + 3600))
    late = START + 5 * 86_400 + 3600
    steps = [detector.add(state, Observation("acme", "widget", late + s)) for s in range(4)]
    assert steps == [[], [], [], []]


def test_new_brand_is_quiet_during_warm_up() -> None:
    means = [30.0] * 12 + [600.0] * 3
    assert feed(Detector(CONFIG), BrandState(), means) == []


def test_negative_share_spike_without_volume_change() -> None:
    means = [40.0] * 5 * DAY
    found = opened(
        feed(
            Detector(CONFIG),
            BrandState(),
            means,
            negative_share=lambda i: 0.7 if 4 * DAY <= i < 4 * DAY + 6 else 0.1,
        )
    )
    assert [kind for _, kind in found] == ["negative_share_spike"]
    assert 4 * DAY <= found[0][0] < 4 * DAY + 3


def test_alert_fires_inside_the_partial_bucket() -> None:
    """Mentions arriving one by one: the alert goes out before the bucket closes."""
    detector, state = Detector(CONFIG), BrandState()
    feed(detector, state, [30.0] * 3 * DAY)
    at = START + 3 * DAY * BUCKET
    fired = next(
        n for n in range(1, 400) if detector.add(state, Observation("acme", "widget", at + n * 0.5))
    )
    assert fired < 200
    assert state.bucket == at  # still the same bucket


def test_incident_thread_opens_escalates_resolves_once() -> None:
    means = [30.0] * 3 * DAY + [120.0, 250.0, 900.0, 700.0, 400.0] + [30.0] * 48
    steps = feed(Detector(CONFIG), BrandState(), means)
    statuses = [t.status for _, t in steps]
    assert statuses[0] == "open" and statuses[-1] == "resolve"
    assert "escalate" in statuses
    assert {t.alert.id for _, t in steps} == {steps[0][1].alert.id}
    assert [t.alert.status for _, t in steps] == statuses
    assert steps[0][1].alert.id == "acme/widget/20260305T000000Z"
    severities = [t.alert.severity for _, t in steps if t.status != "resolve"]
    assert severities == sorted(severities, key=["info", "warning", "critical"].index)


def test_second_burst_within_cooldown_joins_the_thread() -> None:
    burst = [600.0] * 2 + [30.0] * 24  # resolves after an hour of quiet
    means = [30.0] * 3 * DAY + burst + burst + [30.0] * 24
    steps = feed(Detector(CONFIG), BrandState(), means)
    assert [t.status for _, t in steps].count("open") == 1


def test_explanation_names_terms_negative_links_and_authors() -> None:
    detector, state = Detector(CONFIG), BrandState()
    rng = random.Random(3)
    words = ["price", "shop", "delivery", "review", "order", "store"]
    for i in range(3 * DAY):
        for _ in range(poisson(rng, 20)):
            obs = Observation(
                "acme",
                "widget",
                START + i * BUCKET,
                terms=tuple(rng.sample(words, 2)),
                author="fan",
                reach=10,
            )
            detector.add(state, obs)
    at = START + 3 * DAY * BUCKET
    alerts = []
    for n in range(300):
        obs = Observation(
            "acme",
            "widget",
            at + n,
            negative=n % 10 == 0,
            uid=f"m{n}",
            url=f"https://example.org/p/{n}",
            author=f"user{n}",
            reach=n * 100,
            terms=("recall", "battery", words[n % 6]),
            triage="complaint" if n % 2 else "other",
        )
        alerts += [t.alert for t in detector.add(state, obs)]
    alert = alerts[0]
    assert alert.kind == "volume_spike" and alert.status == "open"
    text = alert.explanation
    assert alert.observed > alert.expected
    assert "expected" in text and "usual range" in text and "z=" in text
    assert "recall" in text and "battery" in text
    assert "to answer: " in text and " complaints (of " in text
    newest = int(alert.observed) - 1
    assert f"user{newest}" in text
    assert "https://example.org/p/" in text
    assert len(alert.sample_uids) <= 2 * CONFIG.evidence_size
    assert alert.window_start == datetime.fromtimestamp(at, UTC)


def test_state_survives_a_json_round_trip_exactly() -> None:
    """What a Faust changelog restores must behave exactly like the state it saved."""
    rows = draw([30.0] * 3 * DAY + [400.0] * 3 + [30.0] * 30)
    cut = 3 * DAY + 1
    detector = Detector(CONFIG)
    whole_state = BrandState()
    whole = feed(detector, whole_state, [], rows=rows)
    state = BrandState()
    half = feed(detector, state, [], rows=rows[:cut])
    restored = BrandState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    rest = feed(detector, restored, [], rows=rows[cut:], first=cut)

    def key(steps: list[tuple[int, Transition]]) -> list[tuple[object, ...]]:
        return [(i, t.status, t.alert.id, t.alert.severity, t.alert.observed) for i, t in steps]

    assert key(half + rest) == key(whole) and whole
    assert restored.to_dict() == whole_state.to_dict()
    assert len(json.dumps(restored.to_dict())) < 4000


def test_a_restarted_worker_reads_the_state_an_older_worker_wrote() -> None:
    """tests/data/brand_state_v1.json was written by the detector before its state had named
    parts (lists throughout), mid-incident at one-minute buckets. The named state reads it,
    writes it back unchanged (so the older worker reads ours), and carries the incident on."""
    older = json.loads((Path(__file__).parents[1] / "data" / "brand_state_v1.json").read_text())
    state = BrandState.from_dict(older)
    assert state.bucket == older["bucket"] and state.thread is not None
    assert state.recent[0] == Closed(mentions=30.0, expected=older["recent"][0][1])
    assert state.drift.expected == older["drift"][2]
    assert state.share.recent_count == older["share"][3]
    assert state.evidence.negatives[0].url == "https://x.test/81/27"
    assert state.evidence.authors[0] == LoudAuthor(reach=499, author="user2", uid="m85-27")
    assert json.loads(json.dumps(state.to_dict())) == older
    detector = Detector(DetectionConfig(bucket_seconds=60, warmup_hours=1, evidence_size=2))
    minute = older["bucket"] + 60
    steps = [
        step
        for second in range(60)
        for step in detector.add(state, Observation("acme", "widget", minute + second, 60.0))
    ]
    assert [(s.status, s.alert.id) for s in steps] == [
        (
            "escalate",
            f"acme/widget/{datetime.fromtimestamp(older['thread']['start'], UTC):%Y%m%dT%H%M%SZ}",
        )
    ]


def test_state_from_a_table_value_does_not_alias_it() -> None:
    """Faust keeps the dict it was given; updating a state read from it must not change it."""
    detector, state = Detector(CONFIG), BrandState()
    feed(detector, state, [30.0] * 3 * DAY + [400.0])
    stored = json.loads(json.dumps(state.to_dict()))
    saved = json.dumps(stored)
    again = BrandState.from_dict(stored)
    feed(detector, again, [400.0, 30.0, 30.0], first=3 * DAY + 1)
    assert json.dumps(stored) == saved


def test_observation_from_a_scored_mention() -> None:
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    mention = Mention(
        uid="bluesky-1",
        source="bluesky",
        source_id="1",
        url="https://bsky.app/x/1",
        author=Author(handle="alice", followers=1200),
        text="Acme widgets broke again, terrible support. الدعم سيئ",
        created_at=at,
        fetched_at=at,
    )
    record = ScoredMention(
        mention=mention,
        client="acme",
        brand="widget",
        matched_terms=["acme"],
        text_normalized=normalize(mention.text),
        language="en",
        sentiment=Sentiment(label="negative", probability=0.9, model="test"),
        triage="complaint",
    )
    obs = observation(record)
    assert obs.at == at.timestamp() and obs.negative and obs.reach == 1200
    assert obs.author == "alice" and obs.url == "https://bsky.app/x/1"
    assert "acme" not in obs.terms and "terrible" in obs.terms and "الدعم" in obs.terms


def test_minute_and_five_minute_buckets_agree() -> None:
    """The pipeline counts per minute, backtests often per 5 minutes: one history, one incident."""
    minutes = draw([8.0] * 4 * 1440 + [120.0] * 3 + [8.0] * 120, seed=11)
    fine = []
    detector, state = Detector(DetectionConfig(bucket_seconds=60)), BrandState()
    for i, (count, _) in enumerate(minutes):
        fine += [
            (i, t)
            for t in detector.add(state, Observation("acme", "widget", START + 60 * i, count))
        ]
    coarse_rows = [(sum(c for c, _ in minutes[i : i + 5]), 0) for i in range(0, len(minutes), 5)]
    coarse = feed(Detector(CONFIG), BrandState(), [], rows=coarse_rows)
    assert [(i, t.alert.kind) for i, t in fine if t.status == "open"] == [
        (4 * 1440, "volume_spike")
    ]
    assert [(i, t.alert.kind) for i, t in coarse if t.status == "open"] == [
        (4 * 288, "volume_spike")
    ]


def test_replayed_history_is_not_counted_again() -> None:
    """A backfill or replay of old mentions must not look like a burst in the current bucket."""
    detector = Detector(DetectionConfig(warmup_hours=0, min_count=3))
    state = BrandState()
    day = 86_400.0
    for minute in range(60):
        detector.add(state, Observation(client="c", brand="b", at=day + minute * 60))
    before = state.to_dict()
    replayed = [
        detector.add(state, Observation(client="c", brand="b", at=day + minute * 60 + 1))
        for minute in range(40)  # minutes 0..39: all more than 15 minutes old
    ]
    assert replayed == [[] for _ in range(40)]
    assert state.to_dict() == before
