"""The console inbox's first paint on a big index (`python -m bench.bench_console`).

Fills a namespace of its own with `--count` mentions (default 1,000,000): the demo's synthetic
stream scored by the real processors, spread over three months and both of the sample clients'
brands, written with `_bulk` into the monthly indices the real sink's index template maps.
Then serves the console (the real app on a free port) and times GET / (the server-rendered
inbox, logged in) until its whole HTML is read: one cold request (caches cleared), then the
median and p95 of `--requests` more, for a client's user and for an admin. The namespace's
indices go at the end, by name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from statistics import median, quantiles
from typing import Any

from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from elasticsearch import Elasticsearch, helpers

from console.app import create_app
from console.auth import add_user, users_index
from console.state import forget
from core import connect
from core.config import Settings, load_config
from core.events import ScoredMention
from core.live import LiveConfig
from ingest import synthetic
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process_batch
from sada import SAMPLE_CONFIG, services
from sada.retention import delete_indices
from sinks.elasticsearch import client_alias, mention_document, mentions_sink, monthly_index

DAYS = 90
PASSWORD = "bench-console-password"
USERS = {"manager": (["northwind"], False), "admin": ([], True)}


def pool() -> list[ScoredMention]:
    """Realistic records: the demo's stream through the real matcher, scorer and triage."""
    mentions = list(synthetic.generate(synthetic.Config(count=5000, seed=11)))
    config = load_config(SAMPLE_CONFIG)
    return [r for found in process_batch(mentions, build_matcher(config), Deduper()) for r in found]


def documents(
    namespace: str, records: list[ScoredMention], count: int, now: datetime, rng: random.Random
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(index, id, document) for `count` mentions: the pool's texts over the last DAYS days;
    a repeat of a text is a near-duplicate of its first use, as the deduper would say."""
    for i in range(count):
        record = records[i % len(records)]
        _, document = mention_document(record)
        at = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        uid = f"bench:{i}"
        document |= {
            "uid": uid,
            "created_at": at.isoformat(),
            "fetched_at": at.isoformat(),
            "duplicate_of": None if i < len(records) else f"bench:{i % len(records)}",
            "author": document["author"] | {"followers": int(rng.paretovariate(1.2) * 50)},
        }
        index = monthly_index(namespace, "mentions", record.client, at)
        yield index, f"{uid}.{record.client}.{record.brand}", document


def fill(settings: Settings, es: Elasticsearch, count: int) -> float:
    """Index `count` mentions; return the seconds it took."""
    started = time.perf_counter()
    records = pool()
    sink = mentions_sink(settings)  # puts the real index template (mapping, group alias)
    asyncio.run(_start(sink))
    now, rng = datetime.now(UTC), random.Random(3)
    ns = settings.namespace
    for client in {r.client for r in records}:
        for months_back in range(DAYS // 28 + 2):
            at = now - timedelta(days=28 * months_back)
            index = monthly_index(ns, "mentions", client, at)
            es.options(ignore_status=400).indices.create(
                index=index,
                aliases={client_alias(ns, "mentions", client): {}},
                settings={"refresh_interval": "-1"},
            )
    actions = (
        {"_index": index, "_id": doc_id, "_source": document}
        for index, doc_id, document in documents(ns, records, count, now, rng)
    )
    for ok, item in helpers.streaming_bulk(es, actions, chunk_size=5000, raise_on_error=False):
        if not ok:
            raise SystemExit(f"Elasticsearch refused a document: {item}")
    es.indices.put_settings(index=f"{ns}-mentions-*", settings={"refresh_interval": None})
    es.indices.refresh(index=f"{ns}-mentions-*")
    return time.perf_counter() - started


async def _start(sink: Any) -> None:
    try:
        await sink.start()
    finally:
        await sink.close()


async def _log_in(session: ClientSession, base: str, name: str) -> None:
    page = await (await session.get(f"{base}/login")).text()
    found = re.search(r'name="login_token" value="([^"]+)"', page)
    if found is None:
        raise SystemExit("the console's login page has no login token")
    answer = await session.post(
        f"{base}/login",
        data={"name": name, "password": PASSWORD, "login_token": found.group(1)},
        allow_redirects=False,
    )
    if answer.status != 303:
        raise SystemExit(f"logging in as {name} answered {answer.status}")


async def _first_paint(session: ClientSession, base: str) -> float:
    started = time.perf_counter()
    async with session.get(f"{base}/") as answer:
        html = await answer.text()
    took = time.perf_counter() - started
    if answer.status != 200 or 'data-testid="inbox-rows"' not in html:
        raise SystemExit(f"GET / answered {answer.status} without the inbox")
    return took


async def measure(settings: Settings, es: Elasticsearch, requests: int) -> list[str]:
    """Table rows: per user, the cold request and the median and p95 of `requests` more."""
    server = TestServer(create_app(settings, LiveConfig(load_config(SAMPLE_CONFIG))))
    await server.start_server()
    base, lines = str(server.make_url("")).rstrip("/"), []
    try:
        for name in USERS:
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:  # 127.0.0.1
                await _log_in(session, base, name)
                es.indices.clear_cache(index=f"{settings.namespace}-*")
                cold = await _first_paint(session, base)
                warm = [await _first_paint(session, base) for _ in range(requests)]
            p95 = quantiles(warm, n=20)[-1] if len(warm) > 1 else warm[0]
            lines.append(
                f"{name:<8} {cold * 1000:>8.0f} {median(warm) * 1000:>10.0f} {p95 * 1000:>8.0f}"
            )
    finally:
        await server.close()
    return lines


def _niced(level: int) -> None:
    """The fill under `nice` (the machine is shared), the timing at normal priority (root)."""
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="mentions to index")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per user")
    args = parser.parse_args()
    if args.count < 1 or args.requests < 1:
        parser.error("--count and --requests must be at least 1")
    base = Settings.from_env()
    if not services.es_reachable(base):
        services.up(base)
    settings = base.model_copy(update={"namespace": f"bench-console-{uuid.uuid4().hex[:8]}"})
    with connect.elasticsearch(settings) as es:
        try:
            _niced(19)
            seconds = fill(settings, es, args.count)
            for name, (clients, admin) in USERS.items():
                add_user(es, settings.namespace, name, clients, admin, PASSWORD)
            _niced(0)
            print(f"filled {args.count:,} mentions in {seconds:.0f} s "
                  f"({args.count / seconds:,.0f}/s) into {settings.namespace}")  # fmt: skip
            rows = asyncio.run(measure(settings, es, args.requests))
            print(f"GET / (inbox first paint, whole HTML), ms; {args.requests} warm requests")
            print(f"{'user':<8} {'cold':>8} {'median':>10} {'p95':>8}")
            print("\n".join(rows))
        finally:
            delete_indices(settings)
            forget(es, settings.namespace)
            es.options(ignore_status=404).indices.delete(index=users_index(settings.namespace))


if __name__ == "__main__":
    main()
