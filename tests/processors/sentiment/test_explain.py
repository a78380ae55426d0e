from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.events import Sentiment
from processors.sentiment.explain import NOTICEABLE, SHOWN, carrying_words, why
from processors.sentiment.linear import default_model, sentiments


class Counting:
    """Negative in proportion to the "bad"s and "awful"s of a text: a model whose answer is known."""

    model_id = "counting"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return sentiments(self.probabilities(texts), self.model_id)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            words = text.split()
            negative = min(0.9, 0.3 + 0.3 * words.count("bad") + 0.2 * words.count("awful"))
            rows.append([negative, 1 - negative, 0.0])
        return np.array(rows)


def test_the_words_that_carry_the_label_come_first_with_their_weight() -> None:
    assert carrying_words("the bad and awful service", Counting()) == [
        ("bad", 0.3),
        ("awful", 0.2),
    ]  # "the", "and", "service" change nothing: not shown


def test_a_one_word_text_has_nothing_to_compare_with() -> None:
    assert carrying_words("bad", Counting()) == []
    assert carrying_words("", Counting()) == []


def test_the_shipped_model_is_explained_by_its_sentiment_words() -> None:
    words = carrying_words("my order never arrived and the support is the worst", default_model())
    assert "worst" in [w for w, _ in words] and len(words) <= SHOWN
    weights = [weight for _, weight in words]
    assert weights == sorted(weights, reverse=True) and min(weights) >= NOTICEABLE


def test_why_holds_the_words_and_the_triage_rule_and_news_only_for_the_linear_model() -> None:
    headline = "Aramco shares fell 1.2% in early trading on Sunday"
    assert list(why(headline, Counting(), "rule 5")) == ["words", "triage"]
    linear = why(headline, default_model(), "rule 5")
    assert list(linear) == ["words", "news", "triage"]
    assert str(linear["news"]).startswith("reads as news")
    assert "news" not in why("I love this phone", default_model(), "rule 4")
