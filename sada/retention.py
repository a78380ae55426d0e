"""Retention on a distribution without ILM: each client's mentions and alerts live in monthly
indices (sinks/elasticsearch.py), so old data goes by deleting whole months, never documents.

A month is deleted once all of it is older than the client's `retention_days`: a mention is
kept at least that long. Indices of clients no longer in the clients file are kept (and named),
so removing a client by mistake loses nothing; delete them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch

from core import connect
from core.config import SadaConfig, Settings
from sinks.elasticsearch import KINDS, group_alias, parse_index

DELETE_AT_ONCE = 50  # names per delete request: a URL stays short


@dataclass(frozen=True)
class Verdict:
    index: str
    delete: bool
    why: str


def month_end(year: int, month: int) -> datetime:
    """The first instant after a month (UTC)."""
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def judge(namespace: str, indices: list[str], config: SadaConfig, now: datetime) -> list[Verdict]:
    """What retention does with each monthly index of a namespace (other names are ignored)."""
    verdicts = []
    for index in sorted(indices):
        parsed = parse_index(namespace, index)
        if parsed is None:
            continue
        _, client_id, year, month = parsed
        client = config.client(client_id)
        if client is None:
            verdicts.append(Verdict(index, False, f"client {client_id} is not in the clients file"))
        elif client.retention_days is None:
            verdicts.append(Verdict(index, False, f"{client_id} keeps everything"))
        else:
            ended = month_end(year, month)
            expired = ended <= now - timedelta(days=client.retention_days)
            age = f"ended {ended:%Y-%m-%d}, {client_id} keeps {client.retention_days} days"
            verdicts.append(Verdict(index, expired, age))
    return verdicts


def monthly_indices(es: Elasticsearch, namespace: str) -> list[str]:
    """Every monthly index of a namespace, by name (deleting by wildcard is refused:
    action.destructive_requires_name)."""
    patterns = ",".join(f"{group_alias(namespace, kind)}-*" for kind in KINDS)
    resolved = es.indices.resolve_index(name=patterns)
    return [i["name"] for i in resolved["indices"] if parse_index(namespace, i["name"])]


def delete(es: Elasticsearch, indices: list[str]) -> None:
    for start in range(0, len(indices), DELETE_AT_ONCE):
        es.indices.delete(index=",".join(indices[start : start + DELETE_AT_ONCE]))


def apply(settings: Settings, config: SadaConfig, now: datetime, dry_run: bool) -> list[Verdict]:
    """Judge every monthly index and, unless `dry_run`, delete the expired ones."""
    with connect.elasticsearch(settings) as es:
        verdicts = judge(settings.namespace, monthly_indices(es, settings.namespace), config, now)
        if not dry_run:
            delete(es, [v.index for v in verdicts if v.delete])
    return verdicts


def delete_indices(settings: Settings) -> None:
    """Every index and index template of a namespace, and the single indices an earlier Sada
    made (the demo and the tests start from nothing)."""
    with connect.elasticsearch(settings) as es:
        legacy = [group_alias(settings.namespace, kind) for kind in KINDS]
        found = es.indices.resolve_index(name=",".join(legacy), ignore_unavailable=True)
        delete(es, monthly_indices(es, settings.namespace) + [i["name"] for i in found["indices"]])
        for name in legacy:
            es.options(ignore_status=404).indices.delete_index_template(name=name)
