"""deploy/grafana and deploy/prometheus without Grafana or Prometheus (neither can be installed
here): the files parse, every PromQL expression is valid (promql-parser), every sada_* metric
they use is declared in the code, and the rules are what Prometheus loads. That each metric
moves in a real run is checked by the end-to-end test (tests/deploy/observability.py)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.observability import (
    DASHBOARD,
    ON_FAILURE_ONLY,
    REPO,
    RULES,
    declared,
    expressions,
    metric_names,
    unmoved,
    used,
)

PANELS = {  # what the issue asks the dashboard to show, by the metric that shows it
    "throughput per stage": "sada_records_received_total",
    "consumer lag": "sada_consumer_lag",
    "mention to index delay": "sada_mention_indexed_delay_seconds_bucket",
    "alert to delivery delay": "sada_alert_delivered_delay_seconds_bucket",
    "dead letters": "sada_deadletter_total",
    "deliveries by outcome": "sada_notifications_total",
    "errors": "sada_errors_total",
    "readiness": "sada_ready",
}
ALERTS = {  # the same for the rules
    "lag growing": "sada_consumer_lag",
    "a source silent longer than usual": "sada_source_last_item_timestamp_seconds",
    "dead letters rising": "sada_deadletter_total",
    "deliveries failing": "sada_notifications_total",
}


@pytest.mark.parametrize("where", sorted(expressions()))
def test_every_expression_is_valid_promql(where: str) -> None:
    assert metric_names(expressions()[where]), f"{where} selects no metric"


def test_every_metric_the_files_use_is_declared_in_the_code() -> None:
    assert used() - declared() == set()


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = {panel["title"]: panel for panel in dashboard["panels"]}
    assert len(panels) == len(dashboard["panels"]), "two panels share a title"
    shown = {
        name
        for where, expr in expressions().items()
        if DASHBOARD.name in where
        for name in metric_names(expr)
    }
    assert {need: metric for need, metric in PANELS.items() if metric not in shown} == {}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"].strip("${}") in variables, panel["title"]
        assert panel["description"], f"{panel['title']} says nothing about what it shows"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the dashboard"


def test_the_rules_are_what_prometheus_loads() -> None:
    """The rule file's structure as Prometheus reads it (promtool check rules, by hand):
    groups with unique names, each alert with an expression, a `for` duration, a severity and
    a summary whose template names only labels the expression keeps."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    assert len({group["name"] for group in groups}) == len(groups)
    rules = [rule for group in groups for rule in group["rules"]]
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        assert re.fullmatch(r"(\d+[smhd])+", rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
    alerted = {name for rule in rules for name in metric_names(rule["expr"])}
    assert {need: metric for need, metric in ALERTS.items() if metric not in alerted} == {}


def test_the_scrape_config_loads_the_rules_and_scrapes_every_stage() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == [RULES.name]
    [job] = config["scrape_configs"]
    workers = {group["labels"]["worker"] for group in job["static_configs"]}
    assert workers == {"ingest", "score", "detect", "sinks"}
    ports = [t for group in job["static_configs"] for t in group["targets"]]
    assert len(set(ports)) == len(ports)
    systemd = {  # the ports deploy/systemd gives each stage, when those files are there
        path.stem: re.search(r"SADA_METRICS_PORT=(\d+)", path.read_text())
        for path in (REPO / "deploy" / "systemd").glob("*.env")
    }
    for group in job["static_configs"]:
        found = systemd.get(group["labels"]["worker"])
        if found:
            assert group["targets"] == [f"127.0.0.1:{found.group(1)}"], group


def test_grafana_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    provisioning = DASHBOARD.parent / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "sada.yaml").read_text())[
        "datasources"
    ]
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    [variable] = dashboard["templating"]["list"]
    assert (source["type"], source["uid"]) == ("prometheus", variable["current"]["value"])
    [provider] = yaml.safe_load((provisioning / "dashboards" / "sada.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_a_metric_that_did_not_move_is_named() -> None:
    """What the end-to-end test's check says, on made-up scrapes."""
    grown = {f"{name}[]": 1.0 for name in used()} | {"sada_errors (declared)": 0.0}
    assert unmoved({}, grown) == {}
    assert unmoved(grown, grown) == {
        name: "did not grow (1.0)"
        for name in used() - ON_FAILURE_ONLY
        if name.endswith(("_total", "_bucket"))
    }
    assert unmoved({}, {}) == {
        name: "not exported" if name in ON_FAILURE_ONLY else "no sample" for name in used()
    }
