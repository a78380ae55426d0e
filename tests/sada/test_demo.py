"""`make demo`'s job, on the real local services, smaller."""

from __future__ import annotations

from core.config import Settings
from sada.demo import run_demo


def test_the_demo_streams_indexes_and_alerts_on_the_planted_crisis(settings: Settings) -> None:
    progress = run_demo(settings, count=800, rate=2000)
    assert (progress.produced, progress.dead_lettered) == (800, 0)
    assert progress.scored > 600
    assert progress.indexed == progress.scored  # one document per (mention, brand)
    assert progress.incidents == 1 and progress.alerts_received >= 1
    assert progress.backlog == 0
