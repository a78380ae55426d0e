"""Fixtures for sink tests: a scripted local HTTP server, an alert with a full explanation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.events import Alert
from tests.sinks.support import Scripted


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


@pytest.fixture
def alert() -> Alert:
    return Alert(
        id="northwind/skyline-air/20261126T125500Z",
        status="escalate",
        client="northwind",
        brand="skyline-air",
        kind="negative_share_spike",
        window_start=datetime(2026, 11, 26, 12, 55, tzinfo=UTC),
        window_end=datetime(2026, 11, 26, 12, 56, tzinfo=UTC),
        observed=0.66,
        expected=0.02,
        score=24.6,
        severity="critical",
        explanation=(
            "negative share spike escalate: negative share 66% against the usual 2%; z=24.6\n"
            "rising terms: الرحلة, service, متاخرة\n"
            "to answer: 17 complaints, 1 question (of 18 mentions)\n"
            "top negative mentions: https://bsky.app/profile/a/post/1?x=1&y=<2>"
        ),
        raised_at=datetime(2026, 11, 26, 12, 55, 40, tzinfo=UTC),
    )
