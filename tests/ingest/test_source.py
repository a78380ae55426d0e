from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import BaseModel

from core.errors import Rejected
from ingest.source import Source


class _Polled(BaseModel):
    poll_interval_seconds: float = 30.0


class _Once(BaseModel):
    path: str = "mentions.jsonl"


async def test_once_reaches_a_streaming_fetch_only() -> None:
    told: list[bool | None] = []

    async def stream(
        config: _Once, client: httpx.AsyncClient, *, once: bool = False
    ) -> AsyncIterator[Rejected]:
        told.append(once)
        yield Rejected(payload="", reason="streamed")

    async def finite(config: _Once, client: httpx.AsyncClient) -> AsyncIterator[Rejected]:
        told.append(None)
        yield Rejected(payload="", reason="read")

    async with httpx.AsyncClient() as client:
        for source in (
            Source("s", _Once, stream, "streaming"),
            Source("f", _Once, finite, "finite"),
        ):
            for once in (True, False):
                assert [i async for i in source.items(_Once(), client, once=once)]
    assert told == [True, False, None, None]


def test_only_a_polling_source_is_fetched_again_after_its_interval() -> None:
    async def fetch(config: BaseModel, client: httpx.AsyncClient) -> AsyncIterator[Rejected]:
        yield Rejected(payload="", reason="")

    assert Source("p", _Polled, fetch, "polling").interval(_Polled()) == 30.0
    assert Source("s", _Polled, fetch, "streaming").interval(_Polled()) is None
    assert Source("f", _Once, fetch, "finite").interval(_Once()) is None


def test_a_polling_source_needs_a_poll_interval() -> None:
    async def fetch(config: BaseModel, client: httpx.AsyncClient) -> AsyncIterator[Rejected]:
        yield Rejected(payload="", reason="")

    with pytest.raises(
        TypeError, match="'feed' is polling: its Config needs poll_interval_seconds"
    ):
        Source("feed", _Once, fetch, "polling")
