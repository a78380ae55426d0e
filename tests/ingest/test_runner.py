from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from core.errors import Fatal, Rejected
from core.events import Mention
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
