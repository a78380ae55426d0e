"""Dead letters read back: list and show them, and send them back where they came from, once.

A dead letter's id is where it sits on `<ns>.deadletter`: `partition:offset`. Replay sends a
letter's payload (or a corrected one, `--fixed`) to its `source_topic`, keyed as the stages key
that topic, after checking it is a valid record of the topic's type. Which letters were replayed
is kept in Kafka, on the compacted `<ns>.deadletter.replayed` keyed by the letter's id, so a
second replay is skipped from any machine: a run first appends a claim per letter there, reads
the topic back, and sends only the letters whose first claim is its own (one key, one
partition: claims are totally ordered). A run that dies between its claim and its send leaves
the letter claimed and not sent (at most once, never twice); `show` says who claimed it.

Ingest's letters have no source topic: they are items a source could not turn into a record,
never on a topic. They cannot be replayed unchanged; with `--fixed` the corrected mention goes
to `<ns>.mentions.raw`, where ingest would have put it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from core import connect, topics
from core.config import Settings
from core.errors import ServiceError
from core.events import Alert, DeadLetter, Mention, Record, Removal, ScoredMention
from core.redact import redact
from sada import services

READ_DEADLINE_SECONDS = 60.0  # reading a topic to its end; a broker that stops answering fails
REASON_WIDTH = 80  # characters of a reason on a `list` line
_AGE = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# What a stage reads from each topic it could have dead-lettered from, and the key it is sent with.
RECORDS: dict[str, tuple[type[Record], Callable[[Any], str]]] = {
    topics.RAW.suffix: (Mention, lambda m: m.uid),
    topics.SCORED.suffix: (ScoredMention, lambda s: s.key),
    topics.ALERTS.suffix: (Alert, lambda a: a.key),
    topics.REMOVALS.suffix: (Removal, lambda r: r.uid),
}


@dataclass(frozen=True)
class Letter:
    id: str  # partition:offset on the dead-letter topic
    record: DeadLetter


@dataclass(frozen=True)
class Filters:
    stage: str | None = None  # exact, or "ingest" for every ingest source
    reason: str | None = None  # substring, case-insensitive
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None  # the most recent N

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.stage, self.reason, self.since, self.until))


@dataclass(frozen=True)
class Replay:
    """What replaying one letter would send, or why it cannot be."""

    letter: Letter
    topic: str = ""
    key: bytes = b""
    value: bytes = b""
    fixed: bool = False
    refused: str | None = None


Status = Literal["sent", "would send", "skipped", "refused"]


@dataclass(frozen=True)
class Outcome:
    id: str
    status: Status  # skipped: replayed already; refused: cannot be (or Kafka did not take it)
    message: str


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """ISO 8601 (UTC when it has no offset) or an age before `now`: 90s, 30m, 2h, 7d, 1w."""
    if match := _AGE.fullmatch(text.strip()):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: not a time; give ISO 8601 (2026-12-01T09:30Z) or an age "
            "(90s, 30m, 2h, 7d, 1w)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def filters(
    stage: str | None,
    reason: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    now: datetime,
) -> Filters:
    chosen = Filters(
        stage,
        reason,
        None if since is None else parse_time(since, now, "--since"),
        None if until is None else parse_time(until, now, "--until"),
        limit,
    )
    if chosen.since and chosen.until and chosen.since > chosen.until:
        raise ValueError(f"--since {since} is after --until {until}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit}: give a number from 1")
    return chosen


def parse_id(text: str) -> str:
    partition, _, offset = text.strip().partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise ValueError(f"{text!r} is not a dead letter id: expected partition:offset, like 0:42")
    return f"{int(partition)}:{int(offset)}"


def select(letters: Sequence[Letter], chosen: Filters) -> list[Letter]:
    """The letters that pass every filter, oldest first; with a limit, the most recent ones."""
    found = [letter for letter in letters if _matches(letter.record, chosen)]
    found.sort(key=lambda letter: letter.record.failed_at)
    return found[-chosen.limit :] if chosen.limit else found


def _matches(record: DeadLetter, chosen: Filters) -> bool:
    return (
        (chosen.stage is None or chosen.stage in (record.stage, record.stage.split(":")[0]))
        and (chosen.reason is None or chosen.reason.casefold() in record.reason.casefold())
        and (chosen.since is None or record.failed_at >= chosen.since)
        and (chosen.until is None or record.failed_at <= chosen.until)
    )


def by_ids(letters: Sequence[Letter], ids: Iterable[str], topic: str) -> list[Letter]:
    known = {letter.id: letter for letter in letters}
    wanted = [parse_id(i) for i in ids]
    missing = [i for i in wanted if i not in known]
    if missing:
        raise ValueError(f"no dead letter {', '.join(missing)} on {topic}")
    return [known[i] for i in dict.fromkeys(wanted)]


def line(letter: Letter) -> str:
    """One letter on one line: id, time, stage, source topic, the reason's start (masked again,
    as in `describe`: the secrets of these settings too)."""
    record = letter.record
    reason = " ".join(record.reason.split())
    if len(reason) > REASON_WIDTH:
        reason = reason[: REASON_WIDTH - 1] + "…"
    return redact(
        f"{letter.id:>8}  {record.failed_at:%Y-%m-%d %H:%M:%SZ}  {record.stage:<16} "
        f"{record.source_topic or '-':<24} {reason}"
    )


def describe(letter: Letter, replayed: dict[str, Any] | None) -> str:
    """The whole letter for `show`: its fields, then the payload (as stored: masked)."""
    record = letter.record
    size = f"{record.payload_bytes} bytes, sha256 {record.payload_sha256}"
    if record.truncated:
        size += f"; TRUNCATED: only the first {len(record.payload.encode())} bytes were kept"
    try:
        payload = json.dumps(json.loads(record.payload), indent=2, ensure_ascii=False)
    except ValueError:
        payload = record.payload
    fields = [
        f"id: {letter.id}",
        f"stage: {record.stage}",
        f"source topic: {record.source_topic or '- (never on a topic)'}",
        f"failed at: {record.failed_at.isoformat()}",
        f"reason: {record.reason}",
        f"payload: {size}",
    ]
    if replayed:
        fields.append(f"replayed: to {replayed['topic']} at {replayed['at']} by {replayed['by']}")
    return redact("\n".join(fields) + "\n" + payload)


def plan(letter: Letter, namespace: str, fixed: tuple[str, str] | None = None) -> Replay:
    """Where `letter` goes back to and what is sent; `fixed` is (file name, corrected JSON)."""
    record = letter.record
    source = record.source_topic
    if source is None:
        if fixed is None:
            return Replay(
                letter,
                refused=f"dead-lettered by {record.stage}: an item the source could not turn "
                "into a record, never on a topic, so there is nothing to send back unchanged; "
                "fix it and pass --fixed FILE (a mention, sent to "
                f"{topics.RAW.name(namespace)})",
            )
        source = topics.RAW.name(namespace)
    suffix = source.removeprefix(f"{namespace}.")
    if source == suffix or suffix not in RECORDS:
        return Replay(
            letter, refused=f"came from {source}, not a topic namespace {namespace} reads from"
        )
    if record.truncated and fixed is None:
        return Replay(
            letter,
            refused=f"its payload was truncated to its first {len(record.payload.encode())} of "
            f"{record.payload_bytes} bytes when it was dead-lettered, so it cannot be sent "
            "unchanged; write the whole corrected record to a file and pass --fixed FILE",
        )
    model, key = RECORDS[suffix]
    where, text = fixed or ("its payload", record.payload)
    try:
        parsed = model.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'the record'}: {e['msg']}" for e in exc.errors()[:3]
        )
        hint = "" if fixed else "; correct it in a file and pass --fixed FILE"
        return Replay(
            letter,
            refused=f"{where} is not a valid {model.__name__} for {source}: {problems}{hint}",
        )
    return Replay(letter, source, key(parsed).encode(), parsed.to_bytes(), fixed is not None)


def read(settings: Settings) -> list[Letter]:
    """Every letter on the namespace's dead-letter topic (one that does not parse is skipped)."""
    letters = []
    for message in _read_topic(settings, settings.topic(topics.DEADLETTER)):
        try:
            record = DeadLetter.from_bytes(message.value)
        except ValidationError:
            continue  # not written by a Sada stage: nothing to show or replay
        letters.append(Letter(f"{message.partition}:{message.offset}", record))
    return letters


