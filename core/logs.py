"""How a process logs: text for people, or one JSON object per line for a log collector.

A JSON line has `time` (UTC, ISO 8601), `level`, `logger` and `message`, the traceback as
`error` when there is one, and the mention's `uid` or the alert's `alert_id` when the line is
about one (passed with `extra=about(record)`). Redaction needs nothing here: core/redact.py masks
every record's message and traceback when the record is made, whichever formatter writes it;
the ids are masked too, in case one ever carries a secret.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from core.config import LogFormat
from core.events import Alert, Record, ScoredMention
from core.redact import redact

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT = ("uid", "alert_id")  # the `extra=` keys a JSON line carries


def about(record: Record) -> dict[str, str]:
    """The `extra=` of a log line about one record: the mention's uid, or the alert's id."""
    if isinstance(record, ScoredMention):
        return {"uid": record.mention.uid}
    if isinstance(record, Alert):
        return {"alert_id": record.id}
    return {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {key: redact(str(getattr(record, key))) for key in CONTEXT if hasattr(record, key)}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: LogFormat) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT)


def use(kind: LogFormat) -> None:
    """Write every log line of this process in `kind` (the root logger's handlers)."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(kind))
