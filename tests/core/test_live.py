"""Reloading the clients file while a worker runs: a valid change is taken up, a bad one is
refused with `sada config check`'s words, an unchanged file changes nothing."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from core.config import SadaConfig, load_config
from core.live import LiveConfig, changes
from sada import SAMPLE_CONFIG
from sada.cli import app, check_clients_file

NEW_BRAND = {"id": "nile-cola", "name": "Nile Cola", "include": ['"Nile Cola"']}


def _reloads(outcome: str) -> float:
    return REGISTRY.get_sample_value("sada_config_reloads_total", {"outcome": outcome}) or 0.0


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_bytes(SAMPLE_CONFIG.read_bytes())
    return path


def _live(path: Path) -> LiveConfig:
    return LiveConfig(load_config(path), path, check=check_clients_file, seconds=0.05)


def _with_brand(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["clients"][1]["brands"].append(copy.deepcopy(NEW_BRAND))
    return data


def test_an_unchanged_file_changes_nothing(clients_file: Path) -> None:
    live = _live(clients_file)
    before = live.config
    derived = live.derive(lambda config: object())
    first = derived()
    assert asyncio.run(live.reload()) is False  # the first read: same content as at start
    clients_file.write_text(clients_file.read_text() + "\n# a comment\n", encoding="utf-8")
    assert asyncio.run(live.reload()) is False  # new bytes, same configuration
    assert live.config is before and derived() is first


def test_a_valid_change_is_taken_up_and_rebuilds_what_derives_from_it(
    clients_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = _live(clients_file)
    brands = live.derive(lambda config: {b.id for c in config.clients for b in c.brands})
    assert "nile-cola" not in brands()
    applied = _reloads("applied")
    _write(clients_file, _with_brand(clients_file))
    with caplog.at_level(logging.WARNING, "core.live"):
        assert asyncio.run(live.reload()) is True
    assert "nile-cola" in brands()
    assert _reloads("applied") == applied + 1
    assert "clients file reloaded: brands +northwind/nile-cola" in caplog.text


def test_a_bad_change_is_refused_with_the_config_checks_words_and_the_old_one_stays(
    clients_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = _live(clients_file)
    before = live.config
    refused = _reloads("refused")
    data = _with_brand(clients_file)
    data["clients"][1]["brands"][-1]["include"] = ["(Nile AND"]  # a query that does not parse
    _write(clients_file, data)
    with caplog.at_level(logging.ERROR, "core.live"):
        assert asyncio.run(live.reload()) is False
        assert asyncio.run(live.reload()) is False  # the same bad file: refused once
    assert live.config is before
    assert _reloads("refused") == refused + 1
    checked = CliRunner().invoke(app, ["config", "check", str(clients_file)])
    assert checked.exit_code == 2
    said = checked.output.removeprefix("error: ").strip()
    assert "include[0]" in said
    assert caplog.text.count(said) == 1


def test_follow_takes_up_a_change_while_running(clients_file: Path) -> None:
    live = _live(clients_file)

    async def edit_and_wait() -> SadaConfig:
        following = asyncio.create_task(live.follow())
        _write(clients_file, _with_brand(clients_file))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(live.config.clients[1].brands) == 4:
                break
        following.cancel()
        return live.config

    assert [b.id for b in asyncio.run(edit_and_wait()).clients[1].brands][-1] == "nile-cola"


def test_changes_name_what_was_added_removed_and_changed(clients_file: Path) -> None:
    old = load_config(clients_file)
    data = _with_brand(clients_file)
    data["clients"][0]["brands"].pop()  # zain
    data["clients"][1]["brands"][0]["include"].append("SkyAir")
    data["clients"][1]["routes"]["ops-webhook"]["url"] = "http://127.0.0.1:9/other"
    _write(clients_file, data)
    assert changes(old, load_config(clients_file)) == (
        "clients ~northwind; brands +northwind/nile-cola; brands -nagham-agency/zain; "
        "brands ~northwind/skyline-air"
    )
