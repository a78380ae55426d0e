"""Index scored mentions (and alerts) into Elasticsearch with the bulk API.

Each client's documents live in monthly indices of its own, `<ns>-mentions-<client>-<YYYY.MM>`
(the month of the mention's `created_at`, of the alert's `window_start`, in UTC), made from an
index template per kind, so a client can be given read access to its own indices only
(`sada clients grant`) and old months dropped whole (`sada retention apply`). Aliases:
`<ns>-mentions` over every client (operators, the demo) and `<ns>-mentions-<client>` over one.

Every document's `_id` is deterministic (the mention uid with its brand, the alert id) and so is
its month, so a replay overwrites instead of duplicating. The bundled server has no analysis-common module (no
Arabic analyzer), so searches use `text_normalized`, which the pipeline fills with its own
normalisation: Kibana finds a word the way the matcher does.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from elasticsearch import ApiError, BadRequestError
from elasticsearch import TransportError as ESTransportError
from pydantic import BaseModel

from core import connect, logs, metrics
from core.config import Settings
from core.errors import Fatal, RetryLater
from core.events import Alert, Mention, Record, ScoredMention
from core.retry import retry_after

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Record)
Kind = Literal["mentions", "alerts"]
KINDS: tuple[Kind, ...] = ("mentions", "alerts")
TEMPLATE_PRIORITY = 200  # above the stack's own templates, should a pattern ever overlap

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


def group_alias(namespace: str, kind: Kind) -> str:
    """The alias over every client's indices of a kind (`Settings.mentions_index`)."""
    return f"{namespace}-{kind}"


def client_alias(namespace: str, kind: Kind, client: str) -> str:
    return f"{namespace}-{kind}-{client}"


def monthly_index(namespace: str, kind: Kind, client: str, at: datetime) -> str:
    return f"{client_alias(namespace, kind, client)}-{at.astimezone(UTC):%Y.%m}"


def client_index_regex(namespace: str, kind: Kind, client: str) -> str:
    """A role's index pattern for one client's monthly indices: a Lucene regex, because a
    wildcard `<ns>-mentions-acme-*` would also match client acme-eu's indices. Ids and
    namespaces are slugs ([a-z0-9_-]), which need no escaping."""
    return f"/{client_alias(namespace, kind, client)}-[0-9]{{4}}\\.[0-9]{{2}}/"


def parse_index(namespace: str, name: str) -> tuple[Kind, str, int, int] | None:
    """(kind, client, year, month) of one of Sada's monthly indices; None for any other name."""
    found = re.fullmatch(
        rf"{re.escape(namespace)}-(mentions|alerts)-([a-z0-9][a-z0-9_-]*)-(\d{{4}})\.(\d{{2}})",
        name,
    )
    if found is None:
        return None
    kind, client, year, month = found.groups()
    return kind, client, int(year), int(month)  # type: ignore[return-value]


