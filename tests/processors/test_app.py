"""Which agents and tables a processor worker runs, per `sada process --stage`."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings, load_config
from processors.app import Stage, create_app

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "sample-config.yaml"


@pytest.mark.parametrize(
    ("stage", "agents", "tables", "group"),
    [
        ("all", {"score_mentions", "detect_spikes"}, 2, "t-processors"),
        ("score", {"score_mentions"}, 0, "t-processors-score"),
        ("detect", {"detect_spikes"}, 2, "t-processors"),
    ],
)
def test_a_stage_runs_its_agents_and_tables_under_its_group(
    tmp_path: Path, stage: Stage, agents: set[str], tables: int, group: str
) -> None:
    settings = Settings(namespace="t", cache_dir=tmp_path)
    app = create_app(settings, load_config(SAMPLE), stage)
    assert {name.rsplit(".", 1)[-1] for name in app.agents} == agents
    assert len(app.tables) == tables
    assert app.conf.id == group == settings.processor_group(stage)
