"""The loop every polling source shares, and the per-source metrics it keeps.

A source with several targets (instances, feeds, queries) polls each in turn; a target that
fails (`RetryLater` after its retries, or `SourceError` such as a 401) is logged, counted and
skipped until the next round, so one bad target never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from core.errors import Rejected, RetryLater
from core.metrics import ERRORS, NEWEST_LAG, RECEIVED
from ingest.http import Sleep, SourceError
from ingest.parsing import Item, text_of

log = logging.getLogger(__name__)

T = TypeVar("T")

_newest: dict[str, datetime] = {}


def observe(source: str, items: list[Item]) -> list[Item]:
    """Count what a source took in and how fresh it is; returns the items unchanged."""
    stage = f"ingest.{source}"
    RECEIVED.labels(stage=stage).inc(len(items))
    newest = _newest.get(source)
    for item in items:
        if isinstance(item, Rejected):
            ERRORS.labels(stage=stage, kind="rejected").inc()
        elif newest is None or item.created_at > newest:
            newest = item.created_at
    if newest is not None:
        _newest[source] = newest
        NEWEST_LAG.labels(source=source).set((datetime.now(UTC) - newest).total_seconds())
    return items


def accept_page(source: str, url: str, items: list[Item], payload: bytes) -> list[Item]:
    """The items of a page, or RetryLater if the page as a whole is not what the source sends.

    An HTML error page, an error object or a body cut short is the server's problem, not an
    item's: the cursor stays where it was and the next round reads the page again, so nothing
    is lost (and nothing is dead-lettered for it).
    """
    if len(items) == 1 and isinstance(items[0], Rejected) and (
        items[0].payload == text_of(payload)
    ):
        raise RetryLater(f"{items[0].reason} (from {url.split('?', 1)[0]}); the cursor stays, "
                         "this page is read again next round")
    return items


async def poll(
    source: str,
    targets: Iterable[T],
    run: Callable[[T], AsyncIterator[Item]],
    *,
    interval_seconds: float,
    once: bool,
    sleep: Sleep,
) -> AsyncIterator[Item]:
    """Run every target each round, forever (or one round with `once`), isolating failures."""
    targets = list(targets)
    while True:
        for target in targets:
            try:
                async for item in run(target):
                    yield item
            except (RetryLater, SourceError) as exc:
                kind = "retry_later" if isinstance(exc, RetryLater) else "source"
                ERRORS.labels(stage=f"ingest.{source}", kind=kind).inc()
                log.warning("%s; skipping %s until the next round", exc, target)
        if once:
            return
        await sleep(interval_seconds)
