"""The exception tree: one module defines every error, and its docstring draws the tree."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import pytest

from core import errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ingest", "processors", "sinks", "sada")
ERRORS = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, Exception)
]


TREE = (errors.__doc__ or "").split("What the runners do")[0].splitlines()


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_error_is_a_sada_error_in_one_branch_and_drawn_in_the_docstring(
    error: type[Exception],
) -> None:
    assert issubclass(error, errors.SadaError)
    branches = [
        b for b in (errors.RetryLater, errors.Permanent, errors.Fatal) if issubclass(error, b)
    ]
    assert len(branches) == (0 if error is errors.SadaError else 1)
    line = next((line for line in TREE if f" {error.__name__} " in line), None)
    assert line is not None, f"core/errors.py's docstring does not draw {error.__name__}"
    depth = sum(issubclass(base, errors.SadaError) for base in error.__mro__[1:])
    assert line.index(error.__name__) == 4 + 4 * depth, f"{error.__name__} drawn at the wrong depth"


def test_no_other_module_defines_an_error() -> None:
    """Every error is defined once, in core/errors.py, and imported from there."""
    names = {error.__name__ for error in ERRORS} | {
        name for name in dir(builtins) if name.endswith(("Error", "Exception"))
    }
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == Path(inspect.getfile(errors)):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                    continue
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                if bases & names:
                    found.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert found == []


def test_the_errors_keep_their_messages_and_details() -> None:
    assert str(errors.SourceError("gone: HTTP 404", status=404)) == "gone: HTTP 404"
    assert errors.SourceError("x", status=404).status == 404
    assert errors.RetryLater("busy", after_seconds=3).after_seconds == 3
    query = errors.QueryError(4, "a term", "')'")
    assert str(query) == "at character 5: expected a term, found ')'"
    assert isinstance(query, ValueError)
