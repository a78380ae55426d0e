"""Fixtures for source tests: a replaying local HTTP server, an httpx client, a recording sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.cursor import CursorStore, set_default_store
from tests.ingest.support import ReplayServer, Sleeps, serve


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with serve() as replay:
        yield replay


@pytest.fixture
async def other_server() -> AsyncIterator[ReplayServer]:
    """A second host, for sources that talk to several (instances, feeds)."""
    async with serve() as replay:
        yield replay


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(autouse=True)
def fresh_cursors() -> None:
    """Each test starts with an empty in-memory default cursor store."""
    set_default_store(CursorStore())
