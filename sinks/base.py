"""What every sink looks like to the runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

R = TypeVar("R")


class Sink(Protocol, Generic[R]):
    """`write` returns the records it can never accept, each with the reason (they are
    dead-lettered); it raises RetryLater when the other side is busy or away."""

    async def start(self) -> None: ...
    async def write(self, batch: Sequence[R]) -> list[tuple[R, str]]: ...
    async def close(self) -> None: ...
    async def check(self) -> bool: ...
