"""Every Kafka library and the Elasticsearch client get the same security settings, each in
its own spelling (the live check is tests/test_secure_end_to_end.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from elasticsearch import OrjsonSerializer

from core import connect, redact
from core.config import Settings
from core.errors import ConfigError

SASL_SSL = {
    "SADA_KAFKA_BOOTSTRAP": "b1:9093,b2:9093",
    "SADA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SADA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "SADA_KAFKA_USERNAME": "sada",
    "SADA_KAFKA_PASSWORD": "kafka-pass-123",
}


def test_sasl_ssl_reaches_kafka_python_and_librdkafka_alike() -> None:
    settings = Settings.from_env(SASL_SSL)
    assert connect.kafka_python(settings) == {
        "bootstrap_servers": "b1:9093,b2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "sada",
        "sasl_plain_password": "kafka-pass-123",
        "ssl_cafile": None,
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "ssl_password": None,
    }
    assert connect.confluent(settings) == {
        "bootstrap.servers": "b1:9093,b2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "sada",
        "sasl.password": "kafka-pass-123",
    }
    context = connect.kafka_ssl_context(settings)
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED


def test_plaintext_adds_nothing() -> None:
    settings = Settings.from_env({})
    assert connect.kafka_python(settings) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert connect.kafka_ssl_context(settings) is None


def test_elasticsearch_credentials_and_trust(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    keyed = Settings.from_env(
        {
            "SADA_ES_URL": "https://es:9200",
            "SADA_ES_API_KEY": "a2V5OnNlY3JldA==",
            "SADA_ES_CA_FILE": str(ca),
        }
    )
    options = connect.elasticsearch_options(keyed)
    assert isinstance(options.pop("serializer"), OrjsonSerializer)
    assert options == {
        "request_timeout": connect.ES_TIMEOUT_SECONDS,
        "hosts": "https://es:9200",
        "api_key": "a2V5OnNlY3JldA==",
        "ca_certs": str(ca),
    }
    fingerprint = "AB:" * 31 + "CD"
    cloud = Settings.from_env(
        {
            "SADA_ES_CLOUD_ID": "prod:ZXhhbXBsZS5jb20kYWJjJGRlZg==",
            "SADA_ES_USERNAME": "sada",
            "SADA_ES_PASSWORD": "es-pass-456",
            "SADA_ES_FINGERPRINT": fingerprint,
        }
    )
    options = connect.elasticsearch_options(cloud)
    assert options["cloud_id"] == "prod:ZXhhbXBsZS5jb20kYWJjJGRlZg==" and "hosts" not in options
    assert options["basic_auth"] == ("sada", "es-pass-456")
    assert options["ssl_assert_fingerprint"] == fingerprint
    assert cloud.es_where == "Elastic Cloud (prod)"


def test_secrets_come_from_files_and_are_masked_from_then_on(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("file-held-secret-789\n")
    settings = Settings.from_env(
        {**SASL_SSL, "SADA_KAFKA_PASSWORD": "", "SADA_KAFKA_PASSWORD_FILE": str(secret)}
    )
    assert connect.confluent(settings)["sasl.password"] == "file-held-secret-789"
    assert "file-held-secret-789" not in repr(settings)
    assert redact.redact("login failed for file-held-secret-789") == "login failed for ***"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SADA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "needs SADA_KAFKA_USERNAME and SADA_KAFKA_PASSWORD",
        ),
        (
            {"SADA_KAFKA_USERNAME": "sada", "SADA_KAFKA_PASSWORD": "x"},
            "only used with .* not PLAINTEXT",
        ),
        ({"SADA_KAFKA_CERT_FILE": "/c.pem"}, "both SADA_KAFKA_CERT_FILE and SADA_KAFKA_KEY_FILE"),
        ({"SADA_ES_USERNAME": "sada"}, "both SADA_ES_USERNAME and SADA_ES_PASSWORD"),
        ({"SADA_ES_API_KEY": "k", "SADA_ES_USERNAME": "u", "SADA_ES_PASSWORD": "p"}, "not both"),
        ({"SADA_ES_FINGERPRINT": "not-hex"}, "SADA_ES_FINGERPRINT"),
        (
            {"SADA_KAFKA_PASSWORD_FILE": "/nowhere/pw"},
            "SADA_KAFKA_PASSWORD_FILE: cannot read /nowhere/pw",
        ),
    ],
)
def test_incomplete_or_clashing_credentials_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
