"""Sada as a user gets it: the wheel built from this tree, installed with pip into a fresh venv
(its dependencies from PyPI, quick from pip's cache after the first run), run from a directory
that is not the repository. Package data missing from the wheel, or a file looked up in the
checkout, fails here and nowhere else: the other tests run on the source tree. About 35 s once
pip's cache holds the dependencies; an integration test, for `sada services status`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings

REPO = Path(__file__).resolve().parents[2]
BUILT = ("pyproject.toml", "README.md", "core", "ingest", "processors", "sinks", "sada")


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> str:
    """Run a command to completion; its stdout, or a failure showing everything it printed."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its dependencies, and nothing of the repository."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in BUILT:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(REPO / name, source / name)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "-q", "--no-deps", "-w", work / "dist", source, cwd=work, timeout=120)
    (wheel,) = (work / "dist").glob("sada-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    run(*pip, "--python", venv / "bin" / "python", "install", "-q", wheel, cwd=work, timeout=180)
    return venv


def test_the_installed_wheel_checks_the_sample_writes_a_starter_and_sees_the_services(
    venv: Path, local_services: Settings, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SADA_")},
        "HOME": str(tmp_path / "home"),  # `sada init` and the cache dir stay out of the real home
        "SADA_KAFKA_BOOTSTRAP": local_services.kafka_bootstrap,
        "SADA_ES_URL": local_services.es_url,
    }
    sada = venv / "bin" / "sada"

    where = "import sada, sada.services as s; print(sada.SAMPLE_CONFIG, *sorted(s.LOCAL.iterdir()))"
    data = run(venv / "bin" / "python", "-c", where, cwd=tmp_path, env=env)
    sample, *local = map(Path, data.split())
    assert sample.is_relative_to(venv), f"sada imported from outside the venv: {sample}"
    assert [p.name for p in local] == [
        "cluster-server.properties",
        "log4j2.properties",
        "pom.xml",
        "secure.properties",
        "server.properties",
    ]

    checked = run(sada, "config", "check", sample, cwd=tmp_path, env=env)
    assert "ok (2 clients, 4 brands, 1 competitors)" in checked

    wrote = run(sada, "init", "x.yaml", cwd=tmp_path, env=env)
    assert "wrote x.yaml" in wrote
    assert "sada config check x.yaml" in wrote
    assert f"SADA_CONFIG={tmp_path / 'x.yaml'} sada process" in wrote
    checked = run(sada, "config", "check", "x.yaml", cwd=tmp_path, env=env)
    assert checked.strip() == "x.yaml: ok (2 clients, 4 brands, 1 competitors)"

    default = run(sada, "init", cwd=tmp_path, env=env)  # SADA_CONFIG's default, under HOME
    assert f"wrote {tmp_path / 'home' / '.config' / 'sada' / 'clients.yaml'}" in default
    assert "SADA_CONFIG=" not in default

    status = run(sada, "services", "status", cwd=tmp_path, env=env).splitlines()
    assert status[0].startswith(f"kafka: up at {local_services.kafka_bootstrap} ")
    assert status[1].startswith(f"elasticsearch: up at {local_services.es_url} ")