def replayed(settings: Settings) -> dict[str, dict[str, Any]]:
    """The first claim of each replayed letter, by id."""
    first: dict[str, dict[str, Any]] = {}
    for message in _read_topic(settings, settings.topic(topics.REPLAYED)):
        first.setdefault(message.key.decode(), json.loads(message.value))
    return first


def replay(settings: Settings, plans: Sequence[Replay], *, dry_run: bool) -> list[Outcome]:
    """Send each sendable plan's record unless its letter was replayed already (see the module
    docstring for the claim); say what happened to each."""
    done = replayed(settings)
    outcomes = {
        p.letter.id: Outcome(p.letter.id, "refused", f"refused: {p.refused}")
        for p in plans
        if p.refused
    }
    outcomes |= {
        p.letter.id: _skipped(p.letter.id, done[p.letter.id])
        for p in plans
        if p.letter.id in done and not p.refused
    }
    todo = [p for p in plans if p.letter.id not in outcomes]
    if dry_run:
        outcomes |= {
            p.letter.id: Outcome(p.letter.id, "would send", f"would be sent to {p.topic}")
            for p in todo
        }
    elif todo:
        run = uuid.uuid4().hex
        _produce(settings, [_claim(settings, p, run) for p in todo])
        first = replayed(settings)
        won = [p for p in todo if first.get(p.letter.id, {}).get("run") == run]
        acked = _produce(settings, [(p.topic, p.key, p.value) for p in won])
        sent = dict(zip((p.letter.id for p in won), acked, strict=True))
        for p in todo:
            claim = first.get(p.letter.id)
            outcomes[p.letter.id] = (
                Outcome(p.letter.id, "refused", "not sent: Kafka did not take its claim")
                if claim is None
                else _skipped(p.letter.id, claim)
                if claim["run"] != run
                else Outcome(p.letter.id, "sent", f"sent to {p.topic}")
                if sent[p.letter.id]
                else Outcome(
                    p.letter.id, "refused", f"claimed, but not sent: {p.topic} did not take it"
                )
            )
    return [outcomes[p.letter.id] for p in plans]


