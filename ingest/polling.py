"""What every polling source does around its requests: one round over its targets, freshness.

A polling source's `fetch` runs one round and returns; the runner calls it again after the
config's `poll_interval_seconds`. In a round, a target (instance, feed, query) that fails
(`RetryLater` after its retries, or `SourceError` such as a 401) is logged, counted and skipped
until the next round, so one bad target never stops the others.

The polling fields of a source's Config are typed with the aliases below, which carry their
bounds and description once; each source writes its own default, e.g.
`poll_interval_seconds: polling.PollIntervalSeconds = 120.0`, and says more where it has more
to say with `Field(default=..., description=...)`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import Field

from core.errors import Rejected, RetryLater, SourceError
from core.events import Mention
from core.metrics import ERRORS, NEWEST_LAG
from ingest.http import HttpPolicy
from ingest.parsing import Item, text_of

log = logging.getLogger(__name__)

T = TypeVar("T")

PollIntervalSeconds = Annotated[float, Field(gt=0, description="Pause between polls.")]
MaxPagesPerPoll = Annotated[int, Field(ge=1, description="Page cap for one poll.")]
InitialLookbackSeconds = Annotated[
    int, Field(ge=0, description="How far back the first poll (no cursor yet) reaches.")
]
OverlapSeconds = Annotated[
    int, Field(ge=0, description="Re-read window for items the source listed late.")
]
Politeness = Annotated[HttpPolicy, Field(description="Politeness towards the host.")]

_newest: dict[str, datetime] = {}


def observe(source: str, items: list[Item]) -> list[Item]:
    """Track how fresh a source is (newest-item lag); returns the items unchanged.

    Received, sent and dead-lettered counts are the runner's: it sees every item yielded.
    """
    newest = _newest.get(source)
    for item in items:
        if isinstance(item, Mention) and (newest is None or item.created_at > newest):
            newest = item.created_at
    if newest is not None:
        _newest[source] = newest
        lag = (datetime.now(UTC) - newest).total_seconds()
        NEWEST_LAG.labels(source=source).set(max(0.0, lag))
    return items


def accept_page(source: str, url: str, items: list[Item], payload: bytes) -> list[Item]:
    """The items of a page (its freshness observed), or RetryLater if the page as a whole is not
    what the source sends.

    An HTML error page, an error object or a body cut short is the server's problem, not an
    item's: the cursor stays where it was and the next round reads the page again, so nothing
    is lost (and nothing is dead-lettered for it).
    """
    if (
        len(items) == 1
        and isinstance(items[0], Rejected)
        and (items[0].payload == text_of(payload))
    ):
        raise RetryLater(
            f"{items[0].reason} (from {url.split('?', 1)[0]}); the cursor stays, "
            "this page is read again next round"
        )
    return observe(source, items)


async def each_target(
    source: str, targets: Iterable[T], run: Callable[[T], AsyncIterator[Item]]
) -> AsyncIterator[Item]:
    """One round: every target in turn; one that fails is logged, counted and skipped."""
    for target in targets:
        try:
            async for item in run(target):
                yield item
        except (RetryLater, SourceError) as exc:
            kind = "retry_later" if isinstance(exc, RetryLater) else "source"
            ERRORS.labels(stage=f"ingest:{source}", kind=kind).inc()
            log.warning("%s; skipping %s until the next round", exc, target)
