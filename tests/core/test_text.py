from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.text import arabizi_key, is_arabizi_word, normalize, tokenize, words

# NFKC expands one character into at most 18 (U+FDFA); nothing after it grows the text further.
MAX_EXPANSION = 18

NORMALIZE = [
    # Latin: case, diacritics, ligatures, width
    ("Société Générale", "societe generale"),
    ("CRÉDIT AGRICOLE", "credit agricole"),
    ("Straße", "strasse"),
    ("Œuvre ÆON", "oeuvre aeon"),
    ("naïve café", "naive cafe"),
    ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("ﬁnance", "finance"),
    ("  many\t\nspaces  ", "many spaces"),
    # Arabic: tashkeel, tatweel, alef forms, maqsura, Persian letters, digits
    ("سَامْسُونْج", "سامسونج"),
    ("ســـامسونج", "سامسونج"),
    ("أحمد إيمان آمال ٱلله", "احمد ايمان امال الله"),
    ("مستشفى على", "مستشفي علي"),
    ("کتاب یوم", "كتاب يوم"),
    ("١٢٣٤٥٦٧٨٩٠", "1234567890"),
    ("۱۲۳۴۵۶۷۸۹۰", "1234567890"),
    ("ﻻ ﷲ", "لا الله"),
    ("مدرسة", "مدرسة"),
    ("مسؤول سائق", "مسؤول سائق"),
    # invisible and bidi controls
    ("سامسونج\u200f", "سامسونج"),
    ("\u202bفودافون\u202c", "فودافون"),
    ("zero\u200bwidth", "zerowidth"),
    ("soft\u00adhyphen", "softhyphen"),
    ("\ufeffbom", "bom"),
    # emoji kept, modifiers and variation selectors dropped
    ("👍🏽 great", "👍 great"),
    ("I ❤️ it", "i ❤ it"),
    ("🔥🔥", "🔥🔥"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("مدرسة", "مدرسه"), ("شركة الاتصالات", "شركه الاتصالات"), ("شركه", "شركه")],
)
def test_ta_marbuta_folds_on_request(text: str, expected: str) -> None:
    assert normalize(text, fold_ta_marbuta=True) == expected


TOKENIZE = [
    ("#vodafone_egypt is down", ["#vodafone_egypt", "is", "down"]),
    ("@amr.diab يا سلام", ["@amr", "diab", "يا", "سلام"]),
    ("$aapl up 3%", ["$aapl", "up", "3"]),
    ("coca-cola l'iphone", ["coca", "cola", "l", "iphone"]),
    ("😀😀 nice", ["😀", "😀", "nice"]),
    ("snake_case word", ["snake", "case", "word"]),
    ("وسامسونج، والله!", ["وسامسونج", "والله"]),
]


@pytest.mark.parametrize(("text", "expected"), TOKENIZE)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(normalize(text)) == expected


def test_words_drop_markers() -> None:
    assert words("#vodafone_egypt @amr") == ["vodafone", "egypt", "amr"]


ARABIZI_WORDS = [
    ("3amr", True),
    ("a7med", True),
    ("5alas", True),
    ("ma3", True),
    ("la2", True),
    ("ya3ni", True),
    ("amr", False),
    ("ps5", False),
    ("mp3", False),
    ("s23", False),
    ("256gb", False),
    ("2024", False),
    ("عمرو", False),
]


@pytest.mark.parametrize(("word", "expected"), ARABIZI_WORDS)
def test_is_arabizi_word(word: str, expected: bool) -> None:
    assert is_arabizi_word(word) is expected


ARABIZI_SAME = [
    ("3amr", "amr"),
    ("3amr", "aamr"),
    ("3amr", "3amrr"),
    ("diab", "dyab"),
    ("diab", "deyab"),
    ("diab", "diaab"),
    ("a7med", "ahmed"),
    ("mo7amed", "mohammed"),
    ("mu7amad", "muhammad"),
    ("5aled", "khaled"),
    ("chouf", "shoof"),
    ("gamal", "jamal"),
    ("9abah", "sabah"),
]
ARABIZI_DIFFERENT = [("3amr", "omar"), ("amr", "more"), ("ya3ni", "ana"), ("sa3ed", "sa7ed")]


@pytest.mark.parametrize(("a", "b"), ARABIZI_SAME)
def test_arabizi_variants_share_a_key(a: str, b: str) -> None:
    assert arabizi_key(a) == arabizi_key(b)


@pytest.mark.parametrize(("a", "b"), ARABIZI_DIFFERENT)
def test_arabizi_key_keeps_different_words_apart(a: str, b: str) -> None:
    assert arabizi_key(a) != arabizi_key(b)


_SCRIPTS = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
    st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFF),
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),
    st.characters(min_codepoint=0x00C0, max_codepoint=0x024F),
    st.characters(min_codepoint=0x2000, max_codepoint=0x206F),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
)


@settings(max_examples=300, deadline=None)
@given(st.text(_SCRIPTS), st.booleans())
def test_normalize_is_idempotent_and_bounded(text: str, fold: bool) -> None:
    once = normalize(text, fold_ta_marbuta=fold)
    assert normalize(once, fold_ta_marbuta=fold) == once
    assert len(once) <= MAX_EXPANSION * len(text)
    assert unicodedata.is_normalized("NFKC", once)


@settings(max_examples=200, deadline=None)
@given(st.text(_SCRIPTS))
def test_tokens_survive_renormalisation(text: str) -> None:
    tokens = tokenize(normalize(text))
    assert all(token and " " not in token for token in tokens)
    assert tokenize(normalize(" ".join(tokens))) == tokens
