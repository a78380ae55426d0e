"""Index scored mentions (and alerts) into Elasticsearch with the bulk API.

Every document's `_id` is deterministic (the mention uid with its brand, the alert id), so a
replay overwrites instead of duplicating. The bundled server has no analysis-common module (no
Arabic analyzer), so searches use `text_normalized`, which the pipeline fills with its own
normalisation: Kibana finds a word the way the matcher does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError
from elasticsearch import TransportError as ESTransportError

from core import metrics
from core.errors import Fatal, RetryLater
from core.events import Alert, Record, ScoredMention
from core.retry import retry_after

R = TypeVar("R", bound=Record)

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
LONG = {"type": "long"}

MENTION_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "uid": KEYWORD,
        "client": KEYWORD,
        "brand": KEYWORD,
        "brand_key": KEYWORD,
        "source": KEYWORD,
        "url": KEYWORD,
        "author": {"properties": {"handle": KEYWORD, "name": KEYWORD, "followers": LONG}},
        "text": {"type": "text"},
        "text_normalized": {"type": "text"},
        "language": KEYWORD,
        "language_hint": KEYWORD,
        "created_at": DATE,
        "fetched_at": DATE,
        "engagement": {"properties": {"likes": LONG, "reposts": LONG, "replies": LONG}},
        "sentiment": {
            "properties": {"label": KEYWORD, "probability": {"type": "float"}, "model": KEYWORD}
        },
        "triage": KEYWORD,
        "triage_rule": {"type": "text"},
        "matched_terms": KEYWORD,
        "duplicate_of": KEYWORD,
    },
}

ALERT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": KEYWORD,
        "status": KEYWORD,
        "client": KEYWORD,
        "brand": KEYWORD,
        "kind": KEYWORD,
        "window_start": DATE,
        "window_end": DATE,
        "raised_at": DATE,
        "observed": {"type": "float"},
        "expected": {"type": "float"},
        "score": {"type": "float"},
        "severity": KEYWORD,
        "sample_uids": KEYWORD,
        "explanation": {"type": "text"},
    },
}


def mention_document(record: ScoredMention) -> tuple[str, dict[str, Any]]:
    """Flatten a scored mention into the document Kibana shows."""
    m = record.mention
    return record.doc_id, {
        "uid": m.uid,
        "client": record.client,
        "brand": record.brand,
        "brand_key": record.key,
        "source": m.source,
        "url": m.url,
        "author": m.author.model_dump(),
        "text": m.text,
        "text_normalized": record.text_normalized,
        "language": record.language,
        "language_hint": m.language_hint,
        "created_at": m.created_at.isoformat(),
        "fetched_at": m.fetched_at.isoformat(),
        "engagement": m.engagement.model_dump(),
        "sentiment": record.sentiment.model_dump(),
        "triage": record.triage,
        "triage_rule": record.triage_rule,
        "matched_terms": record.matched_terms,
        "duplicate_of": record.duplicate_of,
    }


def alert_document(alert: Alert) -> tuple[str, dict[str, Any]]:
    return alert.id, alert.model_dump(mode="json", exclude={"schema_version"})


class ElasticsearchSink(Generic[R]):
    """Bulk-indexes one record type into one index, creating the index with its mapping."""

    def __init__(
        self,
        url: str,
        index: str,
        mapping: dict[str, Any],
        to_document: Callable[[R], tuple[str, dict[str, Any]]],
    ) -> None:
        self.url, self.index, self._mapping, self._to_document = url, index, mapping, to_document
        self._client = AsyncElasticsearch(url, request_timeout=30)

    async def start(self) -> None:
        """Create the index, or add to an existing one the fields a newer Sada writes (a
        strict mapping would reject them); a field whose type changed is an error to fix."""
        try:
            if await self._client.indices.exists(index=self.index):
                await self._client.indices.put_mapping(
                    index=self.index, properties=self._mapping["properties"]
                )
                return
            await self._client.indices.create(
                index=self.index,
                mappings=self._mapping,
                settings={"number_of_shards": 1, "number_of_replicas": 0},
            )
        except BadRequestError as exc:
            if exc.error == "illegal_argument_exception":
                raise Fatal(
                    f"index {self.index} at {self.url} has a mapping this version of Sada cannot "
                    f"extend ({exc.message}: {exc.info}); reindex into a new index or point "
                    "the index setting at a new name"
                ) from exc
            if exc.error != "resource_already_exists_exception":  # another indexer won the race
                raise
        except (ApiError, ESTransportError) as exc:
            raise self._failure(exc, "creating the index") from exc

    async def write(self, batch: Sequence[R]) -> list[tuple[R, str]]:
        operations: list[dict[str, Any]] = []
        for record in batch:
            doc_id, document = self._to_document(record)
            operations += [{"index": {"_index": self.index, "_id": doc_id}}, document]
        started = time.perf_counter()
        try:
            response = await self._client.bulk(operations=operations)
        except (ApiError, ESTransportError) as exc:
            raise self._failure(exc, "indexing") from exc
        metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        rejected: list[tuple[R, str]] = []
        busy = 0
        for record, item in zip(batch, response["items"], strict=True):
            result = item["index"]
            if result.get("status", 500) == 429 or _blocked(result.get("error", {}).get("type")):
                busy += 1
            elif "error" in result:
                error = result["error"]
                rejected.append((record, f"Elasticsearch refused the document: {error}"))
        if busy:
            raise RetryLater(
                f"Elasticsearch at {self.url} is overloaded or read-only (a full disk: the "
                f"flood-stage watermark) and refused {busy} documents for now"
            )
        metrics.INDEXED.inc(len(batch) - len(rejected))
        return rejected

    async def close(self) -> None:
        await self._client.close()

    async def check(self) -> bool:
        try:
            health = await self._client.cluster.health()
            return health["status"] in ("green", "yellow")
        except (ApiError, ESTransportError):
            return False

    def _failure(self, exc: ApiError | ESTransportError, doing: str) -> Exception:
        """A failed request as Fatal (credentials refused: retrying will not help), RetryLater
        (away, busy, read-only: it will pass), or itself (a bug to see)."""
        where = f"Elasticsearch at {self.url}, {doing} {self.index}"
        if isinstance(exc, ESTransportError):
            return RetryLater(f"{where}: unreachable ({exc})")
        if exc.status_code in (401, 403) and not _blocked(exc.error):
            return Fatal(
                f"{where}: refused with {exc.status_code} ({exc.error}); give Sada credentials "
                "that may write this index (user:password in SADA_ES_URL) and restart"
            )
        if exc.status_code == 429 or exc.status_code >= 500 or _blocked(exc.error):
            wait = retry_after(exc.meta.headers.get("retry-after"))
            return RetryLater(f"{where}: busy or read-only ({exc.status_code} {exc.error})",
                              after_seconds=wait)
        return exc


def _blocked(error_type: object) -> bool:
    """An index or cluster block (read-only after the flood-stage disk watermark, or set by an
    operator): writes wait until it is lifted; the documents are not at fault."""
    return error_type == "cluster_block_exception"


def mentions_sink(url: str, index: str) -> ElasticsearchSink[ScoredMention]:
    return ElasticsearchSink(url, index, MENTION_MAPPING, mention_document)


def alerts_sink(url: str, index: str) -> ElasticsearchSink[Alert]:
    return ElasticsearchSink(url, index, ALERT_MAPPING, alert_document)
