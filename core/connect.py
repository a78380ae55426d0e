"""How every client in Sada connects to Kafka and Elasticsearch: one reading of the settings.

Each Kafka library spells the same security settings its own way (kafka-python keyword
arguments, librdkafka's dotted keys, aiokafka's SSL context under Faust); they are all built
here from `Settings`, so a secured or managed cluster works for every stage or for none.
Elasticsearch is reached only through its official client, built here too.
"""

from __future__ import annotations

import ssl
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch, OrjsonSerializer

from core.config import Settings

ES_TIMEOUT_SECONDS = 30.0


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def kafka_python(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL_"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": _secret(settings.kafka_password),
        }
    if settings.kafka_security_protocol.endswith("SSL"):
        options |= {
            "ssl_cafile": _path(settings.kafka_ca_file),
            "ssl_certfile": _path(settings.kafka_cert_file),
            "ssl_keyfile": _path(settings.kafka_key_file),
            "ssl_password": _secret(settings.kafka_key_password),
        }
    return options


def confluent(settings: Settings) -> dict[str, Any]:
    """Configuration for confluent-kafka (librdkafka) clients: the same settings, its keys."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL_"):
        config |= {
            "sasl.mechanisms": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_username,
            "sasl.password": _secret(settings.kafka_password),
        }
    if settings.kafka_security_protocol.endswith("SSL"):
        optional = {
            "ssl.ca.location": _path(settings.kafka_ca_file),
            "ssl.certificate.location": _path(settings.kafka_cert_file),
            "ssl.key.location": _path(settings.kafka_key_file),
            "ssl.key.password": _secret(settings.kafka_key_password),
        }
        config |= {key: value for key, value in optional.items() if value is not None}
    return config


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for aiokafka (Faust's client), which takes a context, not file names;
    None when the protocol has no TLS."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(cafile=_path(settings.kafka_ca_file))
    if settings.kafka_cert_file and settings.kafka_key_file:
        context.load_cert_chain(
            str(settings.kafka_cert_file),
            str(settings.kafka_key_file),
            password=_secret(settings.kafka_key_password),
        )
    return context


def _path(value: Any) -> str | None:
    return None if value is None else str(value)


def elasticsearch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for the Elasticsearch clients (sync and async alike). Bodies are
    encoded with orjson: the stdlib encoder took about 5% of the sink worker's CPU."""
    options: dict[str, Any] = {
        "request_timeout": ES_TIMEOUT_SECONDS,
        "serializer": OrjsonSerializer(),
    }
    if settings.es_cloud_id:
        options["cloud_id"] = settings.es_cloud_id
    else:
        options["hosts"] = settings.es_url
    if settings.es_api_key:
        options["api_key"] = _secret(settings.es_api_key)
    if settings.es_username:
        options["basic_auth"] = (settings.es_username, _secret(settings.es_password))
    if settings.es_ca_file:
        options["ca_certs"] = str(settings.es_ca_file)
    if settings.es_fingerprint:
        options["ssl_assert_fingerprint"] = settings.es_fingerprint
    return options


def elasticsearch(settings: Settings) -> Elasticsearch:
    """A synchronous client (commands, checks): close it when done."""
    return Elasticsearch(**elasticsearch_options(settings))


def async_elasticsearch(settings: Settings) -> AsyncElasticsearch:
    """An asyncio client (the sinks): close it when done."""
    return AsyncElasticsearch(**elasticsearch_options(settings))
