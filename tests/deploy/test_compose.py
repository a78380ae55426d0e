"""deploy/compose/ without a Docker engine (none here): the compose file is valid against the
compose-spec JSON schema, and what it says about Sada matches the code: variables, commands,
ports, image, versions, and what the Dockerfile copies."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sada import services
from tests.deploy.environment import (
    DEPLOY,
    IMAGE,
    check_command,
    serves_health,
    settings_from,
    unknown_variables,
)

COMPOSE = DEPLOY / "compose"
ROOT = DEPLOY.parent


def _compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))


def _sada_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _compose()["services"].items() if s.get("image") == IMAGE}


def _compose_schema() -> dict[str, Any]:
    """The compose-spec schema as check-jsonschema vendors it (read as data: its CLI is not used)."""
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec and spec.submodule_search_locations
    vendor = Path(spec.submodule_search_locations[0]) / "builtin_schemas" / "vendor"
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


def test_the_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    broken = _compose()
    broken["services"]["sinks"]["restart"] = ["always"]
    assert list(validator.iter_errors(broken)), "the schema must catch a wrong type"


def test_every_stage_and_the_supporting_services_are_there() -> None:
    compose = _compose()
    commands = [s["command"] for s in _sada_services().values()]
    assert sorted(c[:3] for c in commands) == sorted(
        [["console", "--host", "0.0.0.0"], ["ingest"], ["process", "--stage", "detect"]]
        + [["process", "--stage", "score"], ["sinks"]]
    )
    assert {"kafka", "elasticsearch", "kibana", "prometheus", "grafana"} <= set(compose["services"])
    assert compose["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_command_is_one_the_cli_accepts() -> None:
    for service in _sada_services().values():
        check_command(service["command"])
    with pytest.raises(Exception, match="--stages"):
        check_command(["process", "--stages", "score"])


def test_the_environment_is_settings_sada_reads(tmp_path: Path) -> None:
    for name, service in _sada_services().items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert unknown_variables(env) == set(), name
        settings = settings_from(env, tmp_path)
        assert settings.kafka_bootstrap.split(":")[0] in _compose()["services"]
        assert settings.es_password is not None
        assert settings.metrics_host == "0.0.0.0"  # Prometheus scrapes from another container
        secret = Path(service["environment"]["SADA_ES_PASSWORD_FILE"])
        assert secret.parent == Path("/run/secrets") and secret.name in service["secrets"]
    dockerfile = (COMPOSE / "Dockerfile").read_text(encoding="utf-8")
    assert unknown_variables(dict(re.findall(r"(SADA_\w+)=(\S+)", dockerfile))) == set()


def test_health_checks_and_scrapes_use_the_metrics_port() -> None:
    scrape = yaml.safe_load((COMPOSE / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    }
    expected = set()
    for name, service in _sada_services().items():
        check = " ".join(service["healthcheck"]["test"])
        if serves_health(service["command"]):
            port = service["environment"]["SADA_METRICS_PORT"]
            assert f"http://127.0.0.1:{port}/readyz" in check, name
            expected.add(f"{name}:{port}")
        else:
            assert "/login" in check and "8080" in service["command"], name
    assert targets == expected
    dockerfile = (COMPOSE / "Dockerfile").read_text(encoding="utf-8")
    port = _compose()["x-sada"]["environment"]["SADA_METRICS_PORT"]
    assert f"EXPOSE {port}" in dockerfile and f"SADA_METRICS_PORT={port}" in dockerfile


def test_images_and_versions_match_what_sada_runs_locally() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert f"{project['name']}:{project['version']}" == IMAGE
    pom = (ROOT / "sada" / "local" / "pom.xml").read_text(encoding="utf-8")
    kafka = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    images = {name: s["image"] for name, s in _compose()["services"].items()}
    assert kafka and images["kafka"] == f"apache/kafka:{kafka.group(1)}"
    assert images["elasticsearch"].endswith(f":{services.ES_VERSION}")
    assert images["kibana"].endswith(f":{services.ES_VERSION}")


def test_the_dockerfile_installs_the_packages_pyproject_names() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    packages = {p.rstrip("*") for p in find["packages"]["find"]["include"]}
    dockerfile = (COMPOSE / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.MULTILINE))
    assert copied == packages
    assert "pip install --no-cache-dir ." in dockerfile
    ignore = (COMPOSE / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert packages <= set(re.findall(r"^!(\w+)$", ignore, re.MULTILINE))
    assert (
        COMPOSE / _compose()["x-sada"]["build"]["dockerfile"].removeprefix("deploy/compose/")
    ).exists()


def test_every_file_it_mounts_is_in_the_repository_or_made_by_the_operator() -> None:
    made_by_the_operator = {COMPOSE / "clients.yaml"} | {
        (COMPOSE / s["file"]).resolve() for s in _compose()["secrets"].values()
    }
    mounted = [
        (COMPOSE / volume.split(":")[0]).resolve()
        for service in _compose()["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]
    assert mounted, "the stack mounts its configuration"
    missing = [p for p in mounted if not p.exists() and p not in made_by_the_operator]
    assert missing == []
