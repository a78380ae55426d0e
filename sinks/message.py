"""How an alert reads to a person in a chat or an inbox: a headline, then the explanation.

The explanation (processors/detect.py) already says what was observed against what was
expected, which terms rose, what to answer and which posts drove it; channels only add a
headline that says how bad, for which brand, and which step of the incident this is.
"""

from __future__ import annotations

from core.events import Alert

SEVERITY_MARK = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}


def headline(alert: Alert) -> str:
    """'🚨 CRITICAL · northwind/skyline-air · negative share spike (open)'"""
    mark = SEVERITY_MARK.get(alert.severity, "")
    what = alert.kind.replace("_", " ")
    return (
        f"{mark} {alert.severity.upper()} · {alert.client}/{alert.brand} · {what} ({alert.status})"
    )


def lines(alert: Alert) -> list[str]:
    """The explanation's lines, then the incident id (the same for every step of a thread)."""
    return [*alert.explanation.splitlines(), f"incident {alert.id}"]


def plain(alert: Alert) -> str:
    """Headline and lines as plain text (Telegram, email)."""
    return "\n".join([headline(alert), *lines(alert)])
