from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from processors.sentiment.features import extract, fold, prepare, to_arabic


def test_elongation_is_squashed_and_flagged() -> None:
    tokens = prepare("حلووووو").split()
    assert tokens[0] == "حلو"
    assert "_elong" in tokens
    assert "_elong" in prepare("soooo goood").split()


def test_folding_unifies_letters_and_digits() -> None:
    assert fold("مدرسة على ١٢٣") == fold("مدرسه علي 123")


@pytest.mark.parametrize(
    ("text", "marked"),
    [("this is not good", "¬good"), ("مش حلو", "¬حلو"), ("ma 3ajabni", "¬3ajabni")],
)
def test_negation_marks_the_next_word_and_flips_the_lexicon(text: str, marked: str) -> None:
    tokens = prepare(text).split()
    assert marked in tokens
    assert "_neg" in tokens


def test_negated_positive_word_counts_as_negative() -> None:
    assert "_lex-" in prepare("not good").split()
    assert "_lex+" in prepare("good").split()
    assert "_lex+" in prepare("والحلو").split()  # behind Arabic clitics


def test_scope_stops_at_punctuation() -> None:
    assert "¬good" not in prepare("no. good").split()


def test_intensifier_marks_the_next_word() -> None:
    tokens = prepare("حلو جدا جميل").split()
    assert "↑جميل" in tokens and "_intens" in tokens


@pytest.mark.parametrize(
    ("text", "flag"),
    [("خدمة ممتازة", "_s:ar"), ("great service", "_s:latin"), ("service ممتاز", "_s:mixed")],
)
def test_script_flag(text: str, flag: str) -> None:
    assert flag in prepare(text).split()


def test_arabizi_and_emoji_flags() -> None:
    tokens = prepare("el net 5ara w ba2i2 😡").split()
    assert "_arabizi" in tokens and "_emoji" in tokens and "😡" in tokens
    assert "_arabizi" not in prepare("iPhone 15 pro").split()


def test_links_and_handles_are_collapsed() -> None:
    tokens = prepare("@brand see https://www.example.com/a").split()
    assert tokens[:3] == ["@", "see", "↗"]
    assert "_elong" not in tokens


def test_rows_are_l2_normalised_and_batch_independent() -> None:
    alone = extract(["great phone"])
    batch = extract(["غير مهم", "great phone", ""])
    assert sorted(alone.buckets) == sorted(batch.buckets[batch.rows == 1])
    sums = np.bincount(batch.rows, weights=batch.values**2, minlength=batch.n_docs)
    assert np.allclose(sums[:2], 1.0)
    assert batch.n_docs == 3


def test_hashing_does_not_depend_on_python_hash_seed() -> None:
    code = "from processors.sentiment.features import extract; print(sorted(extract(['حلو 7elw'], bits=16).buckets))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "."},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_broken_text_is_scored_not_raised() -> None:
    """A lone surrogate or a NUL (our batch separator) must not break a batch."""
    batch = extract(["bad \ud83d service \x00 x", "ok"])
    alone = extract(["ok"])
    assert sorted(alone.buckets) == sorted(batch.buckets[batch.rows == 1])


@pytest.mark.parametrize(
    ("word", "arabic"),
    [("7elw", "حلو"), ("7elwa", "حلوه"), ("mesh", "مش"), ("ktir", "كتير"), ("7abibi", "حبيبي")],
)
def test_arabizi_is_spelled_in_arabic_letters(word: str, arabic: str) -> None:
    assert to_arabic(word) == arabic


def test_an_arabizi_post_gets_its_arabic_spelling() -> None:
    tokens = prepare("el akl 7elw ktir").split()
    assert "حلو" in tokens and "_arabizi" in tokens
    assert "حلو" not in prepare("the food is good").split()


def test_narrowed_features_are_those_hashed_at_fewer_bits() -> None:
    texts = ["@Verizon charged me twice!!", "الطلب ما وصل 😡", "7elwa awi"]
    wide = extract(texts)
    narrow = extract(texts, bits=14)
    assert (wide.bits, narrow.bits) == (20, 14)
    same = wide.narrowed(14)
    assert same.bits == 14
    assert np.array_equal(same.buckets, narrow.buckets)
    assert np.array_equal(same.values, narrow.values)
    assert np.array_equal(same.rows, narrow.rows)
    with pytest.raises(ValueError, match="cannot widen 14-bit features to 20 bits"):
        narrow.narrowed(20)
