"""Configuration: process settings from the environment, and the clients file.

The clients file (YAML) lists clients -> brands -> search queries -> alert routes. Errors name the
file, the field path and what is wrong, and list every problem at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, Union, get_args
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    SecretStr,
    Tag,
    ValidationError,
    model_validator,
)

from core import outbound, redact
from core.errors import ConfigError
from core.events import Severity, brand_key
from core.topics import ALL as ALL_TOPICS
from core.topics import Topic

SentimentBackend = Literal["linear", "e5"]

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]  # lower-case ids


def _require_unique(what: str, ids: list[str]) -> None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{what} must be unique: {duplicates}")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


TimeoutSeconds = Annotated[float, Field(gt=0, description="Per-delivery timeout.")]


class RouteBase(Strict):
    """What every kind of route has; each kind narrows `type` to its own name (a Literal)."""

    min_severity: Severity = Field(
        default="info",
        description="Only alert steps at least this severe reach this route (an incident that "
        "escalates to it arrives then, and its resolve step too).",
    )
    allow_private: bool = Field(
        default=False,
        description="May reach loopback, private, link-local and cloud-metadata addresses "
        "(a receiver on this machine or network); refused otherwise (docs/security.md).",
    )
    type: str

    def destination(self) -> str:
        """The host this route sends to, for the outbound address policy."""
        raise NotImplementedError

    @classmethod
    def kind(cls) -> str:
        """The `type` that names this kind of route in a clients file."""
        (name,) = get_args(cls.model_fields["type"].annotation)
        return str(name)


class WebhookRoute(RouteBase):
    """The alert as JSON (the `Alert` record), for your own tools."""

    type: Literal["webhook"] = "webhook"
    url: HttpUrl = Field(description="Where alerts are POSTed as JSON.")
    timeout_seconds: TimeoutSeconds = 10.0

    def destination(self) -> str:
        return self.url.host or ""


class SlackRoute(RouteBase):
    """A Slack channel, through an incoming webhook."""

    type: Literal["slack"]
    url: HttpUrl = Field(description="The incoming webhook URL (https://hooks.slack.com/...).")
    timeout_seconds: TimeoutSeconds = 10.0

    def destination(self) -> str:
        return self.url.host or ""


class TeamsRoute(RouteBase):
    """A Microsoft Teams channel, through a workflow's (or connector's) webhook."""

    type: Literal["teams"]
    url: HttpUrl = Field(description="The webhook URL the Teams workflow gave you.")
    timeout_seconds: TimeoutSeconds = 10.0

    def destination(self) -> str:
        return self.url.host or ""


class TelegramRoute(RouteBase):
    """A Telegram chat, group or channel, through a bot (the Bot API's sendMessage)."""

    type: Literal["telegram"]
    bot_token: SecretStr = Field(description="The bot's token, from @BotFather.")
    chat_id: str = Field(
        min_length=1, description="The chat's id (e.g. -1001234567890) or @channelusername."
    )
    api_url: HttpUrl = Field(
        default=HttpUrl("https://api.telegram.org"),
        description="Bot API server; change only for a self-hosted one.",
    )
    timeout_seconds: TimeoutSeconds = 10.0

    def destination(self) -> str:
        return self.api_url.host or ""


def _address(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise ValueError(f"{value!r} is not an email address (name@domain)")
    return value


Address = Annotated[str, AfterValidator(_address)]


class EmailRoute(RouteBase):
    """Email through an SMTP server (your provider's or your own relay)."""

    type: Literal["email"]
    host: str = Field(min_length=1, description="SMTP server host.")
    port: int = Field(default=587, gt=0, lt=65536, description="SMTP server port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit, port 465), or none (a local relay).",
    )
    username: str | None = Field(default=None, description="Login, when the server wants one.")
    password: SecretStr | None = Field(default=None, description="Password for `username`.")
    sender: Address = Field(description="The From address.")
    to: list[Address] = Field(min_length=1, description="Recipients.")
    ca_file: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) to trust, for a private relay."
    )
    timeout_seconds: TimeoutSeconds = 30.0

    def destination(self) -> str:
        return self.host

    @model_validator(mode="after")
    def _login_complete(self) -> EmailRoute:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


ROUTES: dict[str, type[RouteBase]] = {
    model.kind(): model
    for model in (WebhookRoute, SlackRoute, TeamsRoute, TelegramRoute, EmailRoute)
}
"""Every kind of route by its `type`. Adding one: its model above and a line here, its sender
in sinks/alerts.py's SENDERS; its reference table (docs/configuration.md) is rendered from the model (sada/reference.py)."""


