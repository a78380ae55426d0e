from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core import logs
from core.events import Alert
from core.redact import MASK, install, register


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as JSON lines, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _alert() -> Alert:
    at = datetime(2026, 11, 26, 12, 55, tzinfo=UTC)
    return Alert(
        id="northwind/skyline-air/20261126T125500Z",
        client="northwind",
        brand="skyline-air",
        kind="volume_spike",
        window_start=at,
        window_end=at,
        observed=40,
        expected=4,
        score=9.5,
        severity="warning",
        explanation="volume spike",
        raised_at=at,
    )


def test_a_json_line_carries_time_level_logger_message_and_the_alert_id(
    lines: io.StringIO,
) -> None:
    alert = _alert()
    logging.getLogger("tests.logs").warning(
        "route %r refused alert %s", "ops", alert.id, extra=logs.about(alert)
    )
    [line] = [json.loads(text) for text in lines.getvalue().splitlines()]
    assert set(line) == {"time", "level", "logger", "message", "alert_id"}
    assert (line["level"], line["logger"], line["alert_id"]) == ("WARNING", "tests.logs", alert.id)
    assert line["message"] == f"route 'ops' refused alert {alert.id}"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_json_lines_stay_redacted_and_keep_arabic_readable(lines: io.StringIO) -> None:
    install()
    register(["s3cr3t-registered-value"])
    log = logging.getLogger("tests.logs")
    try:
        raise RuntimeError("refused https://x.example/hook?token=tb-secret-1")
    except RuntimeError:
        log.exception(
            "الرحلة: send with s3cr3t-registered-value to %s failed",
            "https://x.example/hook?token=msg-secret-2",
            extra={"uid": "bluesky-1"},
        )
    text = lines.getvalue()
    assert all(secret not in text for secret in ("s3cr3t-registered", "tb-secret", "msg-secret"))
    assert MASK in text
    [line] = [json.loads(t) for t in text.splitlines()]
    assert line["message"].startswith("الرحلة: send with ***")  # not \\u-escaped
    assert "RuntimeError" in line["error"] and line["uid"] == "bluesky-1"


def test_use_sets_the_format_of_every_root_handler(lines: io.StringIO) -> None:
    root = logging.getLogger()
    kept = [handler.formatter for handler in root.handlers]
    try:
        logs.use("text")
        logging.getLogger("tests.logs").warning("plain")
        logs.use("json")
        logging.getLogger("tests.logs").warning("structured")
    finally:
        for handler, formatter in zip(root.handlers, kept, strict=True):
            handler.setFormatter(formatter)
    plain, structured = lines.getvalue().splitlines()
    assert plain.endswith("WARNING tests.logs: plain")
    assert json.loads(structured)["message"] == "structured"
