"""Fixtures for sink tests: a scripted local HTTP server, a local SMTP server, an alert with a
full explanation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller

from core.events import Alert
from tests.sinks.support import Inbox, Scripted, free_port


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A plain SMTP server on a free port, and the inbox it fills."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


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
