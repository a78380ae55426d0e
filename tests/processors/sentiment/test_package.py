"""The sentiment package's shape: no import cycle, training never on the workers' import path."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import processors.sentiment

PACKAGE = Path(processors.sentiment.__file__).parent
REPO = PACKAGE.parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_within_package() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports, lazily or not."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        graph[_module_name(path)] = {m for m in imported if m.startswith("processors.sentiment")}
    return graph


def test_the_package_has_no_import_cycle() -> None:
    graph = _imports_within_package()
    assert "processors.sentiment.linear" in graph and "processors.sentiment.training.train" in graph
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle in processors.sentiment: {exc.args[1]}") from exc


def test_no_runtime_module_imports_training() -> None:
    graph = _imports_within_package()
    runtime = {m: deps for m, deps in graph.items() if ".training" not in m}
    offenders = {m: sorted(d for d in deps if ".training" in d) for m, deps in runtime.items()}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_the_workers_and_the_cli_load_no_training_module() -> None:
    code = (
        "import sys, processors.app, sada.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('processors.sentiment')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "processors.sentiment.linear" in loaded
    assert "training" not in loaded