class ElasticsearchSink(Generic[R]):
    """Bulk-indexes one record type into its clients' monthly indices, keeping the index
    template (mapping, shards, replicas, the group alias) up to date."""

    def __init__(
        self,
        settings: Settings,
        kind: Kind,
        mapping: dict[str, Any],
        to_document: Callable[[R], tuple[str, dict[str, Any]]],
        placed: Callable[[R], tuple[str, datetime]],
    ) -> None:
        self.settings, self.kind, self._mapping = settings, kind, mapping
        self._to_document, self._placed = to_document, placed
        self.alias = group_alias(settings.namespace, kind)
        self._ready: set[str] = set()  # monthly indices known to exist, with their client alias
        self._client = connect.async_elasticsearch(settings)

    def index(self, record: R) -> str:
        """The monthly index a record belongs in."""
        client, at = self._placed(record)
        return monthly_index(self.settings.namespace, self.kind, client, at)

    async def start(self) -> None:
        """Check the cluster can hold the replicas, put the index template, and add to the
        existing indices the fields a newer Sada writes (a strict mapping would reject them);
        a field whose type changed is an error to fix."""
        doing = "starting"
        try:
            await self._check_topology()
            resolved = await self._client.indices.resolve_index(name=f"{self.alias}*")
            if any(found["name"] == self.alias for found in resolved["indices"]):
                raise Fatal(
                    f"Elasticsearch at {self.settings.es_where} has an index {self.alias} (from "
                    f"an earlier Sada); {self.kind} now live in monthly indices per client behind "
                    f"the alias {self.alias}, which cannot share its name: reindex it into them "
                    f"(POST _reindex with a script setting each document's _index to "
                    f"{self.alias}-<client>-<YYYY.MM>) or delete it, then restart"
                )
            doing = "putting the index template"
            await self._client.indices.put_index_template(
                name=self.alias,
                index_patterns=[f"{self.alias}-*"],
                priority=TEMPLATE_PRIORITY,
                composed_of=[f"{self.alias}@custom"],  # the operator's own settings (ILM)
                ignore_missing_component_templates=[f"{self.alias}@custom"],
                template={
                    "settings": {
                        "number_of_shards": self.settings.shards(self.kind),
                        "number_of_replicas": self.settings.replicas(self.kind),
                    },
                    "mappings": self._mapping,
                    "aliases": {self.alias: {}},
                },
                meta={"managed_by": "sada"},
            )
            for found in resolved["indices"]:
                if parse_index(self.settings.namespace, found["name"]):
                    doing = f"extending the mapping of {found['name']}"
                    await self._client.indices.put_mapping(
                        index=found["name"], properties=self._mapping["properties"]
                    )
        except BadRequestError as exc:
            if exc.error == "illegal_argument_exception":
                raise Fatal(
                    f"Elasticsearch at {self.settings.es_where}, {doing}: the index has a mapping "
                    f"this version of Sada cannot extend ({exc.message}: {exc.info}); reindex "
                    "into a new index or delete it"
                ) from exc
            raise
        except (ApiError, ESTransportError) as exc:
            raise self._failure(exc, doing) from exc

    async def _check_topology(self) -> None:
        """Replicas are never placed on their primary's node: with too few data nodes the
        indices would stay yellow (and writes wait for copies that never come)."""
        replicas = self.settings.replicas(self.kind)
        nodes = (await self._client.cluster.health())["number_of_data_nodes"]
        if replicas >= nodes:
            raise Fatal(
                f"SADA_ES_REPLICAS {replicas} for {self.kind} needs {replicas + 1} data nodes; "
                f"Elasticsearch at {self.settings.es_where} has {nodes}: lower SADA_ES_REPLICAS "
                "or add nodes"
            )

    async def _prepare(self, index: str, client: str) -> None:
        """Create a monthly index with its client alias (an alias named after the client
        cannot come from the template), or add the alias if another indexer made it first."""
        alias = client_alias(self.settings.namespace, self.kind, client)
        try:
            await self._client.indices.create(index=index, aliases={alias: {}})
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            await self._client.indices.put_alias(index=index, name=alias)
        self._ready.add(index)

    async def write(self, batch: Sequence[R]) -> list[tuple[R, str]]:
        operations: list[dict[str, Any]] = []
        try:
            for record in batch:
                index, (doc_id, document) = self.index(record), self._to_document(record)
                if index not in self._ready:
                    await self._prepare(index, self._placed(record)[0])
                operations += [{"index": {"_index": index, "_id": doc_id}}, document]
            started = time.perf_counter()
            response = await self._client.bulk(operations=operations)
        except (ApiError, ESTransportError) as exc:
            raise self._failure(exc, "indexing") from exc
        acknowledged = time.time()
        metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        rejected: list[tuple[R, str]] = []
        indexed: list[R] = []
        busy = 0
        for record, item in zip(batch, response["items"], strict=True):
            result = item["index"]
            status = result.get("status", 500)
            if status == 429 or status >= 500 or _blocked(result.get("error", {}).get("type")):
                busy += 1  # busy, read-only, or a shard not yet allocated: never dead-lettered
            elif "error" not in result:
                indexed.append(record)
            else:
                error = result["error"]
                rejected.append((record, f"Elasticsearch refused the document: {error}"))
                log.warning(
                    "%s: Elasticsearch refused document %s (%s); dead-lettered with the reason",
                    self.alias,
                    result.get("_id"),
                    error.get("type") if isinstance(error, dict) else error,
                    extra=logs.about(record),
                )
        if busy:
            raise RetryLater(
                f"Elasticsearch at {self.settings.es_where} is overloaded, read-only (a full "
                "disk: the flood-stage watermark) or missing a shard, and refused "
                f"{busy} documents for now"
            )
        metrics.INDEXED.inc(len(indexed))
        for record in indexed:
            if isinstance(record, ScoredMention):
                metrics.INDEXED_DELAY.observe(acknowledged - record.mention.fetched_at.timestamp())
        return rejected

    async def delete_uids(self, uids: Sequence[str]) -> int:
        """Delete every document of these mentions, in every client's index; return how many.
        A search then a bulk delete, not _delete_by_query: that needs the reindex module,
        which not every distribution has."""
        try:
            found = await self._client.search(
                index=self.alias,
                query={"terms": {"uid": list(uids)}},
                source=False,
                size=10_000,  # a mention has one document per brand it concerns
                ignore_unavailable=True,  # no index yet: nothing to delete
                allow_no_indices=True,
            )
            hits = found["hits"]["hits"]
            if not hits:
                return 0
            operations = [{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits]
            response = await self._client.bulk(operations=operations)
        except (ApiError, ESTransportError) as exc:
            raise self._failure(exc, "deleting removed mentions from") from exc
        return sum(item["delete"].get("result") == "deleted" for item in response["items"])

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
        where = f"Elasticsearch at {self.settings.es_where}, {doing} {self.alias}"
        if isinstance(exc, ESTransportError):
            return RetryLater(f"{where}: unreachable ({exc})")
        if exc.status_code in (401, 403) and not _blocked(exc.error):
            return Fatal(
                f"{where}: refused with {exc.status_code} ({exc.error}) for "
                f"{credentials(self.settings)}; give Sada credentials that may write "
                f"{self.alias}-* and manage its index template (docs/isolation.md), and restart"
            )
        if exc.status_code == 429 or exc.status_code >= 500 or _blocked(exc.error):
            wait = retry_after(exc.meta.headers.get("retry-after"))
            return RetryLater(
                f"{where}: busy or read-only ({exc.status_code} {exc.error})", after_seconds=wait
            )
        return exc


def credentials(settings: Settings) -> str:
    """Which credentials were used, for an error message (never the secret itself)."""
    if settings.es_api_key:
        return "the API key in SADA_ES_API_KEY"
    if settings.es_username:
        return f"user {settings.es_username} (SADA_ES_USERNAME/SADA_ES_PASSWORD)"
    return "no credentials (neither SADA_ES_API_KEY nor SADA_ES_USERNAME/SADA_ES_PASSWORD is set)"


def _blocked(error_type: object) -> bool:
    """An index or cluster block (read-only after the flood-stage disk watermark, or set by an
    operator): writes wait until it is lifted; the documents are not at fault."""
    return error_type == "cluster_block_exception"


def mentions_sink(settings: Settings) -> ElasticsearchSink[ScoredMention]:
    return ElasticsearchSink(
        settings,
        "mentions",
        MENTION_MAPPING,
        mention_document,
        lambda record: (record.client, record.mention.created_at),
    )


def alerts_sink(settings: Settings) -> ElasticsearchSink[Alert]:
    """Alerts by the month their incident began: every step of a thread shares it."""
    return ElasticsearchSink(
        settings, "alerts", ALERT_MAPPING, alert_document, lambda a: (a.client, a.window_start)
    )
