"""A broker and an Elasticsearch node lost mid-stream on the local multi-node cluster
(sada/cluster.py): three KRaft brokers (replication factor 3, min ISR 2), two Elasticsearch
nodes (one replica). Nothing is lost, nothing doubled, the crisis alerted once.

The pipeline writes through the outage (two brokers keep every partition writable; node 0 holds
a copy of every shard), then the broker and the node come back and catch up. `make chaos` only:
a cold cluster takes a minute or more to start. Prints one CHAOS line (run with -s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient

from core import connect
from core.config import Settings
from sada import cluster
from tests.chaos import harness
from tests.chaos.harness import full, pipeline
from tests.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not full(), reason="make chaos only"),
]
RATE = 30.0  # mentions/s: 3,000 last 100 s, so the outage and the return are both mid-stream
OUTAGE_SECONDS = 30
STOPPED_BROKER, STOPPED_NODE = 1, 1  # node 0 is the master: never stopped (see sada/cluster.py)


@pytest.fixture(scope="module")
def multinode(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, cluster.Layout]]:
    """The cluster on free ports and a cache dir of its own; workers get its settings."""
    layout = cluster.Layout(kafka_port=free_port(*range(6)), es_port=free_port(0, 1, 100, 101))
    env = {
        **{k: v for k, v in os.environ.items() if k != "SADA_NAMESPACE"},
        "SADA_CACHE_DIR": str(tmp_path_factory.mktemp("multinode-cache")),
        **layout.env(),
    }
    for name, value in layout.env().items():
        monkeypatch_module.setenv(name, value)  # the spawned stages' topology
    settings = Settings.from_env(env)
    began = time.monotonic()
    cluster.up(settings, layout)
    print(
        f"cluster of {layout.brokers} brokers and {layout.nodes} nodes up in "
        f"{time.monotonic() - began:.0f}s"
    )
    try:
        yield settings, layout
    finally:
        cluster.down(settings, purge=True)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _partitions(settings: Settings) -> dict[str, list[dict]]:
    """Each of the namespace's topics: its partitions' metadata (replicas, in-sync replicas)."""
    admin = KafkaAdminClient(**connect.kafka_python(settings))
    try:
        described = admin.describe_topics(
            [t for t in admin.list_topics() if t.startswith(settings.namespace)]
        )
    finally:
        admin.close()
    return {t["name"]: t["partitions"] for t in described}


def _under_replicated(settings: Settings) -> int:
    """Partitions with a copy not (yet) in sync."""
    return sum(
        len(p["isr_nodes"]) < len(p["replica_nodes"])
        for partitions in _partitions(settings).values()
        for p in partitions
    )


def _replication(settings: Settings) -> tuple[dict[str, int], set[int]]:
    """(replication factor of each of the namespace's topics, replicas of its indices)."""
    factors = {
        name: min(len(p["replica_nodes"]) for p in partitions)
        for name, partitions in _partitions(settings).items()
    }
    indices = httpx.get(
        f"{settings.es_url}/{settings.namespace}-*/_settings/index.number_of_replicas",
        timeout=30,
    ).json()
    replicas = {int(i["settings"]["index"]["number_of_replicas"]) for i in indices.values()}
    return factors, replicas


def _wait_green(settings: Settings, timeout: float = 120.0) -> None:
    """Until every shard of the namespace's indices has its replica (none to spare before the
    node goes)."""
    response = httpx.get(
        f"{settings.es_url}/_cluster/health/{settings.namespace}-*",
        params={"wait_for_status": "green", "timeout": f"{timeout:.0f}s"},
        timeout=timeout + 10,
    ).json()
    assert response["status"] == "green", response


def test_broker_and_node_lost_mid_stream(
    multinode: tuple[Settings, cluster.Layout], tmp_path: Path
) -> None:
    settings, layout = multinode
    with pipeline(settings, tmp_path, count=3000) as run:
        run.stream(RATE)
        deadline = time.monotonic() + 120
        while not run.indexed():  # the indices are made
            assert time.monotonic() < deadline, f"nothing indexed; logs in {run.log_dir}"
            time.sleep(0.5)
        _wait_green(run.settings)
        factors, replicas = _replication(run.settings)
        assert set(factors.values()) == {3} and replicas == {1}, (factors, replicas)

        assert cluster.stop_broker(settings, STOPPED_BROKER)
        assert cluster.stop_node(settings, layout, STOPPED_NODE)
        at_stop = run.produced()
        assert run.ingest is not None and run.ingest.poll() is None, "the stream ended too soon"
        time.sleep(OUTAGE_SECONDS)
        during = run.produced() - at_stop
        streaming = run.ingest.poll() is None
        cluster.start_broker(settings, layout, STOPPED_BROKER)
        cluster.start_node(settings, layout, STOPPED_NODE)
        began = time.monotonic()
        recovery = run.wait_caught_up(began, timeout=300)
        outcome = harness.verify(run, recovery)
        cluster.wait_complete(settings, layout)  # back: the broker caught up, the node refilled
        deadline = time.monotonic() + 120
        while under := _under_replicated(run.settings):
            assert time.monotonic() < deadline, f"{under} partitions still under-replicated"
            time.sleep(1)
        _wait_green(run.settings)
        print(
            f"{at_stop} mentions produced before the outage, {during} during its "
            f"{OUTAGE_SECONDS}s, the stream {'still' if streaming else 'no longer'} running at "
            "the return; " + outcome.row("(g) multi-node: a broker and a node stopped")
        )
    assert during > 0, "ingest stalled while one broker of three was away"
