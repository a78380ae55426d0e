"""Why a text got its sentiment: the words that carried the label, each with its weight.

A word's weight is how much the label's probability falls when that word is left out
(occlusion). That explains every backend the same way — the hashed linear model, e5, a
transformer the user brings — in the terms a reader checks ("terrible" carried 0.41 of the
negative), at the price of one extra scoring per word: right for looking at a few mentions
(`sada sentiment score --explain`), too slow for every mention of the stream. With the linear
model, `why` also says whether the post read as news and leaned to neutral, and by which cues.
"""

from __future__ import annotations

import numpy as np

from processors.sentiment.linear import LinearModel
from processors.sentiment.news import news_why
from processors.sentiment.scorer import Scorer

SHOWN = 3  # words per explanation
NOTICEABLE = 0.01  # a smaller fall in probability is not worth showing


def carrying_words(text: str, model: Scorer) -> list[tuple[str, float]]:
    """Up to SHOWN words whose removal lowers the label's probability most, with that fall."""
    words = text.split()
    if len(words) < 2:
        return []  # without the only word there is nothing left to compare with
    without = [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    probabilities = model.probabilities([text, *without])
    label = int(probabilities[0].argmax())
    falls = probabilities[0, label] - probabilities[1:, label]
    strongest = np.argsort(-falls, kind="stable")[:SHOWN]
    return [(words[i], round(float(falls[i]), 3)) for i in strongest if falls[i] >= NOTICEABLE]


def why(text: str, model: Scorer, triage_rule: str) -> dict[str, object]:
    """The `--explain` record: the carrying words, the news rule's reading (linear model only,
    when the post has a reporting cue) and the triage rule that fired."""
    found: dict[str, object] = {"words": carrying_words(text, model)}
    if isinstance(model, LinearModel) and (news := news_why(text)):
        found["news"] = news
    return found | {"triage": triage_rule}
