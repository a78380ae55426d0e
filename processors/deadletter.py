"""A step's way in: records parsed with the contract, what does not parse or process sent to the
dead-letter topic with the reason, and a breaker that stops a worker dead-lettering most of it.

Any record a step cannot process goes to the dead-letter topic and the stream goes on; a step
whose recent records are mostly dead letters (SADA_DEADLETTER_MAX_SHARE) is broken, and the
worker exits 1 leaving the rest uncommitted, to be read again once the cause is fixed.
"""

from __future__ import annotations

import logging
from typing import TypeVar

import faust
from pydantic import ValidationError

from core import metrics
from core.breaker import DeadLetterBreaker
from core.errors import Fatal
from core.events import Record, dead_letter
from processors.faust_fixes import exit_now

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)


class DeadLetters:
    """Parsing and dead-lettering for one step ("score", "detect")."""

    def __init__(self, step: str, topic: faust.TopicT, max_share: float) -> None:
        self.step, self.topic = step, topic
        self.breaker = DeadLetterBreaker(step, max_share)
        self.received = metrics.RECEIVED.labels(step)
        self.rejected = metrics.DEADLETTERED.labels(step)

    async def parse(self, model: type[R], event: faust.EventT) -> R | None:
        """The event's record, or None after dead-lettering what does not parse."""
        self.received.inc()
        try:
            record: R = model.from_bytes(event.value)
            self.breaker.accepted()
            return record
        except ValidationError as exc:
            reason = f"not a valid {model.__name__}: {exc}"
            await self.reject(reason, event.value, event.message.topic)
            return None

    async def reject(self, reason: str, payload: bytes, topic: str) -> None:
        """Send `payload`, read from `topic`, to the dead-letter topic; exit if the step is broken."""
        self.rejected.inc()
        log.warning("dead-lettered a record from %s: %s", topic, reason)
        letter = dead_letter(self.step, reason, payload, topic)
        await self.topic.send(value=letter.to_bytes())
        try:
            self.breaker.rejected(reason)
        except Fatal as exc:  # committed records had their letters flushed
            exit_now(f"error: {exc}")
