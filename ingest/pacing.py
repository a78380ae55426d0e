"""Emit items at a chosen rate: replays and the synthetic stream can look like live traffic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")


async def paced(items: Iterable[T], rate_per_second: float | None) -> AsyncIterator[T]:
    """Yield `items` no faster than `rate_per_second` (None: as fast as possible)."""
    started = time.monotonic()
    for number, item in enumerate(items, start=1):
        yield item
        if rate_per_second:
            ahead = started + number / rate_per_second - time.monotonic()
            if ahead > 0.005:  # sleep in slices, not per item
                await asyncio.sleep(ahead)
        elif number % 1000 == 0:
            await asyncio.sleep(0)  # let other sources run
