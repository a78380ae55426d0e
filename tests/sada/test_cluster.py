"""The multi-node layout: its ports, the settings it hands Sada, and what it refuses. The
cluster itself is started by the fault test (tests/chaos/test_multinode.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import ConfigError, ServiceError
from sada import cluster


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"SADA_CACHE_DIR": str(tmp_path)})


def test_every_port_its_own() -> None:
    layout = cluster.Layout(kafka_port=30000, es_port=31000)
    ports = [layout.broker_port(i) for i in range(3)] + [
        layout.controller_port(i) for i in range(3)
    ]
    ports += [layout.http_port(j) for j in range(2)] + [layout.transport_port(j) for j in range(2)]
    assert len(set(ports)) == len(ports) == 10
    assert layout.bootstrap == "127.0.0.1:30000,127.0.0.1:30001,127.0.0.1:30002"


def test_settings_replicate_and_survive_one_loss() -> None:
    """Three copies, writes need two (one broker may be away); one index replica; Elasticsearch
    through node 0, the one never stopped."""
    env = cluster.Layout(kafka_port=30000, es_port=31000).env()
    settings = Settings.from_env(env)
    assert settings.replication_factor("mentions.raw") == 3
    assert settings.min_insync_replicas("mentions.raw") == 2
    assert settings.replicas("mentions") == 1
    assert settings.es_url == "http://127.0.0.1:31000"


def test_one_broker_one_node_is_plain() -> None:
    layout = cluster.Layout(brokers=1, nodes=1)
    assert (layout.replication_factor, layout.min_insync_replicas, layout.replicas) == (1, 1, 0)


def test_an_empty_cluster_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one broker"):
        cluster.Layout(brokers=0)


def test_another_layout_in_the_same_place_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cluster.root(settings).mkdir(parents=True)
    (cluster.root(settings) / "cluster.json").write_text(json.dumps(asdict(cluster.Layout())))
    with pytest.raises(ConfigError, match="another layout"):
        cluster.up(settings, cluster.Layout(brokers=5))


def test_no_cluster_yet(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert cluster.down(settings) == []
    with pytest.raises(ServiceError, match="no local cluster was started here"):
        cluster.status(settings)
