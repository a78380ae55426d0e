"""The local multi-node mode: N Kafka brokers (KRaft) and M Elasticsearch nodes on loopback.

For trying, and testing, what a real cluster does when one machine of it goes away. Every Kafka
node is broker and controller, the controllers a quorum of all N (one stopped: the others still
elect a leader); topics get N copies, writes need N - 1 (acks=all). Elasticsearch node 0 is the
only master-eligible node (and holds data): with two master-eligible nodes, stopping either
would lose the quorum, so node 0 is never stopped and the others are data-only nodes, each of
which can be stopped while the cluster stays writable (an index with one replica has a copy of
every shard on node 0 or promotes one there).

Ports: brokers at `kafka_port + i`, their controllers at `kafka_port + N + i`; Elasticsearch
node j's HTTP at `es_port + j`, transport at `es_port + 100 + j`. The layout is kept in
`<cache_dir>/cluster/cluster.json`, so `down` and `status` need no options. The Kafka jars and
the Elasticsearch distribution are the single-node services' (sada/services.py), fetched once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from elasticsearch import ApiError, TransportError

from core import connect
from core.config import Settings
from core.errors import ConfigError, ServiceError
from sada import services
from sada.services import HEAP, LOCAL, Paths

DEFAULT_KAFKA_PORT = 19092  # beside, not on, the single-node services' 9092 and 9200
DEFAULT_ES_PORT = 19200


@dataclass(frozen=True)
class Layout:
    """How many brokers and nodes, and where they listen."""

    brokers: int = 3
    nodes: int = 2
    kafka_port: int = DEFAULT_KAFKA_PORT
    es_port: int = DEFAULT_ES_PORT

    def __post_init__(self) -> None:
        if self.brokers < 1 or self.nodes < 1:
            raise ConfigError(
                f"a cluster needs at least one broker and one node, not {self.brokers} and "
                f"{self.nodes}"
            )

    @property
    def replication_factor(self) -> int:
        return min(self.brokers, 3)

    @property
    def min_insync_replicas(self) -> int:
        """One copy may be away (a broker stopped) and writes still go on."""
        return max(self.replication_factor - 1, 1)

    @property
    def replicas(self) -> int:
        return min(self.nodes - 1, 1)

    def broker_port(self, i: int) -> int:
        return self.kafka_port + i

    def controller_port(self, i: int) -> int:
        return self.kafka_port + self.brokers + i

    def http_port(self, j: int) -> int:
        return self.es_port + j

    def transport_port(self, j: int) -> int:
        return self.es_port + 100 + j

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(i)}" for i in range(self.brokers))

    def es_url(self, j: int = 0) -> str:
        return f"http://127.0.0.1:{self.http_port(j)}"

    def env(self) -> dict[str, str]:
        """The settings that point Sada at this cluster, with its replication."""
        return {
            "SADA_KAFKA_BOOTSTRAP": self.bootstrap,
            "SADA_KAFKA_REPLICATION_FACTOR": str(self.replication_factor),
            "SADA_KAFKA_MIN_INSYNC_REPLICAS": str(self.min_insync_replicas),
            "SADA_ES_URL": self.es_url(0),  # the node that is never stopped
            "SADA_ES_REPLICAS": str(self.replicas),
        }


def root(settings: Settings) -> Path:
    return settings.cache_dir / "cluster"


def saved_layout(settings: Settings) -> Layout:
    """The layout of the cluster last started with these settings' cache dir."""
    path = root(settings) / "cluster.json"
    if not path.exists():
        raise ServiceError(f"no local cluster was started here ({path} is missing)")
    return Layout(**json.loads(path.read_text()))


def _broker_dir(settings: Settings, i: int) -> Path:
    return root(settings) / f"kafka-{i}"


def _node_dir(settings: Settings, layout: Layout, j: int) -> Path:
    """Beside the distribution (as root, under /var/lib/sada, where the `sada` user may write)."""
    return Paths.for_settings(settings).elasticsearch / f"cluster-{layout.es_port}" / f"node-{j}"


def _on_broker(settings: Settings, layout: Layout, i: int) -> Settings:
    return settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{layout.broker_port(i)}"})


def _on_node(settings: Settings, layout: Layout, j: int) -> Settings:
    return settings.model_copy(update={"es_url": layout.es_url(j)})


def _java() -> str:
    return str(Path(services._java_home()) / "bin" / "java")


def _log4j() -> str:
    return f"-Dlog4j2.configurationFile={LOCAL / 'log4j2.properties'}"


