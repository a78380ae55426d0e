"""What the operator's files (deploy/grafana, deploy/prometheus) ask of the metrics, and whether
a running pipeline gives it: the metric names their PromQL uses, parsed with promql-parser (the
Prometheus grammar: promtool, a Go binary, cannot be installed here), and scrapes to compare.

tests/deploy/test_observability.py checks the files against the code's registry; the end-to-end
test (tests/test_end_to_end.py) scrapes its workers before and after its run and checks with
`unmoved` that every one of those metrics moved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "sada.json"
RULES = REPO / "deploy" / "prometheus" / "sada-rules.yml"
# Grafana's own variables, as Prometheus would see them once Grafana has filled them in.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h"}
# Counted only when something fails: a healthy run must show them declared, not moved.
ON_FAILURE_ONLY = {"sada_errors_total"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}

Samples = dict[str, float]  # a sample's name and labels, as text -> its value


def expressions() -> dict[str, str]:
    """Every PromQL expression of the rules and the dashboard, by where it is."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    found = {
        f"{RULES.name}: {rule['alert']}": rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
    }
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found[f"{DASHBOARD.name}: {panel['title']} {target['refId']}"] = expr
    return found


def metric_names(expr: str) -> set[str]:
    """The metrics an expression selects (a syntax or type error raises ValueError)."""
    return set(_selected(promql_parser.parse(expr)))


def _selected(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector) and node.name:  # not {__name__=~...}
        yield node.name
    elif isinstance(node, promql_parser.MatrixSelector):
        yield from _selected(node.vector_selector)
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            yield from _selected(arg)
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from _selected(node.lhs)
        yield from _selected(node.rhs)
    elif isinstance(node, promql_parser.AggregateExpr):
        yield from _selected(node.expr)
        yield from _selected(node.param)
    elif isinstance(
        node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
    ):
        yield from _selected(node.expr)


def used() -> set[str]:
    """Every sada_* metric the rules and the dashboard use."""
    return {
        name
        for expr in expressions().values()
        for name in metric_names(expr)
        if name.startswith("sada_")
    }


def declared() -> set[str]:
    """The sample names the code's registry can export (core.metrics declares them all)."""
    import core.metrics  # noqa: F401  (registers them)

    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ())
    }


def scrape(urls: list[str]) -> Samples:
    """Every sample of these /metrics endpoints and of this process (which runs the ingest in
    the end-to-end test), summed where two report the same series."""
    texts = [httpx.get(url, timeout=10).text for url in urls]
    samples: Samples = {}
    for text in [*texts, generate_latest().decode()]:
        for family in text_string_to_metric_families(text):
            samples.setdefault(f"{family.name} (declared)", 0.0)
            for sample in family.samples:
                key = f"{sample.name}{sorted(sample.labels.items())}"
                samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def first_scrape(urls: list[str], timeout: float = 60.0) -> Samples:
    """`scrape`, once every worker serves /metrics (a worker starts in a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return scrape(urls)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _total(samples: Samples, name: str) -> float | None:
    values = [value for key, value in samples.items() if key.startswith(f"{name}[")]
    return sum(values) if values else None


def unmoved(before: Samples, after: Samples) -> dict[str, str]:
    """The used metrics that did not move, each with why: a counter or histogram must have
    grown, a gauge must have a value; those counted only on failure must be declared."""
    problems = {}
    for name in sorted(used()):
        family = name.removesuffix("_total") if name.endswith("_total") else name
        if name in ON_FAILURE_ONLY:
            if f"{family} (declared)" not in after:
                problems[name] = "not exported"
            continue
        now = _total(after, name)
        if now is None:
            problems[name] = "no sample"
        elif name.endswith(("_total", "_bucket", "_count", "_sum")) and now <= (
            _total(before, name) or 0.0
        ):
            problems[name] = f"did not grow ({now})"
    return problems
