"""A post its platform deleted leaves every client's index, on the real node."""

from __future__ import annotations

from core import connect
from core.config import Settings
from core.events import Removal, ScoredMention, now
from sinks.elasticsearch import mentions_sink
from sinks.removals import RemovalSink
from tests.sinks.test_elasticsearch import _scored


def _for(client: str, records: list[ScoredMention]) -> list[ScoredMention]:
    return [r.model_copy(update={"client": client}) for r in records]


def _removal(record: ScoredMention) -> Removal:
    mention = record.mention
    return Removal(
        uid=mention.uid, source=mention.source, source_id=mention.source_id, removed_at=now()
    )


async def test_a_removed_mention_leaves_every_client_s_index_and_only_it(
    settings: Settings,
) -> None:
    records = _scored(5)
    indexer, removals = mentions_sink(settings), RemovalSink(settings)
    await removals.start()  # before any index exists: nothing to delete, no error
    try:
        assert await removals.write([_removal(records[0])]) == []
        await indexer.start()
        assert await indexer.write(_for("acme", records) + _for("acme-eu", records[:2])) == []
        with connect.elasticsearch(settings) as es:
            es.indices.refresh(index=settings.mentions_index)
            assert await removals.write([_removal(records[0]), _removal(records[3])]) == []
            es.indices.refresh(index=settings.mentions_index)
            hits = es.search(index=settings.mentions_index, size=20)["hits"]["hits"]
        left = sorted((h["_source"]["client"], h["_source"]["uid"]) for h in hits)
        assert left == sorted(
            [("acme", r.mention.uid) for r in (records[1], records[2], records[4])]
            + [("acme-eu", records[1].mention.uid)]
        )
    finally:
        await indexer.close()
        await removals.close()
