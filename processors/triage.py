"""Triage: sort a mention into complaint, question, praise or other, so answers go first."""

from __future__ import annotations

import re

from core.events import Sentiment, TriageLabel
from processors.normalize import normalize

_QUESTION = re.compile(r"[?؟]|\b(how|why|when|where|what|هل|كيف|ليش|شو|وين|امتى|ايمتى|متى)\b")


def triage(text: str, sentiment: Sentiment) -> TriageLabel:
    """Negative -> complaint, a question mark or interrogative -> question, positive -> praise."""
    if sentiment.label == "negative":
        return "complaint"
    if _QUESTION.search(normalize(text)):
        return "question"
    if sentiment.label == "positive":
        return "praise"
    return "other"
