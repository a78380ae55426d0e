"""The scoring step as one pure function: a raw mention in, one scored record per brand out."""

from __future__ import annotations

from core.events import Mention, ScoredMention
from processors.dedupe import Deduper
from processors.language import detect_language
from processors.match import Matcher, match
from processors.normalize import normalize
from processors.sentiment import score
from processors.triage import triage


def process(mention: Mention, matcher: Matcher, deduper: Deduper) -> list[ScoredMention]:
    """Match brands; for a hit, link near-duplicates, detect language, score and triage."""
    matches = match(mention, matcher)
    if not matches:
        return []
    duplicate_of = deduper.check(mention.uid, mention.text, mention.created_at)
    language = detect_language(mention.text)
    sentiment = score([mention.text])[0]
    label = triage(mention.text, sentiment)
    return [
        ScoredMention(
            mention=mention,
            client=m.client,
            brand=m.brand,
            matched_terms=list(m.terms),
            text_normalized=normalize(mention.text),
            duplicate_of=duplicate_of,
            language=language,
            sentiment=sentiment,
            triage=label,
        )
        for m in matches
    ]
