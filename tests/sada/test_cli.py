from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config import Settings
from core.errors import ServiceError
from sada import SAMPLE_CONFIG as SAMPLE
from sada import services
from sada.cli import app
from tests.sinks.support import Answer, Scripted

runner = CliRunner()


def test_config_check_accepts_the_sample() -> None:
    result = runner.invoke(app, ["config", "check", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok (2 clients, 4 brands, 1 competitors)" in result.output


def test_config_check_reports_every_bad_query_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "clients:\n- id: acme\n  name: Acme\n  brands:\n"
        "  - {id: a, name: A, include: ['(apple AND', 'ok']}\n"
        "  - {id: b, name: B, include: ['fine'], exclude: ['NEAR/3 pie']}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "2 problem(s)" in result.output
    assert "include[0]" in result.output and "exclude[0]" in result.output


def test_unreachable_services_name_the_url_and_the_fix() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9", es_url="http://127.0.0.1:9")
    with pytest.raises(ServiceError) as raised:
        services.require(settings)
    message = str(raised.value)
    assert "Kafka is not reachable at 127.0.0.1:9" in message
    assert "Elasticsearch is not reachable at http://127.0.0.1:9" in message
    assert "sada services up" in message


def test_ingest_dry_run_needs_no_kafka() -> None:
    result = runner.invoke(
        app,
        [
            "ingest",
            "--source",
            "synthetic",
            "--set",
            "count=5",
            "--set",
            "spike_minutes=0",
            "--dry-run",
        ],
        env={"SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    assert result.exit_code == 0, result.output
    assert result.output.count('"source":"synthetic"') == 5


def test_an_unknown_source_lists_the_known_ones() -> None:
    result = runner.invoke(app, ["ingest", "--source", "myspace", "--dry-run"])
    assert result.exit_code == 2
    assert "unknown source 'myspace'" in result.output and "synthetic" in result.output


def test_config_check_validates_each_source_against_its_own_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        SAMPLE.read_text(encoding="utf-8") + "sources:\n"
        "  - {source: hackernews, queries: ['\"Skyline Air\"'], poll_interval_seconds: 120}\n"
        "  - {source: mastodon, instances: []}\n"
        "  - {source: myspace}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "sources[1].instances" in result.output
    assert "sources[2].source: unknown source 'myspace'" in result.output
    assert "sources[0]" not in result.output


def test_ingest_runs_the_clients_file_sources(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        SAMPLE.read_text(encoding="utf-8")
        + "sources:\n  - {source: synthetic, name: fake, count: 3, spike_minutes: 0}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ingest", "--dry-run"], env={"SADA_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert "fake: 3 mentions, 0 dead-lettered" in result.output


def test_an_unknown_processor_stage_names_the_choices() -> None:
    result = runner.invoke(app, ["process", "--stage", "sentiment"])
    assert result.exit_code == 2
    assert "--stage must be all, score or detect, not 'sentiment'" in result.output


def _routes_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_text(
        "clients:\n"
        "  - id: northwind\n"
        "    name: Northwind\n"
        f"    routes: {{pr-slack: {{type: slack, url: '{url}', allow_private: true}}}}\n"
        "    brands: [{id: skyline-air, name: Skyline Air, include: [skyline]}]\n",
        encoding="utf-8",
    )
    return path


def test_test_route_sends_a_test_alert_and_says_so(tmp_path: Path) -> None:
    server = Scripted()
    try:
        path = _routes_file(tmp_path, f"{server.base_url}/services/T/B/x")
        result = runner.invoke(app, ["config", "test-route", str(path), "northwind", "pr-slack"])
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert "route 'pr-slack' (slack): test alert delivered" in result.stdout
    (post,) = server.posted
    assert "A test of route 'pr-slack'" in post.json()["text"]


def test_test_route_reports_a_refusal_and_unknown_names(tmp_path: Path) -> None:
    server = Scripted(Answer(404, "no_service"))
    try:
        path = _routes_file(tmp_path, f"{server.base_url}/services/T/B/x")
        refused = runner.invoke(app, ["config", "test-route", str(path), "northwind", "pr-slack"])
    finally:
        server.close()
    assert refused.exit_code == 2 and "404 no_service" in refused.output
    unknown = runner.invoke(app, ["config", "test-route", str(path), "northwind", "ops"])
    assert unknown.exit_code == 2 and "no route 'ops' (routes: pr-slack)" in unknown.output
    nobody = runner.invoke(app, ["config", "test-route", str(path), "acme", "ops"])
    assert nobody.exit_code == 2 and "no client 'acme' (clients: northwind)" in nobody.output


def test_init_writes_the_sample_and_overwrites_only_with_force(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    wrote = runner.invoke(app, ["init", str(path)])
    assert wrote.exit_code == 0, wrote.output
    assert path.read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")
    assert f"sada config check {path}" in wrote.output
    path.write_text("mine", encoding="utf-8")
    refused = runner.invoke(app, ["init", str(path)])
    assert refused.exit_code == 2
    assert f"{path} exists; pass --force to overwrite it" in refused.output
    assert path.read_text(encoding="utf-8") == "mine"
    forced = runner.invoke(app, ["init", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert path.read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")


def test_a_missing_clients_file_points_at_init_which_writes_it(tmp_path: Path) -> None:
    env = {"SADA_CONFIG": str(tmp_path / "conf" / "clients.yaml")}  # as the default would be
    missing = runner.invoke(app, ["ingest", "--dry-run"], env=env)
    assert missing.exit_code == 2
    assert f"no clients file at {env['SADA_CONFIG']}: write one with `sada init`" in missing.output
    wrote = runner.invoke(app, ["init"], env=env)
    assert wrote.exit_code == 0, wrote.output
    assert "SADA_CONFIG=" not in wrote.output  # the stages find it without
    found = runner.invoke(app, ["ingest", "--dry-run"], env=env)
    assert "lists no sources" in found.output  # the sample watches no live source


def test_query_test_says_which_texts_match_and_why() -> None:
    result = runner.invoke(
        app, ["query", "test", "iphone NOT @careem", "بالiPhone", "iphone via @careem"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "match: بالiPhone",
        "  iphone: found 'بالiphone', after an Arabic clitic",
        "  NOT @careem: not found",
        "no match: iphone via @careem",
        "  iphone: found 'iphone', as written",
        "  NOT @careem: found '@careem', as written",
        "1 of 2 texts matched",
    ]


def test_query_test_reads_texts_from_stdin() -> None:
    lines = "#Samsung_Egypt\n\nsupport@samsung.com\n"
    result = runner.invoke(app, ["query", "test", "@samsung OR samsung_egypt"], input=lines)
    assert result.exit_code == 0, result.output
    assert "match: #Samsung_Egypt" in result.output
    assert "no match: support@samsung.com" in result.output
    assert result.output.endswith("1 of 2 texts matched\n")


def test_query_test_reports_a_bad_query_as_config_check_does() -> None:
    result = runner.invoke(app, ["query", "test", "(apple", "an apple"])
    assert result.exit_code == 2
    assert (
        'error: query \'(apple\': at character 7: expected ")" to close the "(" at character 1'
        in result.output
    )