def _skipped(letter_id: str, claim: dict[str, Any]) -> Outcome:
    return Outcome(
        letter_id,
        "skipped",
        f"skipped: replayed already, to {claim['topic']} at {claim['at']} by {claim['by']}",
    )


def _claim(settings: Settings, p: Replay, run: str) -> tuple[str, bytes, bytes]:
    """The record on REPLAYED saying this run replays `p`'s letter."""
    claim = {
        "run": run,
        "topic": p.topic,
        "fixed": p.fixed,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": f"{socket.gethostname()} pid {os.getpid()}",
    }
    return settings.topic(topics.REPLAYED), p.letter.id.encode(), json.dumps(claim).encode()


def _produce(settings: Settings, records: Sequence[tuple[str, bytes, bytes]]) -> list[bool]:
    """Send (topic, key, value) records and wait; whether Kafka acknowledged each."""
    producer = _producer(settings)
    try:
        futures = [producer.send(topic, key=key, value=value) for topic, key, value in records]
        producer.flush(timeout=READ_DEADLINE_SECONDS)
    finally:
        producer.close()
    return [future.succeeded() for future in futures]


def _producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(**connect.kafka_python(settings), acks="all", enable_idempotence=True)


def _read_topic(settings: Settings, name: str) -> list[ConsumerRecord]:
    """Every record of topic `name` from its start to its end now ([] if it does not exist)."""
    if not services.kafka_reachable(settings):
        raise ServiceError(
            f"Kafka is not reachable at {settings.kafka_bootstrap}: start it with `sada services "
            "up` (or `make services`), or point SADA_KAFKA_BOOTSTRAP at a running one"
        )
    consumer = KafkaConsumer(
        **connect.kafka_python(settings), group_id=None, enable_auto_commit=False
    )
    try:
        if name not in consumer.topics():  # asking for its partitions could create it
            return []
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(parts)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + READ_DEADLINE_SECONDS
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"reading {name} at {settings.kafka_bootstrap}: not at its end after "
                    f"{READ_DEADLINE_SECONDS:.0f}s"
                )
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
