from __future__ import annotations

from pathlib import Path

import pytest

from core import topics
from core.config import ROUTES, Settings, load_config
from core.errors import ConfigError
from sada import SAMPLE_CONFIG as SAMPLE


def test_sample_config_has_arabic_and_english_brands() -> None:
    config = load_config(SAMPLE)
    names = [brand.name for client in config.clients for brand in client.brands]
    assert any("عمرو دياب" in name for name in names)
    assert "Skyline Air" in names


def test_a_client_is_found_by_its_id() -> None:
    config = load_config(SAMPLE)
    found = config.client("northwind")
    assert found is not None and found.id == "northwind"
    assert config.client("gone") is None  # an alert can outlive its client in the file


def test_every_problem_is_reported_with_file_and_field_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
clients:
  - id: Acme Corp
    name: Acme
    brands:
      - id: widget
        name: Widget
        include: []
        routes: [pager]
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "clients[0].id: String should match pattern" in message
    assert "clients[0].brands[0].include: List should have at least 1 item" in message


def test_a_route_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        """
clients:
  - id: acme
    name: Acme
    routes: {ops: {type: webhook, url: "http://127.0.0.1:9/x"}}
    brands:
      - {id: widget, name: Widget, include: [widget], routes: [pager]}
""",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match="brand 'widget' names route 'pager'.*known: ops|\\(ops\\)"
    ):
        load_config(path)


