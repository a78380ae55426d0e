from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from processors.sentiment import default_model
from processors.sentiment.explain import why
from processors.sentiment.news import FEWEST, MOST, STRENGTH, neutral_shifts, news_cues, news_why

NEWS = Path(__file__).parents[2] / "data" / "news_sentiment.csv"


def _news() -> list[dict[str, str]]:
    with NEWS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_headline_reads_as_news_by_its_kinds_of_cue() -> None:
    cues = news_cues("أعلنت شركة أرامكو عن ارتفاع أرباحها بنسبة 15% في الربع الثالث")
    assert cues.found == {
        "reporting": "اعلنت",
        "organisation": "شركه",
        "number": "بنسبه",
        "date": "الربع",
    }
    assert cues.opinion is None
    assert cues.kinds == MOST and cues.neutral_shift == STRENGTH * MOST
    english = news_cues("Samsung launches the Galaxy S25 in Cairo on Tuesday https://x.co/1")
    assert set(english.found) == {"reporting", "number", "date", "link"}


@pytest.mark.parametrize(
    ("text", "opinion"),
    [
        ("غضب واسع بين عملاء فودافون بعد انقطاع الخدمة يوم الأحد", "غضب"),
        ("Customers furious after Vodafone outage on Monday, 3 million offline", "furious"),
        ("أعلنت الشركة اليوم عن عرض جديد!", "!"),
        ("I said on Monday the store opens at 9", "i"),
        ("وفقا لبيان الشركة، الخدمة ستعود يوم الأحد 😍", "😍"),
    ],
)
def test_an_opinion_cue_cancels_the_news_reading(text: str, opinion: str) -> None:
    cues = news_cues(text)
    assert cues.opinion == opinion
    assert cues.found and cues.kinds == 0 and cues.neutral_shift == 0.0


def test_one_kind_of_cue_is_not_enough_and_plain_opinion_has_none() -> None:
    assert FEWEST >= 2
    assert news_cues("أطلقت كريم خدمة توصيل البقالة في عمان").kinds == 0  # a launch, nothing more
    assert news_cues("الخدمة زفت والطلب ما وصل").found == {}
    assert news_why("I love it") is None
    assert np.array_equal(
        neutral_shifts(["I love it", "Aramco shares fell 1.2% on Sunday"]), [0.0, STRENGTH * 2]
    )


def test_the_news_reading_is_explained() -> None:
    text = "أعلنت شركة أرامكو عن ارتفاع أرباحها بنسبة 15% في الربع الثالث"
    said = news_why(text)
    assert said is not None and said.startswith("reads as news (reporting 'اعلنت'")
    assert said.endswith(f"neutral +{STRENGTH * MOST:.2f}")
    assert "opinion cue 'غضب'" in str(news_why("غضب بين عملاء فودافون يوم الأحد"))
    assert str(news_why("أطلقت كريم خدمة جديدة")).startswith("not read as news: fewer than 2")
    record = why(text, default_model(), "rule 5")
    assert list(record) == ["words", "news", "triage"] and record["news"] == said


def test_news_set_is_labelled_written_here_and_in_two_parts() -> None:
    rows = _news()
    assert len(rows) >= 150
    assert {row["origin"] for row in rows} == {"written by the Sada project"}
    assert {row["set"] for row in rows} == {"dev", "fresh"}
    assert {row["language"] for row in rows} == {"ar", "en", "fr"}
    opinionated = [row for row in rows if row["sentiment"] != "NEU"]
    assert 0.15 <= len(opinionated) / len(rows) <= 0.4
    assert len({row["text"] for row in rows}) == len(rows)


def test_news_comes_out_neutral_and_opinionated_news_keeps_its_polarity() -> None:
    """The shipped model with the news rule; figures in the model card."""
    rows = _news()
    labels = [s.label for s in default_model().score([row["text"] for row in rows])]
    code = {"NEG": "negative", "NEU": "neutral", "POS": "positive"}
    for part in ("dev", "fresh"):
        news = [
            lab
            for lab, row in zip(labels, rows, strict=True)
            if row["set"] == part and row["sentiment"] == "NEU"
        ]
        assert sum(lab == "neutral" for lab in news) / len(news) >= 0.7, part  # 0.95, 0.78
    opinion = [
        (lab, code[row["sentiment"]])
        for lab, row in zip(labels, rows, strict=True)
        if row["sentiment"] != "NEU"
    ]
    assert sum(lab == truth for lab, truth in opinion) / len(opinion) >= 0.6  # 0.64, as before