def _kafka_properties(settings: Settings, layout: Layout, i: int) -> Path:
    """Write broker i's server.properties; the same quorum and replication for every broker."""
    voters = ",".join(
        f"{n + 1}@127.0.0.1:{layout.controller_port(n)}" for n in range(layout.brokers)
    )
    props = _broker_dir(settings, i) / "server.properties"
    props.parent.mkdir(parents=True, exist_ok=True)
    props.write_text(
        (LOCAL / "cluster-server.properties")
        .read_text()
        .format(
            node_id=i + 1,
            voters=voters,
            port=layout.broker_port(i),
            controller_port=layout.controller_port(i),
            data_dir=_broker_dir(settings, i) / "data",
            replication_factor=layout.replication_factor,
            min_isr=layout.min_insync_replicas,
        )
    )
    return props


def _format(settings: Settings, libs: Path, props: Path) -> None:
    """Format a broker's storage once, with the cluster's one id (a broker formatted with
    another id would be refused by the quorum)."""
    if (props.parent / "data" / "meta.properties").exists():
        return
    id_file = root(settings) / "cluster.id"
    if not id_file.exists():
        id_file.write_text(uuid.uuid4().hex[:22])
    services._run(
        [
            _java(),
            "-cp",
            f"{libs}/*",
            _log4j(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            id_file.read_text(),
            "-c",
            str(props),
        ],
        f"formatting the storage of {props.parent.name}",
    )


def start_broker(settings: Settings, layout: Layout, i: int, *, wait: bool = True) -> None:
    """Start broker i unless it runs; `wait`: until it answers (it cannot before a quorum of
    controllers, so a first start launches every broker before waiting)."""
    here = _broker_dir(settings, i)
    if services._pid_alive(here / "kafka.pid"):
        return
    libs = services.fetch_kafka(Paths.for_settings(settings))
    props = _kafka_properties(settings, layout, i)
    _format(settings, libs, props)
    log = here / "kafka.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [_java(), *HEAP.split(), "-cp", f"{libs}/*", _log4j(), "kafka.Kafka", str(props)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (here / "kafka.pid").write_text(str(proc.pid))
    if wait:
        _wait_broker(settings, layout, i)


def _wait_broker(settings: Settings, layout: Layout, i: int) -> None:
    one = _on_broker(settings, layout, i)
    services._wait(
        lambda: services.kafka_reachable(one),
        f"Kafka broker {i} at {one.kafka_bootstrap}",
        _broker_dir(settings, i) / "kafka.log",
    )


def stop_broker(settings: Settings, i: int) -> bool:
    """SIGTERM broker i (a clean shutdown: its leaderships move first); False if not running."""
    return services._stop(_broker_dir(settings, i) / "kafka.pid")


def start_node(settings: Settings, layout: Layout, j: int, *, wait: bool = True) -> None:
    """Start Elasticsearch node j (0: master and data; others: data only) unless it runs."""
    here = _node_dir(settings, layout, j)
    if services._pid_alive(here / "elasticsearch.pid"):
        return
    paths = Paths.for_settings(settings)
    as_user = services._es_user()
    paths.elasticsearch.mkdir(parents=True, exist_ok=True)
    home = services.fetch_elasticsearch(paths)
    for sub in ("data", "logs"):
        (here / sub).mkdir(parents=True, exist_ok=True)
    if as_user:
        services._run(
            ["chown", "-R", f"{services.ES_USER}:{services.ES_USER}", str(paths.elasticsearch)],
            "chown",
        )
    options = {
        "cluster.name": f"sada-cluster-{layout.es_port}",
        "node.name": f"node-{j}",
        "node.roles": "master,data" if j == 0 else "data",
        "discovery.seed_hosts": f"127.0.0.1:{layout.transport_port(0)}",
        "xpack.security.enabled": "false",
        "network.host": "127.0.0.1",
        "http.port": str(layout.http_port(j)),
        "transport.port": str(layout.transport_port(j)),
        "path.data": str(here / "data"),
        "path.logs": str(here / "logs"),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    if j == 0:  # the cluster's first election: only master-eligible nodes may name it
        options["cluster.initial_master_nodes"] = "node-0"
    env = {**os.environ, "ES_JAVA_HOME": services._java_home(), "ES_JAVA_OPTS": HEAP}
    with (here / "stdout.log").open("ab") as out:
        proc = subprocess.Popen(
            [
                *as_user,
                str(home / "bin" / "elasticsearch"),
                *(arg for name, value in options.items() for arg in ("-E", f"{name}={value}")),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    (here / "elasticsearch.pid").write_text(str(proc.pid))
    if wait:
        _wait_node(settings, layout, j)


def _wait_node(settings: Settings, layout: Layout, j: int) -> None:
    one = _on_node(settings, layout, j)
    services._wait(
        lambda: services.es_reachable(one),
        f"Elasticsearch node {j} at {one.es_url}",
        _node_dir(settings, layout, j) / "stdout.log",
    )


def stop_node(settings: Settings, layout: Layout, j: int) -> bool:
    """SIGTERM Elasticsearch node j; False if it was not running."""
    return services._stop(_node_dir(settings, layout, j) / "elasticsearch.pid")


def brokers_up(settings: Settings, layout: Layout) -> int:
    """Brokers the cluster's metadata lists (0 if none answers)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            **connect.kafka_python(
                settings.model_copy(update={"kafka_bootstrap": layout.bootstrap})
            )
        )
    except KafkaError:
        return 0
    try:
        return len(admin.describe_cluster()["brokers"])
    except KafkaError:
        return 0
    finally:
        admin.close()


def nodes_up(settings: Settings, layout: Layout) -> int:
    """Nodes in the Elasticsearch cluster, as node 0 sees it (0 if it does not answer)."""
    client = connect.elasticsearch(_on_node(settings, layout, 0)).options(
        request_timeout=5, max_retries=0
    )
    try:
        return int(client.cluster.health()["number_of_nodes"])
    except (ApiError, TransportError):
        return 0
    finally:
        client.close()


def wait_complete(settings: Settings, layout: Layout, timeout: float = 180.0) -> None:
    """Until every broker is in the metadata and every node in the cluster."""
    services._wait(
        lambda: brokers_up(settings, layout) == layout.brokers,
        f"{layout.brokers} Kafka brokers at {layout.bootstrap}",
        _broker_dir(settings, 0) / "kafka.log",
        timeout,
    )
    services._wait(
        lambda: nodes_up(settings, layout) == layout.nodes,
        f"{layout.nodes} Elasticsearch nodes at {layout.es_url(0)}",
        _node_dir(settings, layout, 0) / "stdout.log",
        timeout,
    )


def up(settings: Settings, layout: Layout) -> None:
    """Fetch (once), start every broker and node that is not running, and wait until the
    whole cluster answers. A cluster of another layout in this cache dir is an error."""
    state = root(settings) / "cluster.json"
    if state.exists() and saved_layout(settings) != layout:
        raise ConfigError(
            f"a cluster of another layout ({saved_layout(settings)}) lives in {root(settings)}: "
            "`sada cluster down --purge` it first, or use another SADA_CACHE_DIR"
        )
    root(settings).mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(asdict(layout)))
    for i in range(layout.brokers):
        start_broker(settings, layout, i, wait=False)
    for j in range(layout.nodes):
        start_node(settings, layout, j, wait=False)
    for i in range(layout.brokers):
        _wait_broker(settings, layout, i)
    for j in range(layout.nodes):
        _wait_node(settings, layout, j)
    wait_complete(settings, layout)


def down(settings: Settings, *, purge: bool = False) -> list[str]:
    """Stop whatever of the cluster runs; `purge`: delete its data too. Returns what stopped."""
    try:
        layout = saved_layout(settings)
    except ServiceError:
        return []
    stopped = [f"elasticsearch-{j}" for j in range(layout.nodes) if stop_node(settings, layout, j)]
    stopped += [f"kafka-{i}" for i in range(layout.brokers) if stop_broker(settings, i)]
    if purge:
        shutil.rmtree(_node_dir(settings, layout, 0).parent, ignore_errors=True)
        shutil.rmtree(root(settings), ignore_errors=True)
    return stopped


def status(settings: Settings) -> dict[str, str]:
    """Each broker and node: up or down, where, and its pid."""
    layout = saved_layout(settings)

    def describe(up: bool, pid_file: Path, where: str) -> str:
        pid = services._pid_alive(pid_file)
        return f"{'up' if up else 'down'} at {where}" + (f" (pid {pid})" if pid else "")

    states = {
        f"kafka-{i}": describe(
            services.kafka_reachable(_on_broker(settings, layout, i)),
            _broker_dir(settings, i) / "kafka.pid",
            f"127.0.0.1:{layout.broker_port(i)}",
        )
        for i in range(layout.brokers)
    }
    for j in range(layout.nodes):
        states[f"elasticsearch-{j}"] = describe(
            services.es_reachable(_on_node(settings, layout, j)),
            _node_dir(settings, layout, j) / "elasticsearch.pid",
            layout.es_url(j),
        )
    return states
