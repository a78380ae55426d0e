"""The scoring step as one pure function: a raw mention in, one scored record per brand out."""

from __future__ import annotations

from core.events import Mention, ScoredMention, Sentiment
from processors.dedupe import Deduper
from processors.language import detect_language
from processors.match import BrandMatch, Matcher, match
from processors.normalize import normalize
from processors.sentiment import score, score_for_brand
from processors.triage import triage


def process(mention: Mention, matcher: Matcher, deduper: Deduper) -> list[ScoredMention]:
    """Match brands; for a hit, link near-duplicates, detect language, score and triage."""
    matches = match(mention, matcher)
    if not matches:
        return []
    duplicate_of = deduper.check(mention.uid, mention.text, mention.created_at)
    language = detect_language(mention.text)
    sentiments = _sentiments(mention.text, matches)
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
            triage=triage(mention.text, sentiment),
        )
        for m, sentiment in zip(matches, sentiments, strict=True)
    ]


def _sentiments(text: str, matches: list[BrandMatch]) -> list[Sentiment]:
    """One brand: the whole post. Several: each brand's own part of it ("I left Samsung for
    Apple, best decision" is negative for Samsung and positive for Apple)."""
    if len(matches) == 1:
        return score([text])
    return [
        score_for_brand(text, m.terms, others=[t for o in matches if o is not m for t in o.terms])
        for m in matches
    ]
