"""Every error Sada raises on purpose, in one tree, and what the stages do with each.

    SadaError              the base; the message says what is wrong, where, and what to do
    ├── RetryLater         transient: the other side is busy or away (429, 5xx, broker away)
    ├── Permanent          permanent: this alert, target, record or query will never succeed
    │   ├── Undeliverable  a receiver refused an alert for good (a 4xx other than 429, SMTP 5xx)
    │   ├── SourceError    a source's target answered in a way retrying will not fix (401, 404)
    │   ├── Refused        the outbound address policy forbids the destination
    │   ├── DeliveryError  Kafka refused produced records for good
    │   ├── CursorError    a source's cursor file exists but cannot be read
    │   └── QueryError     a search query is malformed (also a ValueError)
    └── Fatal              the stage or command cannot go on until someone acts
        ├── ConfigError    the clients file or a SADA_* setting is invalid
        └── ServiceError   a local service could not be fetched, started or reached

What the runners do with each:

- `RetryLater` is never dropped. sinks/runner.py retries the batch with backoff, waiting at
  least `after_seconds` (the server's Retry-After); ingest/http.py retries a request, then a
  polling source skips that target until its next round (ingest/polling.py). `core.retry.transient`
  also counts connection, DNS and timeout errors and Kafka's retriable errors as transient.
- `Permanent` gives up on the one thing that failed and the stream goes on: the alert step is
  dead-lettered for that route, the others still get it (`Undeliverable`); the target is
  logged, counted and skipped for this round (`SourceError`); a forbidden address becomes one
  of those two where it is met (`Refused`); a bad query is reported with the clients file's
  problems (`QueryError`). When what failed is the source itself (`DeliveryError`,
  `CursorError`), its fetch ends and ingest/runner.py restarts it after a pause, from its last
  saved cursor, as it does after any unforeseen error.
- `Fatal` ends the stage: the runners let it through, `sada` prints its one line and exits 2
  (a processor worker exits 1); nothing more is committed, so what was not is read again after
  the fix.

`Rejected` is not raised: a parser returns it for an item that cannot become a record, and the
runner sends it to the dead-letter topic with its reason while the stream goes on.
"""

from __future__ import annotations

from dataclasses import dataclass


class SadaError(Exception):
    """Base of every error Sada raises on purpose."""


class RetryLater(SadaError):
    """Transient failure; `after_seconds` is the server's hint (Retry-After), if it gave one."""

    def __init__(self, message: str, *, after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


class Permanent(SadaError):
    """Retrying will not help this one alert, target, record or query; the stream goes on."""


class Undeliverable(Permanent):
    """The receiver refused the alert for good (a 4xx other than 429)."""


class SourceError(Permanent):
    """The source answered in a way retrying will not fix; the message says what to change.
    `body` is the error response's text, for APIs that explain the error there (Graph)."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class Refused(Permanent):
    """The destination is an address the policy forbids: final, retrying will not change it."""


class DeliveryError(Permanent):
    """Kafka refused produced records for good; the source's cursor must not move past them."""


class CursorError(Permanent):
    """A cursor file exists but cannot be read; the message names it and how to recover."""


class QueryError(Permanent, ValueError):
    """A query is malformed: `position` (0-based character) and what was `expected` there."""

    def __init__(self, position: int, expected: str, found: str) -> None:
        self.position = position
        self.expected = expected
        self.found = found
        super().__init__(f"at character {position + 1}: expected {expected}, found {found}")


class Fatal(SadaError):
    """The stage cannot go on until someone acts; the message says what to do."""


class ConfigError(Fatal):
    """A configuration file or setting is invalid; the message says where and how to fix it."""


class ServiceError(Fatal):
    """A local service could not be fetched, started or reached; the message says what to do."""


@dataclass(frozen=True)
class Rejected:
    """An input item that cannot become a record: the raw payload and what is wrong, and where."""

    payload: str
    reason: str