def _route_type(value: object) -> str | None:
    """The route's `type`; a route without one is a webhook (as before other kinds existed)."""
    if isinstance(value, dict):
        return str(value.get("type", "webhook"))
    return getattr(value, "type", None)


if TYPE_CHECKING:  # the union is built from ROUTES at run time; to mypy, a route is any route
    Route: TypeAlias = RouteBase
else:
    Route = Annotated[
        Union[tuple(Annotated[model, Tag(kind)] for kind, model in ROUTES.items())],  # noqa: UP007
        Discriminator(
            _route_type,
            custom_error_type="route_type",
            custom_error_message=f"type must be one of {', '.join(ROUTES)}",
        ),
    ]


class Brand(Strict):
    id: Slug = Field(description="Stable identifier used in keys, indices and alerts.")
    name: str = Field(min_length=1, description="Display name (any script).")
    include: list[str] = Field(
        min_length=1, description="Queries; a mention that matches any of them concerns the brand."
    )
    exclude: list[str] = Field(
        default=[], description="Queries; a mention that matches any of them is dropped."
    )
    routes: list[str] = Field(default=[], description="Names of the client's alert routes.")
    competitor: bool = Field(
        default=False,
        description="A competitor the client tracks for share of voice: matched and indexed "
        "like a brand, never alerted, never in the inbox.",
    )

    @model_validator(mode="after")
    def _competitor_unrouted(self) -> Brand:
        if self.competitor and self.routes:
            raise ValueError(
                f"brand {self.id!r} is a competitor, which is never alerted: remove its routes"
            )
        return self


class DetectionConfig(Strict):
    """Detection settings; every duration is in time, so any bucket size shares the defaults."""

    bucket_seconds: int = Field(default=60, gt=0, description="Width of a count bucket.")
    warmup_hours: float = Field(default=24.0, ge=0, description="A new brand's quiet start.")
    level_half_life_hours: float = Field(default=6.0, gt=0, description="Baseline memory.")
    seasonal_half_life_cycles: float = Field(
        default=4.0, gt=0, description="Memory of the hour-of-day (days) and weekday (weeks) shape."
    )
    spread_half_life_hours: float = Field(default=72.0, gt=0, description="Noise-level memory.")
    spike_minutes: float = Field(
        default=5.0, gt=0, description="Span of the volume test (at least one bucket)."
    )
    min_count: int = Field(default=10, gt=0, description="Fewer mentions in that span never alert.")
    min_ratio: float = Field(
        default=1.5, gt=1, description="Observed/expected below this never alerts."
    )
    open_z: float = Field(default=7.0, gt=0, description="Least surprise (z) that opens an alert.")
    memory_hours: float = Field(
        default=240.0,
        gt=0,
        description="Half-life of the largest recent surprise, which must be beaten.",
    )
    warning_factor: float = Field(default=2.0, gt=1, description="x the bar: warning.")
    critical_factor: float = Field(default=4.0, gt=1, description="x the bar: critical.")
    resolve_z: float = Field(default=2.0, ge=0, description="Below this an incident is quiet.")
    drift_half_life_hours: float = Field(default=2.0, gt=0, description="Drift averaging memory.")
    drift_min_ratio: float = Field(
        default=1.5, gt=1, description="Averaged observed/expected below this is no drift."
    )
    negative_half_life_hours: float = Field(default=48.0, gt=0, description="Usual-share memory.")
    share_half_life_minutes: float = Field(default=10.0, gt=0, description="Recent-share memory.")
    min_negative_count: int = Field(default=5, gt=0, description="Fewer negatives never alert.")
    min_share_increase: float = Field(
        default=0.2, gt=0, lt=1, description="Negative share must exceed the usual by this."
    )
    resolve_after_minutes: float = Field(default=60.0, ge=0, description="Quiet time to resolve.")
    cooldown_minutes: float = Field(
        default=1440.0, ge=0, description="After resolving, crossings rejoin the same incident."
    )
    evidence_size: int = Field(default=3, gt=0, description="Mentions, authors, terms shown.")
    max_lateness_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Mentions older than this behind the newest are not counted (replays, backfills).",
    )


