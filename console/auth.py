"""Console logins: users in Elasticsearch (`<ns>-console-users`, scrypt-hashed passwords, the
clients each may see), sessions in the console's memory (a restart logs everyone out), and a
per-user limit on failed logins.

A session is a random 32-byte token in an HttpOnly, SameSite=Lax cookie; it expires after
12 hours without a request. Each session has its own CSRF token, which every form carries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch, NotFoundError

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_IDLE_SECONDS = 12 * 3600.0
FAILURES_ALLOWED = 5  # per user per FAILURE_WINDOW_SECONDS
FAILURE_WINDOW_SECONDS = 60.0
USERS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"},
        "clients": {"type": "keyword"},
        "admin": {"type": "boolean"},
        "password": {"type": "keyword", "index": False},
    },
}
_CLIENT_ID = r"[a-z0-9][a-z0-9_-]{0,63}"  # core.config.Slug


def users_index(namespace: str) -> str:
    return f"{namespace}-console-users"


def hash_password(password: str) -> str:
    """`scrypt$<salt hex>$<hash hex>` with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    kind, salt, digest = stored.split("$")
    if kind != "scrypt":
        return False
    found = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **SCRYPT)
    return hmac.compare_digest(found.hex(), digest)


@dataclass(frozen=True)
class User:
    name: str
    clients: tuple[str, ...]
    admin: bool = False

    def sees(self, client: str) -> bool:
        return self.admin or client in self.clients


def user_document(name: str, clients: list[str], admin: bool, password: str) -> dict[str, Any]:
    """The stored user; raises ValueError naming what is wrong with the name or a client id."""
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise ValueError(f"user name {name!r}: use 1-64 letters, digits, _ . @ or -")
    if bad := [c for c in clients if not re.fullmatch(_CLIENT_ID, c)]:
        raise ValueError(f"client {', '.join(map(repr, bad))}: not a client id ([a-z0-9_-])")
    if not clients and not admin:
        raise ValueError(f"user {name!r}: give at least one --client (or --admin)")
    return {"name": name, "clients": clients, "admin": admin, "password": hash_password(password)}


def ensure_users_index(es: Elasticsearch, namespace: str) -> None:
    if not es.indices.exists(index=users_index(namespace)):
        es.options(ignore_status=400).indices.create(
            index=users_index(namespace), mappings=USERS_MAPPING
        )


def add_user(
    es: Elasticsearch, namespace: str, name: str, clients: list[str], admin: bool, password: str
) -> None:
    """Create or replace a user (a new password, new clients)."""
    document = user_document(name, clients, admin, password)
    ensure_users_index(es, namespace)
    es.index(index=users_index(namespace), id=name, document=document, refresh="wait_for")


async def authenticate(
    es: AsyncElasticsearch, namespace: str, name: str, password: str
) -> User | None:
    try:
        found = await es.get(index=users_index(namespace), id=name)
    except NotFoundError:
        hash_password(password)  # as slow as a real check: no timing tells a name exists
        return None
    stored = found["_source"]
    if not check_password(password, stored["password"]):
        return None
    return User(stored["name"], tuple(stored["clients"]), bool(stored["admin"]))


@dataclass
class Session:
    user: User
    csrf: str
    seen: float


@dataclass
class Sessions:
    """Sessions by token, in memory; `clock` is injectable so expiry can be tested."""

    clock: Callable[[], float]
    idle_seconds: float = SESSION_IDLE_SECONDS
    by_token: dict[str, Session] = field(default_factory=dict)

    def start(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user, secrets.token_urlsafe(32), self.clock())
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of a token, touched; None (and forgotten) once idle too long."""
        session = self.by_token.get(token or "")
        if session is None:
            return None
        if self.clock() - session.seen > self.idle_seconds:
            del self.by_token[token or ""]
            return None
        session.seen = self.clock()
        return session

    def alive(self, token: str | None) -> bool:
        """Whether the session is still live, without touching it (a stream open in a tab is
        not activity)."""
        session = self.by_token.get(token or "")
        return session is not None and self.clock() - session.seen <= self.idle_seconds

    def end(self, token: str | None) -> None:
        self.by_token.pop(token or "", None)


@dataclass
class FailedLogins:
    """Failed logins per user name within the last minute: the sixth is refused unchecked."""

    clock: Callable[[], float]
    by_name: dict[str, list[float]] = field(default_factory=dict)

    def blocked(self, name: str) -> bool:
        recent = [
            t for t in self.by_name.get(name, []) if self.clock() - t < FAILURE_WINDOW_SECONDS
        ]
        self.by_name[name] = recent
        return len(recent) >= FAILURES_ALLOWED

    def failed(self, name: str) -> None:
        self.by_name.setdefault(name, []).append(self.clock())
