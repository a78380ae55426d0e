"""Each client's data stays its own: alerts go only to the routes of the alert's client, and a
client's credentials read that client's documents and nothing of another's."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AuthenticationException, AuthorizationException, NotFoundError
from pydantic import SecretStr
from typer.testing import CliRunner

from core import connect
from core.config import SadaConfig, Settings
from core.events import Alert, ScoredMention
from core.live import LiveConfig
from sada import services
from sada.cli import app
from sada.receiver import Receiver
from sinks.alerts import AlertSink
from sinks.elasticsearch import alerts_sink, mentions_sink
from tests.sinks.test_elasticsearch import _full_alert, _scored


def _client(client_id: str, url: str, brands: list[str]) -> dict[str, Any]:
    """A client whose brands all name its one route, "ops" (every client's route is "ops")."""
    return {
        "id": client_id,
        "name": client_id.title(),
        "routes": {"ops": {"url": url, "allow_private": True}},
        "brands": [{"id": b, "name": b.title(), "include": [b], "routes": ["ops"]} for b in brands],
    }


def _alert(client: str, brand: str) -> Alert:
    return _full_alert().model_copy(
        update={"id": f"{client}/{brand}/1", "client": client, "brand": brand}
    )


async def test_an_alert_never_reaches_another_clients_route() -> None:
    """Same route name, same brand id, ids sharing a prefix: still only the alert's own client.
    A brand only the other client has, or a client no longer in the file, reaches nobody."""
    with Receiver() as to_acme, Receiver() as to_acme_eu:
        config = SadaConfig.model_validate(
            {
                "clients": [
                    _client("acme", to_acme.url, ["widget"]),
                    _client("acme-eu", to_acme_eu.url, ["widget", "gadget"]),
                ]
            }
        )
        alerts = [
            _alert("acme", "widget"),
            _alert("acme-eu", "widget"),
            _alert("acme", "gadget"),  # acme-eu's brand, under acme's name
            _alert("gone", "widget"),
        ]
        sink = AlertSink(LiveConfig(config))
        await sink.start()
        try:
            assert await sink.write(alerts) == []
        finally:
            await sink.close()
    assert [a["id"] for a in to_acme.received] == ["acme/widget/1"]
    assert [a["id"] for a in to_acme_eu.received] == ["acme-eu/widget/1"]


def _file_realm_user(settings: Settings, name: str, password: str, role_yaml: str) -> None:
    """A user of the secured node's file realm holding one role (its roles.yml, users and
    users_roles, which the node reloads by itself): the local distribution has no security
    index, so no API keys or native users; a key from `sada clients grant` carries the same
    role descriptor."""
    config = services.Paths.for_settings(settings).es_node / "config"
    salt = secrets.token_bytes(32)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 10_000, dklen=32)
    hashed = (
        f"{{PBKDF2}}10000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )
    [role_name_] = yaml.safe_load(role_yaml)
    for file, line in (
        ("roles.yml", role_yaml),
        ("users", f"{name}:{hashed}\n"),
        ("users_roles", f"{role_name_}:{name}\n"),
    ):
        with (config / file).open("a", encoding="utf-8") as out:
            out.write(line)


def _hits(response: Any) -> list[tuple[str, str]]:
    return [(hit["_index"], hit["_id"]) for hit in response["hits"]["hits"]]


def _mentions(client: str, count: int) -> list[ScoredMention]:
    """`count` mentions of `client`, alternately in two months."""
    return [
        r.model_copy(
            update={
                "client": client,
                "mention": r.mention.model_copy(
                    update={
                        "uid": f"{client}-{n}",
                        "created_at": datetime(2026, 1 + n % 2, 9, tzinfo=UTC),
                    }
                ),
            }
        )
        for n, r in enumerate(_scored(count))
    ]


async def test_a_clients_credentials_read_none_of_another_clients_documents(
    secure_settings: Settings, tmp_path: Path
) -> None:
    """Client acme's user against acme-eu's documents (an id that starts like acme's): every
    way to read is refused (403) or finds nothing of acme-eu's; all of acme's is readable."""
    admin = services.secured(secure_settings, es_admin=True)
    ns = admin.namespace
    ours, theirs = _mentions("acme", 4), _mentions("acme-eu", 2)
    alerts = [_alert("acme", "widget"), _alert("acme-eu", "widget")]
    mentions, alerting = mentions_sink(admin), alerts_sink(admin)
    for sink in (mentions, alerting):
        await sink.start()
    try:
        assert await mentions.write(ours + theirs) == []
        assert await alerting.write(alerts) == []
    finally:
        await mentions.close()
        await alerting.close()
    es = connect.elasticsearch(admin)
    es.indices.refresh(index=f"{ns}-*")

    config = {
        "clients": [_client(c, "http://127.0.0.1:9/", ["widget"]) for c in ("acme", "acme-eu")]
    }
    (tmp_path / "clients.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"SADA_NAMESPACE": ns, "SADA_CONFIG": str(tmp_path / "clients.yaml")}
    printed = CliRunner().invoke(app, ["clients", "grant", "acme", "--print-role"], env=env)
    assert printed.exit_code == 0, printed.output
    password = secrets.token_urlsafe(16)
    _file_realm_user(admin, "acme-viewer", password, printed.stdout)
    viewer = connect.elasticsearch(
        admin.model_copy(update={"es_username": "acme-viewer", "es_password": SecretStr(password)})
    )
    deadline = time.monotonic() + 60
    while True:  # the file realm reloads its files within seconds
        try:
            viewer.security.authenticate()
            break
        except AuthenticationException:
            assert time.monotonic() < deadline, "the node never loaded the file-realm user"
            time.sleep(1)

    # All of acme's, through its aliases and its indices.
    mine = {(mentions.index(r), r.doc_id) for r in ours} | {
        (alerting.index(alerts[0]), alerts[0].id)
    }
    both = f"{ns}-mentions-acme,{ns}-alerts-acme"
    assert set(_hits(viewer.search(index=both, size=100))) == mine
    assert set(_hits(viewer.search(index="*", size=100))) == mine  # a wildcard: only acme's
    assert viewer.count(index=f"{ns}-mentions-acme")["count"] == len(ours)
    assert viewer.get(index=mentions.index(ours[0]), id=ours[0].doc_id)["found"]

    # Nothing of acme-eu's, however asked.
    their_ids = {r.doc_id for r in theirs} | {alerts[1].id}
    b_mentions, b_alerts = mentions.index(theirs[0]), alerting.index(alerts[1])
    everything: dict[str, Any] = {"size": 100, "query": {"match_all": {}}}
    ids = {"ids": {"values": sorted(their_ids)}}
    terms = {"clients": {"terms": {"field": "client"}}}
    requests: dict[str, Callable[..., Any]] = {}  # lambdas binding the loop values as defaults
    leaks: dict[str, Callable[[Any], bool]] = {}
    for index in (
        "*", "_all", f"{ns}-*", f"{ns}-mentions-*", f"{ns}-alerts-*", f"{ns}-mentions-acme*",
        f"{ns}-mentions-acme-eu*", f"{ns}-mentions", f"{ns}-alerts", f"{ns}-mentions-acme-eu",
        f"{ns}-alerts-acme-eu", b_mentions, b_alerts, f"{ns}-mentions-acme,{b_mentions}",
    ):  # fmt: skip
        requests[f"search {index}"] = lambda i=index: viewer.search(index=i, **everything)
        leaks[f"search {index}"] = lambda r: any(hit in their_ids for _, hit in _hits(r))
        requests[f"count {index}"] = lambda i=index: viewer.count(index=i, query=ids)
        leaks[f"count {index}"] = lambda r: r["count"] > 0
        requests[f"terms aggregation {index}"] = lambda i=index: viewer.search(
            index=i, size=0, aggs=terms
        )
        leaks[f"terms aggregation {index}"] = lambda r: any(
            b["key"] != "acme"
            for b in r.body.get("aggregations", {}).get("clients", {}).get("buckets", [])
        )
    for index, doc_id in (
        (b_mentions, theirs[0].doc_id),
        (b_alerts, alerts[1].id),
        (f"{ns}-mentions-acme-eu", theirs[0].doc_id),
        (mentions.index(ours[0]), theirs[0].doc_id),  # acme's index of the same month
    ):
        requests[f"get {index}"] = lambda i=index, d=doc_id: viewer.get(index=i, id=d)
        leaks[f"get {index}"] = lambda r: r["found"]
    docs = [
        {"_index": b_mentions, "_id": theirs[0].doc_id},
        {"_index": b_alerts, "_id": alerts[1].id},
    ]
    requests["mget"] = lambda: viewer.mget(docs=docs)
    leaks["mget"] = lambda r: any(d.get("found") for d in r["docs"])
    searches: list[dict[str, Any]] = [
        {"index": f"{ns}-*"},
        everything,
        {"index": b_mentions},
        everything,
    ]
    requests["msearch"] = lambda: viewer.msearch(searches=searches)
    leaks["msearch"] = lambda r: any(
        hit in their_ids for one in r["responses"] if "hits" in one for _, hit in _hits(one)
    )
    outcomes = {what: _outcome(call, leaks[what]) for what, call in requests.items()}
    print("\n".join(f"{what}: {outcome}" for what, outcome in outcomes.items()))
    assert [what for what, outcome in outcomes.items() if outcome == "LEAKED"] == []
    viewer.close()
    es.close()


def _outcome(call: Callable[[], Any], leaked: Callable[[Any], bool]) -> str:
    """'refused (403)', 'none of theirs', or 'LEAKED'."""
    try:
        response = call()
    except AuthorizationException:
        return "refused (403)"
    except NotFoundError:
        return "none of theirs (404)"
    return "LEAKED" if leaked(response) else "none of theirs"
