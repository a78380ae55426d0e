"""Runs any set of sources concurrently and hands what they yield to an Emitter.

A source that fails is logged, counted and restarted after a pause; it never stops the others.
Only `Fatal` (most of a source's items dead-lettered) ends the run.
A polling source is fetched again after its config's `poll_interval_seconds`; a streaming or
finite one is done when its fetch ends (ingest/source.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from core import metrics, outbound
from core.errors import Fatal, Rejected
from core.events import Removal
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
