"""deploy/kubernetes/ without a cluster (none here): the built-in kinds are validated strictly
against the Kubernetes JSON schemas kubernetes-validate bundles; the operators' kinds (Strimzi,
ECK, KEDA), whose CRD schemas ship only with the operators, against the fields of their API
references that these files use; and everything is cross-checked with the code: topics,
partitions, consumer groups, ACLs, variables, commands, probes and ports."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from core import topics
from core.config import Settings, load_config
from ingest.catalog import jobs
from sada import services, workers
from sada.topics import changelog_name
from tests.deploy.environment import (
    DEPLOY,
    IMAGE,
    check_command,
    serves_health,
    settings_from,
    unknown_variables,
)

KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")  # the oldest still common, and the newest bundled
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
OPERATOR_KINDS = {
    "kafka.strimzi.io/v1": {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"},
    "elasticsearch.k8s.elastic.co/v1": {"Elasticsearch"},
    "kibana.k8s.elastic.co/v1": {"Kibana"},
    "keda.sh/v1alpha1": {"ScaledObject", "TriggerAuthentication"},
}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


STRING, INTEGER = {"type": "string"}, {"type": "integer", "minimum": 1}
CLUSTER_LABEL = _obj(["labels"], labels=_obj(["strimzi.io/cluster"]))
SPECS: dict[str, dict[str, Any]] = {
    # The fields these files use, as the operators' API references define them.
    "KafkaNodePool": _obj(
        ["replicas", "roles", "storage"],
        replicas=INTEGER,
        roles={"type": "array", "items": {"enum": ["controller", "broker"]}, "minItems": 1},
        storage=_obj(["type"], type={"enum": ["ephemeral", "persistent-claim", "jbod"]}),
    ),
    "Kafka": _obj(
        ["kafka"],
        kafka=_obj(
            ["listeners"],
            listeners={
                "type": "array",
                "items": _obj(
                    ["name", "port", "type", "tls"],
                    port=INTEGER,
                    type={
                        "enum": [
                            "internal",
                            "route",
                            "loadbalancer",
                            "nodeport",
                            "ingress",
                            "cluster-ip",
                        ]
                    },
                    authentication=_obj(
                        ["type"], type={"enum": ["tls", "scram-sha-512", "oauth", "custom"]}
                    ),
                ),
            },
            authorization=_obj(["type"], type={"enum": ["simple", "opa", "keycloak", "custom"]}),
        ),
        entityOperator=_obj(["topicOperator", "userOperator"]),
    ),
    "KafkaTopic": _obj(["partitions", "replicas"], partitions=INTEGER, replicas=INTEGER),
    "KafkaUser": _obj(
        ["authentication", "authorization"],
        authentication=_obj(["type"], type={"enum": ["tls", "tls-external", "scram-sha-512"]}),
        authorization=_obj(
            ["type", "acls"],
            type={"const": "simple"},
            acls={
                "type": "array",
                "items": _obj(
                    ["resource", "operations"],
                    resource=_obj(
                        ["type"],
                        type={"enum": ["topic", "group", "cluster", "transactionalId"]},
                        patternType={"enum": ["literal", "prefix"]},
                    ),
                    operations={
                        "type": "array",
                        "items": {
                            "enum": [
                                "Read",
                                "Write",
                                "Create",
                                "Delete",
                                "Alter",
                                "Describe",
                                "ClusterAction",
                                "AlterConfigs",
                                "DescribeConfigs",
                                "IdempotentWrite",
                                "All",
                            ]
                        },
                    },  # fmt: skip
                ),
            },
        ),
    ),
    "Elasticsearch": _obj(
        ["version", "nodeSets"],
        version=STRING,
        nodeSets={"type": "array", "items": _obj(["name", "count"], count=INTEGER)},
    ),
    "Kibana": _obj(["version", "count", "elasticsearchRef"], elasticsearchRef=_obj(["name"])),
    "TriggerAuthentication": _obj(
        ["secretTargetRef"],
        secretTargetRef={"type": "array", "items": _obj(["parameter", "name", "key"])},
    ),
    "ScaledObject": _obj(
        ["scaleTargetRef", "triggers"],
        scaleTargetRef=_obj(["name"]),
        minReplicaCount={"type": "integer"},
        maxReplicaCount=INTEGER,
        triggers={
            "type": "array",
            "items": _obj(["type", "metadata"], authenticationRef=_obj(["name"])),
        },
    ),
}


def _documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    ]


def _of(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _documents() if doc["kind"] == kind]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    (doc,) = [d for d in _of(kind) if name in (None, d["metadata"]["name"])]
    return doc


def _env() -> dict[str, str]:
    return _one("ConfigMap", "sada-env")["data"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The settings the pods read from the sada-env ConfigMap (no services: this shadows the
    suite's `settings` fixture)."""
    return settings_from(_env(), tmp_path)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_built_in_kinds_are_valid_against_the_kubernetes_schemas(version: str) -> None:
    built_in = [d for d in _documents() if d["apiVersion"] not in OPERATOR_KINDS]
    assert {d["kind"] for d in built_in} >= {"Deployment", "ConfigMap", "Namespace", "Service"}
    for doc in built_in:
        kubernetes_validate.validate(doc, version, strict=True)
    broken = copy.deepcopy(_one("Deployment", "sada-sinks"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(broken, version, strict=True)


def test_the_operators_kinds_have_the_fields_their_apis_require() -> None:
    operated = [d for d in _documents() if d["apiVersion"] in OPERATOR_KINDS]
    assert {d["kind"] for d in operated} == set().union(*OPERATOR_KINDS.values())
    for doc in operated:
        assert doc["kind"] in OPERATOR_KINDS[doc["apiVersion"]], doc["apiVersion"]
        with pytest.raises(SchemaNotFoundError):  # not a built-in kind: checked here instead
            kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
        jsonschema.validate(doc["spec"], SPECS[doc["kind"]])
        if doc["apiVersion"].startswith("kafka.strimzi.io") and doc["kind"] != "Kafka":
            jsonschema.validate(doc["metadata"], CLUSTER_LABEL)
            assert (
                doc["metadata"]["labels"]["strimzi.io/cluster"] == _one("Kafka")["metadata"]["name"]
            )
    assert "controller" in _one("KafkaNodePool")["spec"]["roles"], "KRaft needs controllers"


def test_every_object_is_in_one_namespace() -> None:
    namespace = _one("Namespace")["metadata"]["name"]
    assert {d["metadata"].get("namespace") for d in _documents() if d["kind"] != "Namespace"} == {
        namespace
    }


def test_the_topics_are_sadas_with_its_partitions_and_copies(settings: Settings) -> None:
    declared = {t["metadata"]["name"]: t["spec"] for t in _of("KafkaTopic")}
    wanted = {settings.topic(t): (settings.partitions(t), dict(t.config)) for t in topics.ALL} | {
        changelog_name(settings, c): (settings.partitions(topics.SCORED), dict(c.config))
        for c in topics.CHANGELOGS
    }
    assert set(declared) == set(wanted)
    for name, (partitions, config) in wanted.items():
        kind = (
            "changelogs"
            if name.endswith("-changelog")
            else name.removeprefix(f"{settings.namespace}.")
        )
        spec = declared[name]
        assert spec["partitions"] == partitions, name
        assert spec["replicas"] == settings.replication_factor(kind), name
        stated = {k: str(v) for k, v in spec.get("config", {}).items()}
        assert stated == config | {"min.insync.replicas": str(settings.min_insync_replicas(kind))}


def _allowed(acls: list[dict[str, Any]], kind: str, name: str, operation: str) -> bool:
    for acl in acls:
        resource = acl["resource"]
        pattern = resource.get("name", "")
        matches = (
            name.startswith(pattern) if resource.get("patternType") == "prefix" else name == pattern
        )
        if resource["type"] == kind and matches and operation in acl["operations"]:
            return True
    return False


def test_the_kafka_user_logs_in_as_sada_does_and_may_use_its_topics_and_groups(
    settings: Settings,
) -> None:
    user, kafka = _one("KafkaUser"), _one("Kafka")
    assert user["metadata"]["name"] == settings.kafka_username
    assert (
        user["spec"]["authentication"]["type"]
        == settings.kafka_sasl_mechanism.lower()
        == "scram-sha-512"
    )
    host, port = settings.kafka_bootstrap.split(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    (listener,) = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == int(port)]
    assert listener["tls"] and settings.kafka_security_protocol == "SASL_SSL"
    assert listener["authentication"]["type"] == user["spec"]["authentication"]["type"]
    acls = user["spec"]["authorization"]["acls"]
    names = [settings.topic(t) for t in topics.ALL] + [
        changelog_name(settings, c) for c in topics.CHANGELOGS
    ]
    groups = [settings.processor_group("score"), settings.processor_group("detect")] + [
        settings.group(stage)
        for stage in ("index-mentions", "index-alerts", "notify", "remove-mentions")
    ]
    assert all(
        f'stage="{g.removeprefix("sada-")}"' in inspect.getsource(workers) for g in groups[2:]
    )
    for name in names + [f"{settings.processor_group('detect')}-__assignor-__leader"]:
        assert all(_allowed(acls, "topic", name, op) for op in ("Read", "Write", "Describe")), name
    for group in groups:
        assert _allowed(acls, "group", group, "Read"), group
    assert _allowed(acls, "cluster", "", "Describe")  # the stages count the brokers at start
    assert not _allowed(acls, "topic", "other.mentions.raw", "Read")


def test_elasticsearch_and_kibana_are_the_version_sada_runs(settings: Settings) -> None:
    es, kibana = _one("Elasticsearch"), _one("Kibana")
    assert es["spec"]["version"] == kibana["spec"]["version"] == services.ES_VERSION
    assert kibana["spec"]["elasticsearchRef"]["name"] == es["metadata"]["name"]
    assert settings.es_url == f"https://{es['metadata']['name']}-es-http:9200"
    assert settings.es_username == "elastic" and settings.es_password is not None


def test_the_settings_and_the_clients_file_are_valid(settings: Settings, tmp_path: Path) -> None:
    assert unknown_variables(_env()) == set()
    assert settings.metrics_port > 0
    assert settings.metrics_host == "0.0.0.0"  # the kubelet probes the pod's address
    clients = _one("ConfigMap", "sada-clients")["data"]
    assert set(clients) == {settings.config_path.name}
    path = tmp_path / settings.config_path.name
    path.write_text(clients[path.name], encoding="utf-8")
    assert jobs(load_config(path)), "its sources are ones ingest can run"


def _secrets_made_by_the_operators() -> set[str]:
    kafka, es = _one("Kafka")["metadata"]["name"], _one("Elasticsearch")["metadata"]["name"]
    return {
        _one("KafkaUser")["metadata"]["name"],  # key `password`
        f"{kafka}-cluster-ca-cert",  # key `ca.crt`
        f"{es}-es-elastic-user",  # key `elastic`
        f"{es}-es-http-certs-public",  # key `ca.crt`
    }


def test_each_stage_runs_a_real_command_with_probes_on_its_ports(settings: Settings) -> None:
    deployments = _of("Deployment")
    assert len(deployments) == 5
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == IMAGE
        check_command(container["args"])
        assert container["envFrom"] == [{"configMapRef": {"name": "sada-env"}}]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        if serves_health(container["args"]):
            assert (live["path"], ready["path"]) == ("/healthz", "/readyz")
            assert ports[live["port"]] == ports[ready["port"]] == settings.metrics_port
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == str(settings.metrics_port)
        else:
            assert live["path"] == ready["path"] == "/login"
            assert (
                str(ports[live["port"]]) == container["args"][container["args"].index("--port") + 1]
            )
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {Path(m["mountPath"]): volumes[m["name"]] for m in container["volumeMounts"]}
        for variable, value in _env().items():
            if variable.endswith("_FILE") or variable in {"SADA_CONFIG"}:
                volume = mounts[Path(value).parent]
                source = volume.get("secret") or volume["configMap"]
                if "secret" in volume:
                    assert volume["secret"]["secretName"] in _secrets_made_by_the_operators()
                    assert [i["path"] for i in source["items"]] == [Path(value).name], variable
                else:
                    assert source["name"] == "sada-clients"


def test_autoscaling_follows_lag_and_stops_at_the_partitions(settings: Settings) -> None:
    reads = {  # each scaled stage: its consumer group and the topic it works through
        ("process", "--stage", "score"): (settings.processor_group("score"), topics.RAW),
        ("process", "--stage", "detect"): (settings.processor_group("detect"), topics.SCORED),
        ("sinks",): (settings.group("index-mentions"), topics.SCORED),
    }
    deployments = {d["metadata"]["name"]: d for d in _of("Deployment")}
    authentication = _one("TriggerAuthentication")
    secrets = {r["name"] for r in authentication["spec"]["secretTargetRef"]}
    assert secrets <= _secrets_made_by_the_operators() | {
        s["metadata"]["name"] for s in _of("Secret")
    }
    scaled = set()
    for scaler in _of("ScaledObject"):
        deployment = deployments[scaler["spec"]["scaleTargetRef"]["name"]]
        args = tuple(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
        group, topic = reads[args]
        (trigger,) = scaler["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]
        meta = trigger["metadata"]
        assert (meta["consumerGroup"], meta["topic"]) == (group, settings.topic(topic))
        assert scaler["spec"]["maxReplicaCount"] == settings.partitions(topic)
        assert meta["bootstrapServers"] == settings.kafka_bootstrap
        assert meta["sasl"] == settings.kafka_sasl_mechanism.lower().replace("-", "_", 1).replace(
            "-", ""
        )
        assert meta.get("allowIdleConsumers", "false") == "false"
        scaled.add(args)
    assert scaled == set(reads)
    assert deployments["sada-ingest"]["spec"]["replicas"] == 1  # each source polled once
