"""Brand-directed polarity: the sentiment of the part of a post that concerns one brand.

See docs/sentiment.md for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.events import Sentiment
from core.text import normalize
from processors.sentiment.scorer import Scorer, score

_CLAUSE_BREAK = re.compile(
    r"[.!?؟;؛\n]+|,|،|\s(?:but|however|whereas|while|mais|par contre|alors que|"
    r"لكن|ولكن|بس|بينما|اما)\s"
)
# "left X for Y", "switched from X to Y", "تركت X ل Y": X is the brand given up.
_SWITCH = re.compile(
    r"(?:left|ditched|dumped|quit|switched from|moved from|moving from|changed from|replaced|"
    r"quitté|abandonné|lâché|passé de|"
    r"تركت|سبت|غيرت من|بدلت|انتقلت من|طلعت من|هجرت)\s+(?P<left>.+?)\s+"
    r"(?:for|to|with|pour|par|à|ل|الى|الي|على|ب)\s*(?P<right>\S.*)"
)


def score_for_brand(
    text: str,
    terms: Sequence[str],
    *,
    others: Sequence[str] = (),
    model: Scorer | None = None,
) -> Sentiment:
    """Polarity of `text` towards the brand named by `terms` (other brands' terms in `others`).

    With other brands in the post, it is cut into clauses and the brand gets the clauses that
    name it plus the brand-free clauses around them (see docs/sentiment.md). When the context
    is a switch ("I left Samsung for Apple, best decision"), the brand given up gets the
    opposite polarity of the rest. Without the brand's terms in the text the post is scored whole.
    """
    clean = normalize(text)
    mine, theirs = _term_pattern(terms), _term_pattern(others)
    if mine is None or not mine.search(clean):
        return score([text], model=model)[0]
    alone = theirs is None or not theirs.search(clean)
    context = clean if theirs is None or alone else _context(clean, mine, theirs)
    switch = _SWITCH.search(context)
    if switch and mine.search(switch["left"]) and not mine.search(switch["right"]):
        rest = score([switch["right"]], model=model)[0]
        flipped = {"positive": "negative", "negative": "positive"}.get(rest.label, rest.label)
        return rest.model_copy(update={"label": flipped})
    if switch and mine.search(switch["right"]) and not mine.search(switch["left"]):
        return score([switch["right"]], model=model)[0]
    return score([text if alone else context], model=model)[0]


def _context(clean: str, mine: re.Pattern[str], theirs: re.Pattern[str]) -> str:
    """Clauses naming the brand, brand-free clauses after them, and any that lead up to it."""
    context: list[str] = []
    leading: list[str] | None = []  # brand-free clauses before any brand is named
    owner = False
    for clause in filter(None, (c.strip() for c in _CLAUSE_BREAK.split(clean))):
        if mine.search(clause):
            owner = True
            context += leading or []
            leading = None
        elif theirs.search(clause):
            owner, leading = False, None
        elif leading is not None:
            leading.append(clause)
        if owner:
            context.append(clause)
    return " , ".join(context)


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    words = [normalize(t.strip().strip('"')) for t in terms if t.strip().strip('"')]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
