from __future__ import annotations

import re

import pytest
import yaml

from core.config import Brand, SadaConfig, load_config
from ingest.catalog import jobs
from sada import SAMPLE_CONFIG
from sada.reference import DOCUMENTS, REPO, render, rewrite


@pytest.mark.parametrize("path", list(DOCUMENTS), ids=lambda p: p.name)
def test_the_configuration_reference_is_current(path) -> None:  # type: ignore[no-untyped-def]
    text = path.read_text(encoding="utf-8")
    for name in DOCUMENTS[path]:
        assert f"<!-- config:{name} -->" in text, (
            f"{path.name} lacks the {name} table: add `<!-- config:{name} -->` and "
            "`<!-- /config -->` where it belongs, then run `python -m sada.reference`"
        )
    assert rewrite(text, DOCUMENTS[path]) == text, "run `python -m sada.reference` and commit"


def test_a_table_lists_every_field_with_its_description() -> None:
    table = render(Brand)
    assert "| `include` | `list[str]` | **required** | Queries;" in table
    assert "| `exclude` | `list[str]` | `[]` |" in table


def test_the_documented_sources_example_is_a_valid_config() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(sources:\n.*?)```", reference, re.S)
    assert example is not None
    clients = load_config(SAMPLE_CONFIG).model_dump()["clients"]
    config = SadaConfig.model_validate({"clients": clients, **yaml.safe_load(example.group(1))})
    assert [job.source.name for job in jobs(config)] == ["bluesky", "mastodon", "hackernews"]


def test_the_readme_clients_file_is_a_valid_config() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(clients:\n.*?)```", readme, re.S)
    assert example is not None
    assert SadaConfig.model_validate(yaml.safe_load(example.group(1))).clients
