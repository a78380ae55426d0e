"""Index scored mentions (and alerts) into Elasticsearch with the bulk API.

Every document's `_id` is deterministic (the mention uid with its brand, the alert id), so a
replay overwrites instead of duplicating. The bundled server has no analysis-common module (no
Arabic analyzer), so searches use `text_normalized`, which the pipeline fills with its own
normalisation: Kibana finds a word the way the matcher does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError
from elasticsearch import TransportError as ESTransportError
from pydantic import BaseModel

from core import metrics
from core.errors import Fatal, RetryLater
from core.events import Alert, Mention, Record, ScoredMention
from core.retry import retry_after

R = TypeVar("R", bound=Record)

KEYWORD = {"type": "keyword"}
# Strings are keywords (exact filters, aggregations) except these, analysed for full-text search.
FULL_TEXT = frozenset({"text", "text_normalized", "triage_rule", "explanation"})
_TYPES = {str: "keyword", datetime: "date", int: "long", float: "float", bool: "boolean"}
# Record fields left out of the documents: the wire version; the mention inside a scored one,
# whose fields are flattened beside it; the source's own id, which the uid stands for.
MENTION_SKIPPED = {"schema_version", "source_id"}
SCORED_SKIPPED = {"schema_version", "mention"}
ALERT_SKIPPED = {"schema_version"}


def properties(model: type[BaseModel], skipped: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    """The mapping of a record's fields, read from their annotations: adding a field to a
    record adds it to the index."""
    return {
        name: {"type": "text"}
        if name in FULL_TEXT
        else _field_mapping(info.annotation, f"{model.__name__}.{name}")
        for name, info in model.model_fields.items()
        if name not in skipped
    }


def _field_mapping(annotation: Any, where: str) -> dict[str, Any]:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # a constrained type (Count): the type is the first argument
        return _field_mapping(args[0], where)
    if origin is Literal:
        return KEYWORD
    present = [a for a in args if a is not type(None)]
    if origin in (list, Union, UnionType) and len(present) == 1:  # list[str], str | None
        return _field_mapping(present[0], where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"properties": properties(annotation)}
    if annotation in _TYPES:
        return {"type": _TYPES[annotation]}
    raise TypeError(
        f"{where}: no Elasticsearch type for {annotation}; map it in sinks/elasticsearch.py"
    )


MENTION_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {"brand_key": KEYWORD}
    | properties(Mention, MENTION_SKIPPED)
    | properties(ScoredMention, SCORED_SKIPPED),
}
ALERT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": properties(Alert, ALERT_SKIPPED),
}


def mention_document(record: ScoredMention) -> tuple[str, dict[str, Any]]:
    """Flatten a scored mention into the document Kibana shows: the mention's fields beside
    the scoring's. Times are written as `isoformat()` (+00:00), as every earlier version did."""
    fields = record.mention.model_dump(exclude=MENTION_SKIPPED) | record.model_dump(
        exclude=SCORED_SKIPPED
    )
    return record.doc_id, {"brand_key": record.key} | {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in fields.items()
    }


def alert_document(alert: Alert) -> tuple[str, dict[str, Any]]:
    return alert.id, alert.model_dump(mode="json", exclude=ALERT_SKIPPED)


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
            status = result.get("status", 500)
            if status == 429 or status >= 500 or _blocked(result.get("error", {}).get("type")):
                busy += 1  # busy, read-only, or a shard not yet allocated: never dead-lettered
            elif "error" in result:
                error = result["error"]
                rejected.append((record, f"Elasticsearch refused the document: {error}"))
        if busy:
            raise RetryLater(
                f"Elasticsearch at {self.url} is overloaded, read-only (a full disk: the "
                f"flood-stage watermark) or missing a shard, and refused {busy} documents for now"
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
            return RetryLater(
                f"{where}: busy or read-only ({exc.status_code} {exc.error})", after_seconds=wait
            )
        return exc


def _blocked(error_type: object) -> bool:
    """An index or cluster block (read-only after the flood-stage disk watermark, or set by an
    operator): writes wait until it is lifted; the documents are not at fault."""
    return error_type == "cluster_block_exception"


def mentions_sink(url: str, index: str) -> ElasticsearchSink[ScoredMention]:
    return ElasticsearchSink(url, index, MENTION_MAPPING, mention_document)


def alerts_sink(url: str, index: str) -> ElasticsearchSink[Alert]:
    return ElasticsearchSink(url, index, ALERT_MAPPING, alert_document)
