from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from core.config import SadaConfig, load_config
from core.errors import Fatal, Rejected
from core.events import Mention
from core.live import LiveConfig
from ingest import runner, synthetic
from ingest.producer import PrintEmitter
from ingest.runner import Job
from ingest.source import Kind, Source


class _Config(BaseModel):
    poll_interval_seconds: float = 60.0


def _source(fetch: Any, kind: Kind = "finite") -> Source[_Config]:
    return Source("test", _Config, fetch, kind)


async def test_a_failing_source_is_restarted_and_never_stops_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "RESTART_DELAY_SECONDS", 0.01)
    attempts = 0

    async def broken(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("the API moved")
        yield  # pragma: no cover - makes this an async generator

    good = list(synthetic.generate(synthetic.Config(count=20, spike_minutes=0)))

    async def healthy(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        for mention in good:
            yield mention

    out = io.StringIO()
    jobs = [
        Job("broken", _source(broken), _Config()),
        Job("healthy", _source(healthy), _Config()),
    ]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(runner.run(jobs, PrintEmitter(out)), timeout=0.5)
    assert attempts >= 3
    assert len(out.getvalue().splitlines()) == 20


async def test_a_polling_source_is_fetched_again_after_its_interval() -> None:
    rounds = 0

    async def poll(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        nonlocal rounds
        rounds += 1
        yield Rejected(payload="x", reason=f"round {rounds}")

    out = io.StringIO()
    job = Job("poll", _source(poll, "polling"), _Config(poll_interval_seconds=0.05))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(runner.run([job], PrintEmitter(out)), timeout=0.4)
    assert 3 <= rounds <= 9
    assert '"round 1"' in out.getvalue()


async def test_a_fatal_error_ends_the_run_instead_of_a_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most of a source's items dead-lettered (the emitter's breaker): restarting would only
    dead-letter the rest, so the run ends with the error."""
    monkeypatch.setattr(runner, "RESTART_DELAY_SECONDS", 0.01)
    attempts = 0

    async def changed_upstream(config: object, client: object) -> AsyncIterator[Mention]:
        nonlocal attempts
        attempts += 1
        raise Fatal("ingest:api: 100 of the last 100 records were dead-lettered")
        yield  # pragma: no cover - makes this an async generator

    job = Job("api", _source(changed_upstream, "polling"), _Config(poll_interval_seconds=0.01))
    with pytest.raises(Fatal, match="dead-lettered"):
        await asyncio.wait_for(runner.run([job], PrintEmitter(io.StringIO())), timeout=5)
    assert attempts == 1


async def test_each_item_a_source_yields_says_when_it_was_last_heard_from() -> None:
    good = list(synthetic.generate(synthetic.Config(count=3, spike_minutes=0)))

    async def fetch(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        for mention in good:
            yield mention

    async def silent(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        return
        yield  # pragma: no cover - makes this an async generator

    jobs = [Job("heard", _source(fetch), _Config()), Job("silent", _source(silent), _Config())]
    before = time.time()
    await runner.run(jobs, PrintEmitter(io.StringIO()), once=True)
    heard = REGISTRY.get_sample_value(
        "sada_source_last_item_timestamp_seconds", {"source": "heard"}
    )
    assert heard is not None and before <= heard <= time.time()
    assert (
        REGISTRY.get_sample_value("sada_source_last_item_timestamp_seconds", {"source": "silent"})
        is None
    )


class _SearchConfig(BaseModel):
    poll_interval_seconds: float = 0.05
    terms: list[str] = []


def _clients_file(path: Path, brands: list[str]) -> None:
    listed = ", ".join(f"{{id: {b}, name: {b}, include: [{b}]}}" for b in brands)
    path.write_text(f"clients:\n  - id: acme\n    name: Acme\n    brands: [{listed}]\n")


async def test_a_live_run_follows_the_clients_file(tmp_path: Path) -> None:
    """A brand added restarts the job whose terms it changes, not the others; a broken file
    changes nothing."""
    path = tmp_path / "clients.yaml"
    _clients_file(path, ["alpha"])
    live = LiveConfig(load_config(path), path, seconds=0.05)
    searched: list[list[str]] = []
    steady_runs = 0

    async def search(config: _SearchConfig, client: object) -> AsyncIterator[Mention | Rejected]:
        searched.append(config.terms)
        yield Rejected(payload="x", reason="searched")

    async def steady(config: object, client: object) -> AsyncIterator[Mention | Rejected]:
        nonlocal steady_runs
        steady_runs += 1
        yield Rejected(payload="x", reason="steady")

    def build(config: SadaConfig) -> list[Job]:
        terms = [b.id for c in config.clients for b in c.brands]
        return [
            Job(
                "search",
                Source("search", _SearchConfig, search, "polling"),
                _SearchConfig(terms=terms),
            ),
            Job("steady", _source(steady), _Config()),
        ]

    run = asyncio.create_task(runner.run_live(live, build, PrintEmitter(io.StringIO())))
    await _until(lambda: ["alpha"] in searched)
    _clients_file(path, ["alpha", "beta"])
    await _until(lambda: ["alpha", "beta"] in searched)
    path.write_text("clients: [{id: acme}]\n")  # no name, no brands: refused
    before = len(searched)
    await _until(lambda: len(searched) > before + 3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert searched[-1] == ["alpha", "beta"] and steady_runs == 1


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