class Client(Strict):
    id: Slug = Field(description="Stable identifier of the client (an agency's customer).")
    name: str = Field(min_length=1, description="Display name.")
    brands: list[Brand] = Field(min_length=1, description="The brands watched for this client.")
    routes: dict[str, Route] = Field(
        default={}, description=f"Named alert destinations: {', '.join(ROUTES)}."
    )
    retention_days: int | None = Field(
        default=None,
        gt=0,
        description="Days this client's mentions and alerts are kept: `sada retention apply` "
        "deletes a month's indices once the whole month is older; unset: kept forever.",
    )

    @model_validator(mode="after")
    def _routes_exist(self) -> Client:
        for brand in self.brands:
            for name in brand.routes:
                if name not in self.routes:
                    known = ", ".join(sorted(self.routes)) or "none defined"
                    raise ValueError(
                        f"brand {brand.id!r} names route {name!r}, which is not in this "
                        f"client's routes ({known})"
                    )
        _require_unique("brand ids within a client", [b.id for b in self.brands])
        refused = [
            f"route {self.id}/{name}: {outbound.explain(host, reason)}"
            for name, route in self.routes.items()
            if not route.allow_private
            and (reason := outbound.host_refusal(host := route.destination()))
        ]
        if refused:
            raise ValueError("; ".join(refused))
        return self


class SourceEntry(BaseModel):
    """One source to ingest: `source` names it in ingest's catalog; the other keys are that
    source's own fields (docs/ingest.md), checked by `sada config check`."""

    model_config = ConfigDict(frozen=True, extra="allow")

    source: str = Field(description="Source name: bluesky, mastodon, hackernews, rss, reddit, ...")
    name: str | None = Field(default=None, description="Label in logs and metrics.")
    brands: list[str] = Field(
        default=[],
        description="For a searching source that lists no queries (or hashtags) of its own: "
        "the `client/brand` ids whose include queries it searches for; every brand when empty.",
    )


class SadaConfig(Strict):
    clients: list[Client] = Field(min_length=1, description="At least one client.")
    detection: DetectionConfig = Field(
        default=DetectionConfig(), description="Spike detector settings, shared by all brands."
    )
    sources: list[SourceEntry] = Field(
        default=[], description="Sources `sada ingest` runs when no --source is given."
    )

    @model_validator(mode="after")
    def _unique_clients(self) -> SadaConfig:
        _require_unique("client ids", [c.id for c in self.clients])
        return self

    def client(self, client_id: str) -> Client | None:
        """The client with this id; None when the clients file has none (any more)."""
        return next((c for c in self.clients if c.id == client_id), None)

    def competitors(self) -> frozenset[str]:
        """The `client/brand` keys of the competitors: counted and indexed, never alerted on,
        never in an inbox."""
        return frozenset(
            brand_key(c.id, b.id) for c in self.clients for b in c.brands if b.competitor
        )


def _path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: str | Path) -> SadaConfig:
    """Read and validate a clients file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    redact.register(_secrets(raw))  # before validation, so its errors are masked too
    try:
        return SadaConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s):"]
        for err in exc.errors():
            lines.append(redact.redact(f"  {_path(err['loc'])}: {err['msg']}"))
        raise ConfigError("\n".join(lines)) from exc


_SECRET_KEY = re.compile(r"(?i)(token|secret|password|passwd|api_?key|credential)s?$")
_LONG_SEGMENT = 16  # a URL path segment this long is treated as a token (Slack, Teams, Discord)


def _secrets(value: object, key: str = "") -> Iterator[str]:
    """Every secret in a clients file as read: values under secret-named keys (bot_token,
    password, client_secret, access_tokens...), and the secret parts of every URL (userinfo,
    query values, long path segments), so `redact` masks them wherever they turn up."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _secrets(item, key if _SECRET_KEY.search(key) else str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _secrets(item, key)
    elif isinstance(value, str | int) and _SECRET_KEY.search(key):
        yield str(value)
    elif isinstance(value, str) and "://" in value:
        parts = urlsplit(value.strip())
        yield from (parts.password or "", *(v for _, v in parse_qsl(parts.query)))
        yield from (s for s in parts.path.split("/") if len(s) >= _LONG_SEGMENT)


def _per_name(names: tuple[str, ...], least: int = 1) -> AfterValidator:
    """A setting given per topic (or index): `3`, `3,deadletter=1` or `mentions.raw=12`: an
    optional default for all, then `name=value` for those that differ. Parsed to a dict whose
    key "*" holds the default."""

    def parse(value: object) -> dict[str, int]:
        if isinstance(value, dict):
            return value
        parsed: dict[str, int] = {}
        for part in filter(None, str(value).replace(" ", "").split(",")):
            name, _, number = part.rpartition("=")
            if name and name not in names:
                raise ValueError(f"{name!r} is not one of {', '.join(names)}")
            if not number.isdigit() or int(number) < least:
                raise ValueError(f"{part!r}: expected a whole number from {least}, or name=number")
            parsed[name or "*"] = int(number)
        return parsed

    return AfterValidator(parse)


