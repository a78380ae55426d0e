from __future__ import annotations

from core.config import Brand
from sada.reference import README_MODELS, REPO, render, rewrite


def test_the_readme_reference_is_current() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert rewrite(text, README_MODELS) == text, "run `python -m sada.reference` and commit README.md"
    for name in README_MODELS:
        assert f"<!-- config:{name} -->" in text


def test_a_table_lists_every_field_with_its_description() -> None:
    table = render(Brand)
    assert "| `include` | `list[str]` | **required** | Queries;" in table
    assert "| `exclude` | `list[str]` | `[]` |" in table