def test_a_competitor_is_never_alerted_so_it_names_no_route(tmp_path: Path) -> None:
    path = tmp_path / "competitor.yaml"
    path.write_text(
        """
clients:
  - id: acme
    name: Acme
    routes: {ops: {type: webhook, url: "http://127.0.0.1:9/x", allow_private: true}}
    brands:
      - {id: widget, name: Widget, include: [widget], routes: [ops]}
      - {id: rival, name: Rival, include: [rival], competitor: true, routes: [ops]}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"clients\[0\]\.brands\[1\].*'rival' is a competitor"):
        load_config(path)
    sample = load_config(SAMPLE).client("northwind")
    assert sample is not None and [b.id for b in sample.brands if b.competitor] == ["gulf-wings"]
    assert load_config(SAMPLE).competitors() == {"northwind/gulf-wings"}


def test_a_route_is_checked_as_the_kind_its_type_names(tmp_path: Path) -> None:
    """The routes' union is built from ROUTES; a route without a `type` is a webhook."""
    path = tmp_path / "routes.yaml"
    client = (
        "clients:\n  - id: acme\n    name: Acme\n    brands: [{id: w, name: W, include: [w]}]\n"
    )
    path.write_text(
        client
        + """    routes:
      hook: {url: "https://hooks.example/x"}
      chat: {type: slack, url: "https://hooks.slack.example/services/T/B/X"}
      mail: {type: email, host: smtp.example, sender: sada@agency.example, to: [a@b.example]}
""",
        encoding="utf-8",
    )
    routes = load_config(path).clients[0].routes
    assert {name: type(route) for name, route in routes.items()} == {
        "hook": ROUTES["webhook"],
        "chat": ROUTES["slack"],
        "mail": ROUTES["email"],
    }
    path.write_text(
        client
        + """    routes:
      fax: {type: fax, number: "123"}
      mail: {type: email, host: smtp.example, sender: sada@agency.example}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).splitlines()[1:] == [
        f"  clients[0].routes.fax: type must be one of {', '.join(ROUTES)}",
        "  clients[0].routes.mail.email.to: Field required",
    ]
    assert list(ROUTES) == ["webhook", "slack", "teams", "telegram", "email"]


def test_unreadable_and_non_yaml_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("clients: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"SADA_KAFKA_BOOTSTRAP": "k:9", "SADA_ES_URL": "http://e:1", "SADA_NAMESPACE": "prod"}
    )
    assert (settings.kafka_bootstrap, settings.es_url, settings.namespace) == (
        "k:9",
        "http://e:1",
        "prod",
    )
    assert settings.group("notify") == "prod-notify"
    assert settings.mentions_index == "prod-mentions"
    assert settings.sentiment_model_dir is None  # the shipped model


def test_a_transformer_model_directory_comes_from_the_environment() -> None:
    settings = Settings.from_env({"SADA_SENTIMENT_MODEL_DIR": "/models/xlm-t"})
    assert settings.sentiment_model_dir == Path("/models/xlm-t")


def test_the_e5_backend_is_chosen_from_the_environment() -> None:
    assert Settings.from_env({"SADA_SENTIMENT_BACKEND": "e5"}).sentiment_backend == "e5"
    delay = Settings.from_env({"SADA_SENTIMENT_MAX_DELAY_SECONDS": "2.5"})
    assert delay.sentiment_max_delay_seconds == 2.5
    with pytest.raises(ConfigError, match="SADA_SENTIMENT_BACKEND"):
        Settings.from_env({"SADA_SENTIMENT_BACKEND": "bert"})


def test_a_transformer_directory_and_the_e5_backend_are_not_both_chosen() -> None:
    env = {"SADA_SENTIMENT_BACKEND": "e5", "SADA_SENTIMENT_MODEL_DIR": "/models/xlm-t"}
    with pytest.raises(ConfigError, match="set only one"):
        Settings.from_env(env)


def test_a_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="SADA_NAMESPACE"):
        Settings.from_env({"SADA_NAMESPACE": "Not Valid!"})


def test_duplicate_ids_are_named(tmp_path: Path) -> None:
    path = tmp_path / "dupes.yaml"
    path.write_text(
        """
clients:
  - {id: acme, name: A, brands: [{id: w, name: W, include: [w]}, {id: w, name: W2, include: [v]}]}
  - {id: acme, name: B, brands: [{id: z, name: Z, include: [z]}]}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "clients[0]: Value error, brand ids within a client must be unique: ['w']" in message


def test_topology_is_a_default_then_per_topic_overrides() -> None:
    settings = Settings.from_env(
        {
            "SADA_KAFKA_PARTITIONS": "mentions.raw=12",
            "SADA_KAFKA_REPLICATION_FACTOR": "3,deadletter=2",
            "SADA_KAFKA_MIN_INSYNC_REPLICAS": "2",
            "SADA_ES_REPLICAS": "1,alerts=0",
        }
    )
    assert settings.partitions(topics.RAW) == 12
    assert settings.partitions(topics.SCORED) == topics.SCORED.partitions  # Sada's own
    assert settings.replication_factor("alerts") == 3
    assert settings.replication_factor("deadletter") == 2
    assert settings.min_insync_replicas("changelogs") == 2
    assert (settings.replicas("mentions"), settings.replicas("alerts")) == (1, 0)
    assert Settings.from_env({}).min_insync_replicas("alerts") is None  # the broker's default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SADA_KAFKA_PARTITIONS": "mentions=3"}, "'mentions' is not one of mentions.raw"),
        ({"SADA_KAFKA_REPLICATION_FACTOR": "0"}, "whole number from 1"),
        ({"SADA_ES_SHARDS": "mentions=two"}, "SADA_ES_SHARDS: 'mentions=two'"),
        (
            {"SADA_KAFKA_MIN_INSYNC_REPLICAS": "2", "SADA_KAFKA_REPLICATION_FACTOR": "3,alerts=1"},
            r"above the replication factor of alerts \(2 > 1\)",
        ),
    ],
)
def test_a_bad_topology_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_a_child_process_gets_the_same_settings_back(tmp_path: Path) -> None:
    env = {
        "SADA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SADA_KAFKA_USERNAME": "sada",
        "SADA_KAFKA_PASSWORD": "kafka-pass-123",
        "SADA_KAFKA_REPLICATION_FACTOR": "3,deadletter=2",
        "SADA_ES_API_KEY": "a2V5OnNlY3JldA==",
        "SADA_CONFIG": str(tmp_path / "clients.yaml"),
        "SADA_METRICS_PORT": "9500",
        "SADA_METRICS_HOST": "0.0.0.0",
        "SADA_LOG_FORMAT": "json",
    }
    settings = Settings.from_env(env)
    assert (settings.metrics_host, settings.log_format) == ("0.0.0.0", "json")
    assert Settings.from_env(settings.to_env()) == settings


def test_metrics_listen_on_loopback_and_logs_are_text_unless_told() -> None:
    settings = Settings.from_env({})
    assert (settings.metrics_host, settings.log_format) == ("127.0.0.1", "text")
    with pytest.raises(ConfigError, match="SADA_LOG_FORMAT: Input should be 'text' or 'json'"):
        Settings.from_env({"SADA_LOG_FORMAT": "xml"})
