"""Versioned records on the wire: every topic carries one of these as UTF-8 JSON.

Records are frozen pydantic models so a stage can neither mutate what it received nor put an
unknown field on the wire; `schema_version` lets a later release read older records.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from core.redact import redact

SCHEMA_VERSION = 1

# Bounds of the contract, so a hostile or broken input is refused at the door with the field and
# the bound instead of by Elasticsearch at the very end (or by Kafka's 1 MB message limit).
RECORD_MAX_BYTES = 1_000_000  # Kafka's default message.max.bytes: a larger record is refused
COUNT_MAX = 2**63 - 1  # Elasticsearch `long`
HANDLE_MAX = 256
NAME_MAX = 512
URL_MAX = 4096  # also source_id, which is often a URL
TEXT_MAX = 50_000  # characters; a scored record carries the text twice, still far below 1 MB
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD_MAX = timedelta(days=1)  # clocks disagree a little; year 9999 is a bug, not a skew

SentimentLabel = Literal["negative", "neutral", "positive"]
TriageLabel = Literal["complaint", "question", "praise", "other"]
AlertKind = Literal["volume_spike", "negative_share_spike", "sustained_drift"]
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(get_args(Severity))}  # least first
AlertStatus = Literal["open", "escalate", "resolve"]


class Record(BaseModel):
    """Base of every wire record: frozen, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is newer than this stage knows "
                f"({SCHEMA_VERSION}); upgrade the stage to read it"
            )
        return value

    def to_bytes(self) -> bytes:
        """The record as JSON: orjson over the fields, nested records likewise. The same bytes
        as `model_dump_json` (tests/core/test_events.py pins it) in half the time, which every
        mention pays on its way in (docs/ingest.md)."""
        return orjson.dumps(self.__dict__, default=_fields, option=orjson.OPT_UTC_Z)

    @classmethod
    def from_bytes(cls, data: bytes | str):  # type: ignore[no-untyped-def]
        return cls.model_validate_json(data)


def _fields(value: object) -> dict[str, object]:
    """A nested record's fields (an `Author` in a `Mention`, a `Mention` in a scored one)."""
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not a record field type")


def _not_ahead(value: datetime) -> datetime:
    """A post's time in UTC, at most a day from now: the detector must never count year 9999.
    (The lower bound, 2000, is a plain `ge` on the field, checked before this.) Compared as
    epoch seconds, which neither converts nor overflows; every record pays this twice."""
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone; send ISO 8601 with an offset or Z")
    if value.timestamp() <= time.time() + AHEAD_MAX.total_seconds():
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    raise ValueError(
        f"{value.isoformat()} is more than a day ahead of now "
        f"(latest accepted {now() + AHEAD_MAX:%Y-%m-%dT%H:%M:%SZ})"
    )


# Strict: a count is a JSON integer; 1e30 or 2.5 is a sender's mistake, not a count to round.
Count = Annotated[int, Strict(), Field(ge=0, le=COUNT_MAX)]


def make_uid(source: str, source_id: str) -> str:
    """Stable id of a mention: the same post fetched twice (or replayed) gets the same uid."""
    digest = hashlib.sha256(f"{source}\x00{source_id}".encode()).hexdigest()
    return f"{source}-{digest[:24]}"


class Author(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    handle: str = Field(max_length=HANDLE_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    followers: Count | None = None


class Engagement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    likes: Count = 0
    reposts: Count = 0
    replies: Count = 0


class Mention(Record):
    """One public post as a source gave it, normalised to UTC and plain text."""

    uid: str = Field(min_length=1, max_length=HANDLE_MAX)
    source: str = Field(min_length=1, max_length=64)
    source_id: str = Field(min_length=1, max_length=URL_MAX)
    url: str | None = Field(default=None, max_length=URL_MAX)
    author: Author
    text: str = Field(max_length=TEXT_MAX)
    language_hint: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(ge=EARLIEST)
    fetched_at: datetime = Field(ge=EARLIEST)
    engagement: Engagement = Engagement()
    parent_id: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="The platform's id of what this answers: the post under which a comment "
        "sits, the comment it replies to, the conversation (X) or chat (Telegram).",
    )
    reply_target: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="What the brand's own account would answer through the platform's API "
        "(a comment, tweet or message id; see each source's `reply`); none where it cannot.",
    )
    edited_at: datetime | None = Field(
        default=None,
        ge=EARLIEST,
        description="When the platform said the text changed: this record replaces the earlier "
        "one (same uid), and is not counted again.",
    )

    _plausible_times = field_validator("created_at", "fetched_at")(_not_ahead)


