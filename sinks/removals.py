"""Posts their platform deleted: their documents go from every client's index.

The platforms' terms require it (Meta's webhooks, X's compliance events): a source yields a
`Removal`, which reaches this sink on `<ns>.mentions.removed`. A removal that overtakes its own
mention (deleted within seconds, before the mention was indexed) finds nothing to delete;
`docs/ingest.md` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core import metrics
from core.config import Settings
from core.events import Removal
from sinks.elasticsearch import mentions_sink

log = logging.getLogger(__name__)


class RemovalSink:
    """Deletes the documents of removed mentions, through the mentions sink's index and client."""

    def __init__(self, settings: Settings) -> None:
        self._mentions = mentions_sink(settings)

    async def start(self) -> None:
        await self._mentions.start()

    async def write(self, batch: Sequence[Removal]) -> list[tuple[Removal, str]]:
        deleted = await self._mentions.delete_uids([removal.uid for removal in batch])
        metrics.REMOVED.inc(deleted)
        log.info("%d removed mentions: %d documents deleted", len(batch), deleted)
        return []

    async def close(self) -> None:
        await self._mentions.close()

    async def check(self) -> bool:
        return await self._mentions.check()
