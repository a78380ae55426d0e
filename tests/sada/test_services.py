"""Local services on ports and a cache directory of a test's own (never the shared ones)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from core import connect, health, topics
from core.config import Settings
from core.errors import ConfigError, ServiceError
from ingest.producer import create_producer
from sada import services
from sada.cli import app
from sada.topics import ensure_topics
from tests.conftest import eventually, read_topic
from tests.own_kafka import own_kafka

runner = CliRunner()


def test_a_stage_waits_for_a_broker_that_is_not_up_yet(settings: Settings, tmp_path: Path) -> None:
    with own_kafka(settings, tmp_path / "cache") as own:
        assert services.stop_kafka(own)
        assert not services.kafka_reachable(own)
        waiting = threading.Thread(target=services.wait_until_reachable, args=(own,), daemon=True)
        waiting.start()
        eventually(lambda: "services" in health.waits(), timeout=30, what="not ready")
        assert f"Kafka is not reachable at {own.kafka_bootstrap}" in health.waits()["services"]
        assert waiting.is_alive()
        services.start_kafka(own)  # the same data directory: a restart, not a new broker
        waiting.join(timeout=60)
        assert not waiting.is_alive()
        assert "services" not in health.waits()


def _secrets(files: services.SecureFiles) -> list[str]:
    passwords = (files.kafka_password, files.admin_password, files.elastic_password)
    return [p.read_text().strip() for p in (*passwords, files.es_password, files.store_password)]


def test_the_secured_stack_writes_its_settings_without_a_secret(
    secure_settings: Settings,
) -> None:
    files = services.SecureFiles.for_settings(secure_settings)
    for private in (files.ca_key, files.key, files.keystore, files.env, files.es_password):
        assert private.stat().st_mode & 0o777 == 0o600, private
    env = dict(line.split("=", 1) for line in files.env.read_text().splitlines())
    assert env["SADA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SADA_ES_URL"] == secure_settings.es_url
    from_file = Settings.from_env({**env, "SADA_CACHE_DIR": str(secure_settings.cache_dir)})
    assert from_file.kafka_password == secure_settings.kafka_password
    assert from_file.es_password == secure_settings.es_password
    assert services.kafka_reachable(from_file) and services.es_reachable(from_file)

    environment = {**env, "SADA_CACHE_DIR": str(secure_settings.cache_dir)}
    shown = runner.invoke(app, ["services", "up", "--secure"], env=environment)  # already up
    assert shown.exit_code == 0, shown.output
    assert f"export SADA_KAFKA_PASSWORD_FILE={files.kafka_password}" in shown.output
    assert f"export SADA_ES_PASSWORD_FILE={files.es_password}" in shown.output
    status = runner.invoke(app, ["services", "status"], env=environment)
    assert f"kafka: up at {secure_settings.kafka_bootstrap} (local, pid" in status.output
    assert f"elasticsearch: up at {secure_settings.es_url} (local, pid" in status.output
    assert not any(secret in shown.output + status.output for secret in _secrets(files))


def test_missing_secured_files_say_what_to_run(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path)
    with pytest.raises(ServiceError, match=r"run `sada services up --secure`"):
        services.secured(settings)
    result = runner.invoke(
        app, ["services", "status", "--secure"], env={"SADA_CACHE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "not set up" in result.output and "sada services up --secure" in result.output
    gone = Settings(
        es_url="https://127.0.0.1:9", es_ca_file=tmp_path / "secure" / "ca.crt", cache_dir=tmp_path
    )
    with pytest.raises(ConfigError, match=r"SADA_ES_CA_FILE: .*ca.crt does not exist .*--secure"):
        services.es_reachable(gone)


def test_the_secured_elasticsearch_refuses_no_or_wrong_credentials(
    secure_settings: Settings,
) -> None:
    anonymous = secure_settings.model_copy(update={"es_username": None, "es_password": None})
    wrong = secure_settings.model_copy(update={"es_password": SecretStr("not-the-password")})
    for refused in (anonymous, wrong):
        with pytest.raises(ConfigError, match="refused Sada's credentials") as raised:
            services.es_reachable(refused)
        assert "not-the-password" not in str(raised.value)
    untrusted = secure_settings.model_copy(update={"es_ca_file": None})
    with pytest.raises(ConfigError, match="TLS certificate is not the one Sada trusts"):
        services.es_reachable(untrusted)
    plain_http = secure_settings.model_copy(
        update={"es_url": secure_settings.es_url.replace("https:", "http:"), "es_ca_file": None}
    )
    assert not services.es_reachable(plain_http)


@pytest.mark.parametrize("trust", ["ca_file", "fingerprint"])
def test_the_secured_elasticsearch_takes_sadas_user(secure_settings: Settings, trust: str) -> None:
    files = services.SecureFiles.for_settings(secure_settings)
    settings = (
        secure_settings
        if trust == "ca_file"
        else secure_settings.model_copy(
            update={
                "es_ca_file": None,
                "es_fingerprint": services.certificate_fingerprint(files.cert),
            }
        )
    )
    index = f"{secure_settings.namespace}-{trust.replace('_', '-')}"
    client = connect.elasticsearch(settings)
    try:
        client.index(index=index, id="1", document={"text": "hello"}, refresh=True)
        assert client.get(index=index, id="1")["_source"] == {"text": "hello"}
        client.indices.delete(index=index)
    finally:
        client.close()


def test_the_secured_kafka_refuses_a_plaintext_client_and_a_wrong_password(
    secure_settings: Settings,
) -> None:
    plaintext = secure_settings.model_copy(
        update={
            "kafka_security_protocol": "PLAINTEXT",
            "kafka_username": None,
            "kafka_password": None,
        }
    )
    started = time.monotonic()
    assert not services.kafka_reachable(plaintext)
    wrong = secure_settings.model_copy(update={"kafka_password": SecretStr("not-the-password")})
    with pytest.raises(ConfigError, match=r"refused Sada's credentials \(SADA_KAFKA_USERNAME"):
        services.kafka_reachable(wrong)
    untrusted = secure_settings.model_copy(update={"kafka_ca_file": None})  # the system's CAs
    with pytest.raises(ConfigError, match=r"TLS failed .*certificate verify failed"):
        services.kafka_reachable(untrusted)
    assert time.monotonic() - started < 30  # refusals, not hangs


def test_the_secured_kafka_takes_sadas_scram_user(secure_settings: Settings) -> None:
    secure_settings = secure_settings.model_copy(  # its own topics: the session shares the stack
        update={"namespace": f"{secure_settings.namespace}-scram"}
    )
    ensure_topics(secure_settings)
    producer = create_producer(secure_settings)  # confluent-kafka (librdkafka)
    producer.produce(secure_settings.topic(topics.RAW), value=b"over SASL_SSL")
    assert producer.flush(30) == 0
    records = read_topic(secure_settings, topics.RAW)  # kafka-python
    assert [r.value for r in records] == [b"over SASL_SSL"]
    plain = secure_settings.model_copy(update={"kafka_sasl_mechanism": "PLAIN"})
    assert [r.value for r in read_topic(plain, topics.RAW)] == [b"over SASL_SSL"]


def test_a_service_that_exits_while_starting_fails_at_once(
    settings: Settings, tmp_path: Path
) -> None:
    with socket.socket() as taken:  # a listener that is no broker, on the broker's port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        own = settings.model_copy(
            update={"kafka_bootstrap": f"127.0.0.1:{port}", "cache_dir": tmp_path / "cache"}
        )
        libs = services.Paths.for_settings(own).libs
        libs.parent.mkdir(parents=True)
        libs.symlink_to(services.Paths.for_settings(settings).libs)  # the session's, fetched
        started = time.monotonic()
        with pytest.raises(
            ServiceError, match=r"(?s)exited \(code 1\); log .*Address already in use"
        ):
            services.start_kafka(own)
        assert time.monotonic() - started < services.WAIT_SECONDS / 2


def test_a_failing_tool_never_shows_a_generated_secret(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("generated-3f9a7c\n")
    password = services._secret(tmp_path / "password")  # as the secured stack reads them
    with pytest.raises(ServiceError) as raised:  # in its arguments and in what it printed
        services._run(["sh", "-c", f"echo {password} >&2; exit 3", password], "a tool")
    assert "a tool failed (exit 3)" in str(raised.value)
    assert password not in str(raised.value)
