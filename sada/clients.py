"""Credentials for one client's dashboards: an Elasticsearch role that may read that client's
indices and nothing else, and an API key or native user holding it.

Document-level security is not in the free licence, so isolation is by index: a client's
documents live in indices of its own (sinks/elasticsearch.py). The role names its aliases
exactly and its monthly indices by a regex, so client `acme` never matches `acme-eu`'s.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch

from core import connect
from core.config import Settings
from sinks.elasticsearch import KINDS, client_alias, client_index_regex

READ = ["read", "view_index_metadata"]


def role_name(namespace: str, client: str) -> str:
    return f"{namespace}-client-{client}"


def role(namespace: str, client: str) -> dict[str, Any]:
    """The role descriptor: read on the client's aliases and monthly indices, both kinds."""
    names = [client_alias(namespace, kind, client) for kind in KINDS]
    names += [client_index_regex(namespace, kind, client) for kind in KINDS]
    return {
        "indices": [{"names": names, "privileges": READ}],
        "metadata": {"sada_namespace": namespace, "sada_client": client},
    }


def put_role(es: Elasticsearch, namespace: str, client: str) -> str:
    """Create or update the client's role (idempotent); its name."""
    name = role_name(namespace, client)
    es.security.put_role(name=name, **role(namespace, client))
    return name


def grant_api_key(settings: Settings, client: str) -> str:
    """The role, and a new API key limited to it: its encoded form (shown once: Elasticsearch
    keeps only a hash)."""
    with connect.elasticsearch(settings) as es:
        name = put_role(es, settings.namespace, client)
        key = es.security.create_api_key(
            name=name,
            role_descriptors={name: role(settings.namespace, client)},
            metadata={"sada_namespace": settings.namespace, "sada_client": client},
        )
    return str(key["encoded"])


def grant_user(settings: Settings, client: str, user: str, password: str) -> None:
    """The role, and a native user holding only it (created, or its password and roles reset)."""
    with connect.elasticsearch(settings) as es:
        name = put_role(es, settings.namespace, client)
        es.security.put_user(
            username=user,
            password=password,
            roles=[name],
            metadata={"sada_namespace": settings.namespace, "sada_client": client},
        )


def refusal(settings: Settings, exc: ApiError) -> str:
    """Why granting failed, and what to do."""
    where = f"Elasticsearch at {settings.es_where}"
    if exc.status_code in (401, 403):
        return (
            f"{where} refused to manage security ({exc.status_code} {exc.error}): run this with "
            "credentials that have the manage_security cluster privilege (an administrator's "
            "SADA_ES_API_KEY or SADA_ES_USERNAME/SADA_ES_PASSWORD)"
        )
    if "security" in str(exc.body).lower():  # not installed: no handler; off: "must be enabled"
        return (
            f"{where} has no security to grant with ({exc.body}): roles, users and API keys need "
            "xpack.security.enabled: true (docs/isolation.md)"
        )
    return f"{where}: {exc.status_code} {exc.error}: {exc.body}"