class Removal(Record):
    """A platform said a post was deleted (a webhook, X's compliance events): its documents
    are deleted from the indices, as the platforms' terms require. Keyed by the mention's uid."""

    uid: str = Field(min_length=1, max_length=HANDLE_MAX)
    source: str = Field(min_length=1, max_length=64)
    source_id: str = Field(min_length=1, max_length=URL_MAX)
    removed_at: datetime = Field(ge=EARLIEST)
    reason: str = Field(default="deleted", max_length=NAME_MAX)


class Sentiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: SentimentLabel
    probability: float = Field(ge=0.0, le=1.0)
    model: str


class ScoredMention(Record):
    """A mention as it concerns one brand of one client: one record per (mention, brand)."""

    mention: Mention
    client: str
    brand: str
    matched_terms: list[str]
    text_normalized: str = Field(description="The pipeline's normalised text, for search.")
    duplicate_of: str | None = Field(
        default=None, description="uid of the first near-identical mention (repost, campaign)."
    )
    language: str
    sentiment: Sentiment
    triage: TriageLabel
    triage_rule: str | None = Field(
        default=None, description="Which triage rule gave the label and what it matched."
    )

    @property
    def key(self) -> str:
        """Kafka key: a brand's records share a partition, so its counts live in one place."""
        return brand_key(self.client, self.brand)

    @property
    def doc_id(self) -> str:
        """Deterministic Elasticsearch id: replays overwrite instead of duplicating."""
        return f"{self.mention.uid}.{self.client}.{self.brand}"


def brand_key(client: str, brand: str) -> str:
    return f"{client}/{brand}"


class Alert(Record):
    """One step (open, escalate, resolve) of an incident's thread for one brand, with what was
    seen against what was expected. Every step of a thread carries the same `id`."""

    id: str
    status: AlertStatus = "open"
    client: str
    brand: str
    kind: AlertKind
    window_start: datetime
    window_end: datetime
    observed: float
    expected: float
    score: float
    severity: Severity
    sample_uids: list[str] = []
    explanation: str = ""
    raised_at: datetime

    @property
    def key(self) -> str:
        return brand_key(self.client, self.brand)


DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024  # a dead letter stays far below any topic's size limit


class DeadLetter(Record):
    """A record no stage could process, with the reason, so nothing is lost silently.

    The payload is kept whole up to DEAD_LETTER_PAYLOAD_BYTES; a larger one (a 20 MB line) keeps
    its first bytes, and `payload_bytes` and `payload_sha256` identify the original. Secrets are
    masked (core.redact) in the reason and the payload.
    """

    stage: str
    reason: str
    payload: str
    payload_bytes: int | None = None
    payload_sha256: str | None = None
    truncated: bool = False
    source_topic: str | None = None
    failed_at: datetime


def now() -> datetime:
    return datetime.now(UTC)


def dead_letter(
    stage: str, reason: str, payload: bytes | str, topic: str | None = None
) -> DeadLetter:
    data = payload.encode("utf-8", errors="replace") if isinstance(payload, str) else payload
    kept = data[:DEAD_LETTER_PAYLOAD_BYTES].decode("utf-8", errors="replace")
    return DeadLetter(
        stage=stage,
        reason=redact(reason)[:DEAD_LETTER_PAYLOAD_BYTES],
        payload=redact(kept),
        payload_bytes=len(data),
        payload_sha256=hashlib.sha256(data).hexdigest(),
        truncated=len(data) > DEAD_LETTER_PAYLOAD_BYTES,
        source_topic=topic,
        failed_at=now(),
    )
