"""A circuit breaker on dead letters: a stage that dead-letters most of what it reads is broken
(a bad deploy, an upstream format change), and stopping it beats filling the dead-letter topic.

It looks at the outcome of the last `WINDOW` records and trips once more than `max_share` of
them were dead-lettered, but only after `MINIMUM` records, so one bad record at start-up (one
of one: 100%) does not stop anything.
"""

from __future__ import annotations

from collections import deque

from core.errors import Fatal

WINDOW = 1000
MINIMUM = 100


class DeadLetterBreaker:
    def __init__(
        self, stage: str, max_share: float, *, window: int = WINDOW, minimum: int = MINIMUM
    ) -> None:
        if not 0 < max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], not {max_share}")
        self.stage, self.max_share, self.minimum = stage, max_share, min(minimum, window)
        self._window = window
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: dead-lettered
        self._dead = 0
        self._accepted = 0  # since the last dead letter, not yet in the window

    def accepted(self, count: int = 1) -> None:
        """Count records that went through: only tallied here (every record pays this), and
        folded into the window at the next dead letter, the one time the window is read."""
        self._accepted += count

    def rejected(self, reason: str) -> None:
        """Count one dead letter; raise Fatal if the window is now mostly dead letters."""
        for _ in range(min(self._accepted, self._window)):
            self._add(False)
        self._accepted = 0
        self._add(True)
        seen = len(self._outcomes)
        if seen >= self.minimum and self._dead > self.max_share * seen:
            raise Fatal(
                f"{self.stage}: {self._dead} of the last {seen} records were dead-lettered (over "
                f"the share of {self.max_share:g} set by SADA_DEADLETTER_MAX_SHARE), so the stage "
                f"stopped instead of dead-lettering everything; the last reason: {reason[:300]}. "
                "Fix the cause (a bad deploy or a changed upstream format; the dead-letter topic "
                "has every reason) and restart: the records not committed are read again"
            )

    def _add(self, dead: bool) -> None:
        if len(self._outcomes) == self._window:
            self._dead -= self._outcomes[0]
        self._outcomes.append(dead)
        self._dead += dead