TOPIC_NAMES = tuple(t.suffix for t in ALL_TOPICS) + ("changelogs",)
INDEX_NAMES = ("mentions", "alerts")
PerTopic = Annotated[str | dict[str, int], _per_name(TOPIC_NAMES)]
Partitions = Annotated[str | dict[str, int], _per_name(TOPIC_NAMES[:-1])]
PerIndex = Annotated[str | dict[str, int], _per_name(INDEX_NAMES)]
Replicas = Annotated[str | dict[str, int], _per_name(INDEX_NAMES, least=0)]


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
LogFormat = Literal["text", "json"]
_SECRETS = ("kafka_password", "kafka_key_password", "es_api_key", "es_password")
"""Settings that are secrets: each may also come from a file (SADA_<NAME>_FILE), the way
container platforms mount them, and is registered with `redact` as soon as it is read."""


def _read_secret(env: dict[str, str], variable: str) -> str:
    """A secret from the file `variable` names (trailing newline dropped)."""
    try:
        return Path(env[variable]).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"environment: {variable}: cannot read {env[variable]}: {exc.strerror}"
        ) from exc


class Settings(Strict):
    """Process settings, read from SADA_* environment variables."""

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="SADA_KAFKA_BOOTSTRAP: Kafka bootstrap servers."
    )
    es_url: str = Field(
        default="http://127.0.0.1:9200", description="SADA_ES_URL: Elasticsearch URL."
    )
    kafka_security_protocol: KafkaProtocol = Field(
        default="PLAINTEXT",
        description="SADA_KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
        "(managed clusters: SASL_SSL).",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="PLAIN",
        description="SADA_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
    )
    kafka_username: str | None = Field(
        default=None, description="SADA_KAFKA_USERNAME: the SASL user (an API key's id)."
    )
    kafka_password: SecretStr | None = Field(
        default=None,
        description="SADA_KAFKA_PASSWORD (or SADA_KAFKA_PASSWORD_FILE): the SASL password.",
    )
    kafka_ca_file: Path | None = Field(
        default=None,
        description="SADA_KAFKA_CA_FILE: CA certificates (PEM) the brokers' certificates are "
        "checked against; the system's when unset.",
    )
    kafka_cert_file: Path | None = Field(
        default=None, description="SADA_KAFKA_CERT_FILE: a client certificate (PEM), for mTLS."
    )
    kafka_key_file: Path | None = Field(
        default=None, description="SADA_KAFKA_KEY_FILE: the client certificate's key (PEM)."
    )
    kafka_key_password: SecretStr | None = Field(
        default=None,
        description="SADA_KAFKA_KEY_PASSWORD (or ..._FILE): the client key's password.",
    )
    es_cloud_id: str | None = Field(
        default=None,
        description="SADA_ES_CLOUD_ID: an Elastic Cloud deployment's Cloud ID, instead of "
        "SADA_ES_URL.",
    )
    es_api_key: SecretStr | None = Field(
        default=None,
        description="SADA_ES_API_KEY (or SADA_ES_API_KEY_FILE): an API key (its encoded form).",
    )
    es_username: str | None = Field(
        default=None, description="SADA_ES_USERNAME: basic-auth user (instead of an API key)."
    )
    es_password: SecretStr | None = Field(
        default=None,
        description="SADA_ES_PASSWORD (or SADA_ES_PASSWORD_FILE): that user's password.",
    )
    es_ca_file: Path | None = Field(
        default=None,
        description="SADA_ES_CA_FILE: CA certificates (PEM) for an https SADA_ES_URL; the "
        "system's when unset.",
    )
    es_fingerprint: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Fa-f:]{64,95}$",
        description="SADA_ES_FINGERPRINT: the SHA-256 fingerprint of the node's certificate "
        "(what Elasticsearch prints at first start), instead of a CA file.",
    )
    kafka_partitions: Partitions = Field(
        default={},
        description="SADA_KAFKA_PARTITIONS: partitions per topic where Sada's own do not fit "
        "(`mentions.raw=12,mentions.scored=8`; changelogs follow mentions.scored); topics: "
        + ", ".join(TOPIC_NAMES[:-1])
        + ".",
    )
    kafka_replication_factor: PerTopic = Field(
        default={"*": 1},
        description="SADA_KAFKA_REPLICATION_FACTOR: copies of each partition (`3`, or "
        "`3,deadletter=2` per topic; `changelogs` names the detector's state); at most the "
        "number of brokers.",
    )
    kafka_min_insync_replicas: PerTopic = Field(
        default={},
        description="SADA_KAFKA_MIN_INSYNC_REPLICAS: copies a write needs before it counts "
        "(with acks=all); the broker's default when unset; at most the replication factor.",
    )
    es_shards: PerIndex = Field(
        default={"*": 1},
        description="SADA_ES_SHARDS: primary shards of each new index (`1`, or `1,mentions=3`).",
    )
    es_replicas: Replicas = Field(
        default={"*": 0},
        description="SADA_ES_REPLICAS: replicas of each new index (`1`, or `1,alerts=2`); "
        "fewer than the cluster's data nodes.",
    )
    namespace: Slug = Field(
        default="sada",
        description="SADA_NAMESPACE: prefix of topics, indices and consumer groups.",
    )
    config_path: Path = Field(
        default=Path.home() / ".config" / "sada" / "clients.yaml",
        description="SADA_CONFIG: the clients file (clients, brands, queries, routes).",
    )
    config_reload_seconds: float = Field(
        default=2.0,
        ge=0,
        description="SADA_CONFIG_RELOAD_SECONDS: how often the processors, the sinks and the "
        "console look for a changed clients file, used once it passes `sada config check` "
        "(docs/operations.md); 0: read only at start.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "sada",
        description="SADA_CACHE_DIR: where the local Kafka and Elasticsearch live.",
    )
    state_dir: Path = Field(
        default=Path.home() / ".local" / "state" / "sada",
        description="SADA_STATE_DIR: ingest cursors, so a restart resumes where it stopped.",
    )
    metrics_port: int = Field(
        default=0, ge=0, description="SADA_METRICS_PORT: /metrics, /healthz, /readyz (0: off)."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="SADA_METRICS_HOST: the address SADA_METRICS_PORT listens on: loopback, or "
        "0.0.0.0 (all interfaces) where Prometheus and probes come from outside (a pod).",
    )
    log_format: LogFormat = Field(
        default="text",
        description="SADA_LOG_FORMAT: `text` (for people) or `json` (one object per line: "
        "time, level, logger, message, and the mention's `uid` or the alert's `alert_id` when "
        "the line is about one; for a log collector).",
    )
    sentiment_backend: SentimentBackend = Field(
        default="linear",
        description="SADA_SENTIMENT_BACKEND: `linear` (fast: tens of thousands of mentions/s "
        "per core) or `e5` (more accurate, 20-50 mentions/s per core, by the machine; needs the `e5` extra). "
        "See processors/sentiment/model/MODEL_CARD.md.",
    )
    sentiment_model_dir: Path | None = Field(
        default=None,
        description="SADA_SENTIMENT_MODEL_DIR: a local transformer model directory "
        "(save_pretrained) to score sentiment with instead of the shipped models; needs the "
        "`transformer` extra.",
    )
    sentiment_max_delay_seconds: float = Field(
        default=10.0,
        ge=0,
        description="SADA_SENTIMENT_MAX_DELAY_SECONDS: with a slow backend (e5, a transformer), "
        "a batch whose oldest mention has waited longer than this is scored by the linear model "
        "instead, so a surge cannot make alerts late (each mention's `sentiment.model` says "
        "which scored it); 0 never falls back.",
    )
    deadletter_max_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="SADA_DEADLETTER_MAX_SHARE: a stage stops with an error once more than this "
        "share of its last 1,000 records (after its first 100) went to the dead-letter topic: "
        "a bad deploy or a changed upstream format, not bad luck; 1 never stops.",
    )

    @model_validator(mode="after")
    def _complete_credentials(self) -> Settings:
        problems = []
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and (self.kafka_username is None or self.kafka_password is None):
            problems.append(
                f"SADA_KAFKA_SECURITY_PROTOCOL {self.kafka_security_protocol} needs "
                "SADA_KAFKA_USERNAME and SADA_KAFKA_PASSWORD"
            )
        if not sasl and (self.kafka_username or self.kafka_password):
            problems.append(
                "SADA_KAFKA_USERNAME/PASSWORD are only used with SADA_KAFKA_SECURITY_PROTOCOL "
                f"SASL_PLAINTEXT or SASL_SSL, not {self.kafka_security_protocol}"
            )
        if (self.kafka_cert_file is None) != (self.kafka_key_file is None):
            problems.append("give both SADA_KAFKA_CERT_FILE and SADA_KAFKA_KEY_FILE, or neither")
        if (self.es_username is None) != (self.es_password is None):
            problems.append("give both SADA_ES_USERNAME and SADA_ES_PASSWORD, or neither")
        if self.es_username and self.es_api_key:
            problems.append("give SADA_ES_API_KEY or SADA_ES_USERNAME/PASSWORD, not both")
        unwritable = [
            f"{topic} ({isr} > {copies})"
            for topic in TOPIC_NAMES
            if (isr := self.min_insync_replicas(topic))
            and isr > (copies := self.replication_factor(topic))
        ]
        if unwritable:
            problems.append(
                "SADA_KAFKA_MIN_INSYNC_REPLICAS is above the replication factor of "
                f"{', '.join(unwritable)}: no write could ever succeed"
            )
        if self.es_ca_file and self.es_fingerprint:
            problems.append("give SADA_ES_CA_FILE or SADA_ES_FINGERPRINT, not both")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _one_sentiment_model(self) -> Settings:
        if self.sentiment_model_dir is not None and self.sentiment_backend != "linear":
            raise ValueError(
                "sentiment_model_dir (your own transformer) and sentiment_backend "
                f"{self.sentiment_backend!r} both choose the sentiment model; set only one"
            )
        return self

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {
            name: env[f"SADA_{name.upper()}"]
            for name in cls.model_fields
            if name != "config_path" and f"SADA_{name.upper()}" in env
        }
        if "SADA_CONFIG" in env:
            values["config_path"] = env["SADA_CONFIG"]
        try:
            for name in _SECRETS:
                if f"SADA_{name.upper()}_FILE" in env:
                    values[name] = _read_secret(env, f"SADA_{name.upper()}_FILE")
            redact.register(str(values[name]) for name in _SECRETS if name in values)
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"SADA_{_path(e['loc']).upper()}: " * bool(e["loc"])
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
            raise ConfigError(f"environment: {problems}") from exc

    def to_env(self) -> dict[str, str]:
        """The environment that gives a child process these settings (`from_env` reversed),
        secrets included: for the stages Sada starts itself, never for printing."""
        env = {"SADA_CONFIG": str(self.config_path)}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "config_path" or value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, dict):
                value = ",".join(f"{k}={v}" if k != "*" else str(v) for k, v in value.items())
            env[f"SADA_{name.upper()}"] = str(value)
        return env

    @property
    def es_where(self) -> str:
        """Where Elasticsearch is, for messages: the URL, or the Cloud deployment."""
        return (
            f"Elastic Cloud ({self.es_cloud_id.split(':')[0]})" if self.es_cloud_id else self.es_url
        )

    def topic(self, topic: Topic) -> str:
        return topic.name(self.namespace)

    @staticmethod
    def _per(values: str | dict[str, int], name: str) -> int | None:
        assert isinstance(values, dict)  # parsed by the validator
        return values.get(name, values.get("*"))

    def partitions(self, topic: Topic) -> int:
        return self._per(self.kafka_partitions, topic.suffix) or topic.partitions

    def replication_factor(self, topic: str) -> int:
        """Of a topic by its name without the namespace, or of "changelogs"."""
        return self._per(self.kafka_replication_factor, topic) or 1

    def min_insync_replicas(self, topic: str) -> int | None:
        return self._per(self.kafka_min_insync_replicas, topic)

    def shards(self, index: str) -> int:
        """Of "mentions" or "alerts" indices."""
        return self._per(self.es_shards, index) or 1

    def replicas(self, index: str) -> int:
        return self._per(self.es_replicas, index) or 0

    def group(self, stage: str) -> str:
        """Kafka consumer group of a stage (the Faust app id for `processors`)."""
        return f"{self.namespace}-{stage}"

    def processor_group(self, stage: str) -> str:
        """Faust app id, and consumer group, of the processor workers running `stage` (all,
        score or detect; see `sada process --stage`).

        The detect stage keeps the id of the whole app, so its tables (named after the app) are
        the same whether the stages run in one worker or apart; the score stage alone has its
        own, so that it is never assigned the scored topic it does not read.
        """
        return self.group("processors-score" if stage == "score" else "processors")

    @property
    def mentions_index(self) -> str:
        return f"{self.namespace}-mentions"

    @property
    def alerts_index(self) -> str:
        return f"{self.namespace}-alerts"
