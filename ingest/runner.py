"""Runs any set of sources concurrently and hands what they yield to an Emitter.

A source that fails is logged, counted and restarted after a pause; it never stops the others.
Only `Fatal` (most of a source's items dead-lettered) ends the run. Run from the clients file,
the set of sources follows the file while it runs (`run_live`).
A polling source is fetched again after its config's `poll_interval_seconds`; a streaming or
finite one is done when its fetch ends (ingest/source.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from core import metrics, outbound
from core.config import SadaConfig
from core.errors import Fatal, Rejected
from core.events import Removal
from core.live import LiveConfig
from ingest.producer import Emitter
from ingest.source import Source

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class Job:
    name: str
    source: Source[Any]
    config: BaseModel


@dataclass
class Tally:
    mentions: int = 0
    rejected: int = 0
    removals: int = 0


async def run_once(
    job: Job, emitter: Emitter, client: httpx.AsyncClient, tally: Tally, *, once: bool = False
) -> None:
    """Drain one `fetch` of one source into the emitter. With `once`, a streaming source
    stops when it has caught up instead of running forever."""
    received = metrics.RECEIVED.labels(f"ingest:{job.name}")
    heard = None  # when the source last said anything: none until it first does
    async for item in job.source.items(job.config, client, once=once):
        received.inc()
        heard = heard or metrics.SOURCE_LAST_ITEM.labels(job.name)
        heard.set_to_current_time()
        if isinstance(item, Rejected):
            tally.rejected += 1
            emitter.rejected(job.name, item)
        elif isinstance(item, Removal):
            tally.removals += 1
            emitter.removal(job.name, item)
        else:
            tally.mentions += 1
            emitter.mention(job.name, item)


async def _run_forever(job: Job, emitter: Emitter, client: httpx.AsyncClient, tally: Tally) -> None:
    interval = job.source.interval(job.config)
    while True:
        try:
            await run_once(job, emitter, client, tally)
            if interval is None:
                return
            await asyncio.sleep(interval)
        except (asyncio.CancelledError, Fatal):
            raise
        except Exception as exc:
            metrics.ERRORS.labels(f"ingest:{job.name}", type(exc).__name__).inc()
            log.error(
                "source %s failed: %s; restarting in %.0fs",
                job.name,
                exc,
                RESTART_DELAY_SECONDS,
                exc_info=exc,
            )
            await asyncio.sleep(RESTART_DELAY_SECONDS)


async def run(jobs: list[Job], emitter: Emitter, *, once: bool = False) -> dict[str, Tally]:
    """Run every job concurrently; with `once`, each source fetches one round and any error ends it."""
    tallies = {job.name: Tally() for job in jobs}
    try:
        async with outbound.client(follow_redirects=True) as client:  # core/outbound.py
            await asyncio.gather(
                *(
                    run_once(job, emitter, client, tallies[job.name], once=True)
                    if once
                    else _run_forever(job, emitter, client, tallies[job.name])
                    for job in jobs
                )
            )
    finally:
        emitter.close()
    return tallies


async def run_live(
    live: LiveConfig, build: Callable[[SadaConfig], list[Job]], emitter: Emitter
) -> dict[str, Tally]:
    """Run the jobs `build` makes of the clients file, following the file (core/live.py): when
    it changes, a job whose config changed (a brand added changes a searching source's derived
    terms) is restarted with the new config, a job no longer listed is stopped, a new one is
    started; the others go on untouched. A restarted job resumes from its cursor."""
    tallies: dict[str, Tally] = {}
    running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
    try:
        async with outbound.client(follow_redirects=True) as client:
            while True:
                wanted = {job.name: job for job in build(live.config)}
                for name, (job, task) in list(running.items()):
                    if wanted.get(name) != job:
                        task.cancel()
                        del running[name]
                for name, job in wanted.items():
                    if name not in running:
                        tally = tallies.setdefault(name, Tally())
                        work = _run_forever(job, emitter, client, tally)
                        running[name] = (job, asyncio.create_task(work, name=name))
                await _until_changed(live, [task for _, task in running.values()])
    finally:
        for _, task in running.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in running.values()), return_exceptions=True)
        emitter.close()
    return tallies  # not reached: only an error or a cancel ends a live run


async def _until_changed(live: LiveConfig, tasks: list[asyncio.Task[None]]) -> None:
    """Return when the clients file changed; raise what a job failed with (Fatal)."""
    _raise_failure(tasks)
    pending: set[asyncio.Future[None]] = {task for task in tasks if not task.done()}
    reloaded = asyncio.ensure_future(live.next_change())
    try:
        while not reloaded.done():
            done, pending = await asyncio.wait(
                {reloaded, *pending}, return_when=asyncio.FIRST_COMPLETED
            )
            _raise_failure(done - {reloaded})
            pending.discard(reloaded)
        reloaded.result()
    finally:
        reloaded.cancel()


def _raise_failure(tasks: Iterable[asyncio.Future[None]]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()):
            raise error
