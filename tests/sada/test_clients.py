"""`sada clients grant`: the role that keeps a client to its own indices, and its refusals."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from core.config import Settings
from sada.cli import app
from sada.clients import role, role_name
from tests.sada.test_retention import _config


def _matches(pattern: str, index: str) -> bool:
    """Whether a role's index name grants `index`: a /regex/ (Lucene's syntax, here only
    classes, counts and an escaped dot, which Python reads alike) or an exact name."""
    if pattern.startswith("/"):
        return re.fullmatch(pattern.strip("/"), index) is not None
    return pattern == index


def test_the_role_reads_only_its_clients_aliases_and_months() -> None:
    [grant] = role("ns", "acme")["indices"]
    assert grant["privileges"] == ["read", "view_index_metadata"]
    names = grant["names"]
    granted = [
        "ns-mentions-acme",
        "ns-alerts-acme",
        "ns-mentions-acme-2026.01",
        "ns-alerts-acme-1999.12",
    ]
    refused = [
        "ns-mentions",  # every client's alias
        "ns-alerts",
        "ns-mentions-acme-eu",  # a client whose id starts like acme's
        "ns-mentions-acme-eu-2026.01",
        "ns-mentions-acme-2026.1",
        "ns-mentions-acme-2026x01",
        "other-mentions-acme-2026.01",
        "ns-mentions-beta-2026.01",
    ]
    assert [i for i in granted if not any(_matches(p, i) for p in names)] == []
    assert [i for i in refused if any(_matches(p, i) for p in names)] == []
    assert role_name("ns", "acme") == "ns-client-acme"


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    _config(tmp_path / "clients.yaml")
    return {"SADA_NAMESPACE": settings.namespace, "SADA_CONFIG": str(tmp_path / "clients.yaml")}


def test_print_role_gives_the_roles_yml_entry(tmp_path: Path) -> None:
    env = _env(Settings(namespace="ns"), tmp_path)
    result = CliRunner().invoke(app, ["clients", "grant", "acme-eu", "--print-role"], env=env)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout) == {"ns-client-acme-eu": role("ns", "acme-eu")}


def test_an_unknown_client_is_named_with_the_known_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["clients", "grant", "acme-us"], env=_env(Settings(), tmp_path)
    )
    assert result.exit_code == 2
    assert "no client 'acme-us' (clients: acme, acme-eu)" in result.output


def test_granting_on_a_node_without_security_says_so(settings: Settings, tmp_path: Path) -> None:
    """The plain local node has no security module: nothing to grant with, and no key."""
    result = CliRunner().invoke(app, ["clients", "grant", "acme"], env=_env(settings, tmp_path))
    assert result.exit_code == 2
    assert "has no security to grant with" in result.output
    assert "xpack.security.enabled: true" in result.output
    assert result.stdout == ""
