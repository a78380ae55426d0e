"""The work state of mentions and incidents, in `<ns>-console-state`: one document per mention
document id (or `alert:<alert id>`), with its status, assignee, notes and history.

Every change is a read-modify-write against the version the manager's page showed
(`if_seq_no`/`if_primary_term`, or create-only for a first change): if another manager changed
it meanwhile, the write is refused and the page says who, so nobody answers a complaint twice
unknowingly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch, ConflictError, Elasticsearch

MENTION_STATUSES = ("open", "handled", "ignored")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
STATE_MAPPING: dict[str, Any] = {
    "dynamic": False,  # notes and history are kept in _source, not searched
    "properties": {
        "kind": {"type": "keyword"},
        "client": {"type": "keyword"},
        "brand_key": {"type": "keyword"},
        "status": {"type": "keyword"},
        "assignee": {"type": "keyword"},
        "updated_at": {"type": "date"},
        "updated_by": {"type": "keyword"},
        "first_response_at": {"type": "date"},
        "created_at": {"type": "date"},  # the mention's: a view's time range narrows its states
        "response_seconds": {"type": "float"},
    },
}


def state_index(namespace: str) -> str:
    return f"{namespace}-console-state"


def alert_state_id(alert_id: str) -> str:
    return f"alert:{alert_id}"


@dataclass(frozen=True)
class Versioned:
    """A state document as read, with the version a change must still find."""

    doc: dict[str, Any]
    seq_no: int | None = None
    primary_term: int | None = None

    @property
    def version(self) -> str:
        """For a form's hidden field: "<seq_no>:<primary_term>", or "" while none is stored."""
        return "" if self.seq_no is None else f"{self.seq_no}:{self.primary_term}"


@dataclass(frozen=True)
class Conflict:
    """Someone changed the state since the page was shown."""

    by: str


def fresh(kind: str, client: str, brand_key: str, created_at: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "client": client, "brand_key": brand_key, "created_at": created_at,
            "status": "open", "assignee": None, "notes": [], "history": []}  # fmt: skip


def apply(
    doc: dict[str, Any],
    action: str,
    user: str,
    detail: str,
    at: datetime,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The state after `action` by `user`; raises ValueError for an action it cannot take.
    `created_at` (the mention's) gives the first response time when a reply is recorded."""
    new = {**doc, "notes": list(doc.get("notes", [])), "history": list(doc.get("history", []))}
    statuses = ALERT_STATUSES if doc["kind"] == "alert" else MENTION_STATUSES
    targets = {"handle": "handled", "ignore": "ignored", "reopen": "open",
               "acknowledge": "acknowledged", "resolve": "resolved", "reply": "handled"}  # fmt: skip
    if action in targets:
        if targets[action] not in statuses:
            raise ValueError(f"action {action!r} does not apply to {doc['kind']}s")
        new["status"] = targets[action]
    elif action == "assign":
        new["assignee"] = detail or None
    elif action == "note":
        if not detail.strip():
            raise ValueError("note: write something to note")
        new["notes"].append({"at": at.isoformat(), "user": user, "text": detail})
    else:
        raise ValueError(f"unknown action {action!r}")
    if action == "reply" and not new.get("first_response_at"):
        new["first_response_at"] = at.isoformat()
        if created_at is not None:
            new["response_seconds"] = max(0.0, (at - created_at).total_seconds())
    new["history"].append({"at": at.isoformat(), "user": user, "action": action, "detail": detail})
    new["updated_at"], new["updated_by"] = at.isoformat(), user
    return new


def forget(es: Elasticsearch, namespace: str) -> None:
    """Delete every mention's and incident's work state (the demo starts from nothing)."""
    es.options(ignore_status=404).indices.delete(index=state_index(namespace))


async def ensure_index(es: AsyncElasticsearch, namespace: str) -> None:
    """Create the state index, or add the fields a newer console searches to it."""
    if not await es.indices.exists(index=state_index(namespace)):
        await es.options(ignore_status=400).indices.create(  # 400: made meanwhile
            index=state_index(namespace), mappings=STATE_MAPPING
        )
    else:
        await es.indices.put_mapping(
            index=state_index(namespace), properties=STATE_MAPPING["properties"]
        )


async def load(es: AsyncElasticsearch, namespace: str, ids: list[str]) -> dict[str, Versioned]:
    """The stored states of these ids (missing ones are absent)."""
    if not ids:
        return {}
    found = await es.mget(index=state_index(namespace), ids=ids)
    return {
        d["_id"]: Versioned(d["_source"], d["_seq_no"], d["_primary_term"])
        for d in found["docs"]
        if d.get("found")
    }


async def write(
    es: AsyncElasticsearch, namespace: str, doc_id: str, version: str, doc: dict[str, Any]
) -> Conflict | None:
    """Store `doc` if the state is still at `version` (as `Versioned.version` gave it);
    a Conflict naming who changed it otherwise."""
    try:
        if version:
            seq_no, term = (int(part) for part in version.split(":"))
            await es.index(
                index=state_index(namespace),
                id=doc_id,
                document=doc,
                if_seq_no=seq_no,
                if_primary_term=term,
                refresh="wait_for",
            )
        else:
            await es.create(
                index=state_index(namespace), id=doc_id, document=doc, refresh="wait_for"
            )
    except ConflictError:
        current = (await load(es, namespace, [doc_id])).get(doc_id)
        return Conflict(current.doc.get("updated_by", "?") if current else "?")
    return None


async def closed_ids(
    es: AsyncElasticsearch,
    namespace: str,
    clients: list[str] | None,
    statuses: tuple[str, ...],
    brand_keys: tuple[str, ...] = (),
    since: datetime | None = None,
) -> list[str]:
    """Mention document ids in these statuses, of these clients (None: all), of these brands
    (none: all), of mentions posted since `since`: the view's own, so the list stays short
    (at most 10,000 are read)."""
    filters: list[dict[str, Any]] = [
        {"term": {"kind": "mention"}},
        {"terms": {"status": list(statuses)}},
    ]
    if clients is not None:
        filters.append({"terms": {"client": clients}})
    if brand_keys:
        filters.append({"terms": {"brand_key": list(brand_keys)}})
    if since is not None:
        filters.append({"range": {"created_at": {"gte": since.isoformat()}}})
    found = await es.options(ignore_status=404).search(
        index=state_index(namespace),
        query={"bool": {"filter": filters}},
        source=False,
        size=10_000,
    )
    return [hit["_id"] for hit in found.body.get("hits", {}).get("hits", [])]


async def response_times(
    es: AsyncElasticsearch, namespace: str, clients: list[str] | None
) -> dict[str, float]:
    """Mean first-response seconds per brand key."""
    filters: list[dict[str, Any]] = [{"exists": {"field": "response_seconds"}}]
    if clients is not None:
        filters.append({"terms": {"client": clients}})
    found = await es.options(ignore_status=404).search(
        index=state_index(namespace),
        query={"bool": {"filter": filters}},
        size=0,
        aggs={
            "brands": {
                "terms": {"field": "brand_key", "size": 1000},
                "aggs": {"mean": {"avg": {"field": "response_seconds"}}},
            }
        },
    )
    buckets = found.body.get("aggregations", {}).get("brands", {}).get("buckets", [])
    return {b["key"]: b["mean"]["value"] for b in buckets}
