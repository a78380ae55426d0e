from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from core.config import load_config
from ingest import synthetic
from processors.language import detect_language
from processors.match import build_matcher, match
from sada import SAMPLE_CONFIG as SAMPLE

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_stream_is_deterministic_and_ordered() -> None:
    config = synthetic.Config(count=500, start=START)
    first, second = list(synthetic.generate(config)), list(synthetic.generate(config))
    assert first == second and len(first) == 500
    times = [m.created_at for m in first]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] <= START + timedelta(minutes=config.minutes)
    assert len({m.uid for m in first}) == 500


def test_the_crisis_is_planted_where_configured() -> None:
    config = synthetic.Config(count=2000, start=START)
    crisis = [m for m, brand in synthetic.generate_labelled(config) if m.text in synthetic.CRISIS]
    assert len(crisis) == config.spike_minutes * config.spike_per_minute
    begin = START + timedelta(minutes=config.spike_at_minute)
    assert all(
        begin <= m.created_at < begin + timedelta(minutes=config.spike_minutes) for m in crisis
    )


def test_the_sample_config_matches_exactly_the_brand_each_mention_was_written_about() -> None:
    matcher = build_matcher(load_config(SAMPLE))
    for mention, brand in synthetic.generate_labelled(synthetic.Config(count=3000, start=START)):
        assert {m.brand for m in match(mention, matcher)} == ({brand} if brand else set()), (
            mention.text
        )


def test_the_stream_mixes_scripts_and_languages() -> None:
    texts = {m.text for m in synthetic.generate(synthetic.Config(count=2000, start=START))}
    languages = Counter(detect_language(text) for text in texts)
    assert {"ar", "en", "fr"} <= set(languages)
    assert languages.get("arz", 0) >= 1  # Arabizi, labelled apart from English
