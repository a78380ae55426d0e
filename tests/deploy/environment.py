"""What the deployment files may say about Sada, taken from the code: the SADA_* variables that
exist, the commands the CLI accepts, and the settings an environment gives."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_args

import typer

from console.app import configured_port
from core.config import _SECRETS, Settings
from processors.app import Stage
from sada.cli import app

DEPLOY = Path(__file__).parents[2] / "deploy"
IMAGE = "sada:0.1.0"  # the image every deployment runs: pyproject's name and version


def known_variables() -> set[str]:
    """Every SADA_* variable Sada reads: one per Settings field, a *_FILE twin per secret, and
    the console's port (read by console.app, not Settings)."""
    names = {f"SADA_{name.upper()}" for name in Settings.model_fields if name != "config_path"}
    names |= {"SADA_CONFIG"} | {f"SADA_{name.upper()}_FILE" for name in _SECRETS}
    assert "SADA_CONSOLE_PORT" in inspect.getsource(configured_port)
    return names | {"SADA_CONSOLE_PORT"}


def unknown_variables(env: dict[str, str]) -> set[str]:
    return {name for name in env if name.startswith("SADA_")} - known_variables()


def settings_from(env: dict[str, str], tmp_path: Path) -> Settings:
    """The Settings a stage would read from `env`, each secret file stood in for by a local one
    (the mounted files exist only where it runs)."""
    local = dict(env)
    for name in _SECRETS:
        variable = f"SADA_{name.upper()}_FILE"
        if variable in local:
            stand_in = tmp_path / variable
            stand_in.write_text("not-the-real-secret\n", encoding="utf-8")
            local[variable] = str(stand_in)
    return Settings.from_env(local)


def check_command(args: list[str]) -> None:
    """Parse `sada ARGS` as the CLI would, without running it: an unknown command or option,
    or a --stage the processors do not have, fails."""
    name, *rest = args
    command = typer.main.get_command(app).get_command(None, name)  # type: ignore[attr-defined]
    assert command is not None, f"sada has no command {name!r}"
    command.make_context(name, list(rest))
    if name == "process":
        assert rest[rest.index("--stage") + 1] in get_args(Stage)


def serves_health(args: list[str]) -> bool:
    """Whether this stage serves /metrics, /healthz and /readyz (every stage but the console)."""
    return args[0] in {"ingest", "process", "sinks"}
