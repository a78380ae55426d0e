"""The failure signals every stage uses, besides crashing loudly on anything else.

- `RetryLater`: the other side is busy or away (429, 5xx, broker unavailable); slow down and
  try again, never drop.
- `Rejected`: this record can never be processed; it goes to the dead-letter topic with the
  reason, and the stream goes on.
- `Fatal`: retrying will never help (a mapping clash, refused credentials, most records
  dead-lettered); the stage exits non-zero with this one line, which says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass


class RetryLater(Exception):
    """Transient failure; `after_seconds` is the server's hint (Retry-After), if it gave one."""

    def __init__(self, message: str, *, after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


class Fatal(Exception):
    """The stage cannot go on until someone acts; the message says what to do."""


@dataclass(frozen=True)
class Rejected:
    """An input item that cannot become a record: the raw payload and what is wrong, and where."""

    payload: str
    reason: str
