"""deploy/systemd/ without installing it: `systemd-analyze verify` checks the units (in a
scratch root, with a stand-in for the sada command), and what they say about Sada is checked
against the code: each command, the environment files, the metrics ports and the state dir."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.environment import (
    DEPLOY,
    check_command,
    serves_health,
    settings_from,
    unknown_variables,
)

SYSTEMD = DEPLOY / "systemd"

Unit = dict[str, list[tuple[str, str]]]


def _unit(text: str) -> Unit:
    """A unit file as its sections' key=value lines, in order (keys may repeat)."""
    sections: Unit = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            sections[section] = []
        else:
            key, _, value = line.partition("=")
            sections[section].append((key, value))
    return sections


def _values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def _wanted() -> list[str]:
    """The services sada.target starts."""
    (wants,) = _values(
        _unit((SYSTEMD / "sada.target").read_text(encoding="utf-8")), "Unit", "Wants"
    )
    return wants.split()


def _instances() -> dict[str, Unit]:
    """Each service sada.target starts, by name, a template's %i filled in as systemd does."""
    units = {}
    for name in _wanted():
        prefix, at, rest = name.partition("@")
        text = (SYSTEMD / (f"{prefix}@.service" if at else name)).read_text(encoding="utf-8")
        units[name] = _unit(text.replace("%i", rest.removesuffix(".service")))
    return units


def _env_file(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _environment(unit: Unit) -> dict[str, str]:
    """What the unit's EnvironmentFile= lines give, from the files shipped here (same names)."""
    env: dict[str, str] = {}
    for path in _values(unit, "Service", "EnvironmentFile"):
        env |= _env_file(SYSTEMD / Path(path.removeprefix("-")).name)
    return env


def test_every_stage_is_a_unit_sada_target_starts() -> None:
    commands = sorted(
        shlex.split(_values(u, "Service", "ExecStart")[0])[1:4] for u in _instances().values()
    )
    assert commands == [
        ["console", "--host", "127.0.0.1"],
        ["ingest"],
        ["process", "--stage", "detect"],
        ["process", "--stage", "score"],
        ["sinks"],
    ]
    for unit in _instances().values():
        assert _values(unit, "Install", "WantedBy") == ["sada.target"]
        assert _values(unit, "Unit", "PartOf") == ["sada.target"]


def test_each_unit_runs_a_real_command_and_restarts() -> None:
    for name, unit in _instances().items():
        (command,) = _values(unit, "Service", "ExecStart")
        binary, *args = shlex.split(command)
        assert binary == "/opt/sada/venv/bin/sada", name
        check_command(args)
        assert _values(unit, "Service", "Restart") == ["always"], name
        assert _values(unit, "Service", "User") == ["sada"], name


def test_the_environment_files_are_settings_sada_reads(tmp_path: Path) -> None:
    ports = {}
    for name, unit in _instances().items():
        files = _values(unit, "Service", "EnvironmentFile")
        assert files[0] == "/etc/sada/sada.env", "the shared file first, the stage's own after"
        env = _environment(unit)
        assert unknown_variables(env) == set(), name
        settings = settings_from(env, tmp_path)
        (command,) = _values(unit, "Service", "ExecStart")
        if serves_health(shlex.split(command)[1:]):
            assert settings.metrics_port > 0, name
            ports[name] = settings.metrics_port
    assert len(set(ports.values())) == len(ports), "one machine: a port each"
    scraped = re.findall(
        r"127\.0\.0\.1:(\d+)", (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    )
    assert sorted(int(p) for p in scraped) == sorted(ports.values())


def test_ingest_keeps_its_cursors_in_its_state_directory(tmp_path: Path) -> None:
    unit = _instances()["sada-ingest.service"]
    (state,) = _values(unit, "Service", "StateDirectory")
    assert settings_from(_environment(unit), tmp_path).state_dir == Path("/var/lib") / state


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for path in SYSTEMD.glob("*.service"):
        shutil.copy(path, units)
    shutil.copy(SYSTEMD / "sada.target", units)
    sada = tmp_path / "opt" / "sada" / "venv" / "bin" / "sada"  # verify wants ExecStart to exist
    sada.parent.mkdir(parents=True)
    sada.write_text("#!/bin/sh\n")
    sada.chmod(0o755)
    verify = [
        "systemd-analyze",
        "verify",
        "--man=no",
        "--recursive-errors=no",
        f"--root={tmp_path}",
    ]
    done = subprocess.run(
        [*verify, "sada.target", *_wanted()], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr + done.stdout) == (0, "")
    (units / "sada-sinks.service").write_text(
        (SYSTEMD / "sada-sinks.service").read_text().replace("Restart=", "Restartt=")
    )
    broken = subprocess.run(
        [*verify, "sada-sinks.service"], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key" in broken.stderr
