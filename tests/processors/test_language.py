from __future__ import annotations

import pytest

from processors.language import detect_language

CASES = [
    # Arabic script: MSA and dialects are all `ar`
    ("سامسونج أفضل شركة في العالم", "ar"),
    ("الخدمة سيئة جدا ولم يرد أحد", "ar"),
    ("عايز أشتري موبايل جديد بس الأسعار نار", "ar"),
    ("شلونكم؟ الشبكة اليوم زفت", "ar"),
    ("بدي غيّر الخط، الإنترنت كتير بطيء", "ar"),
    ("بغيت نشري تيليفون جديد", "ar"),
    ("كلمني على الواتساب please", "ar"),
    ("ايفون ١٥ برو", "ar"),
    # Arabizi
    ("ana 3ayez a2ra el kitab", "arz"),
    ("ya3ni msh 3aref", "arz"),
    ("7elw awi", "arz"),
    ("el network ba2a zay el zeft wallah", "arz"),
    ("3amr diab concert", "arz"),
    ("mafeesh network khalas", "arz"),
    ("chnowa hedha barcha", "arz"),
    ("wallah habibi el service mumtaz", "arz"),
    ("5alas", "arz"),
    # English
    ("I love my new iphone", "en"),
    ("the battery is dead again", "en"),
    ("ps5 is great", "en"),
    ("Galaxy S23 ultra review", "en"),
    ("Worst customer service ever, never again", "en"),
    ("@vodafone why is my internet down?", "en"),
    # French
    ("j'adore le nouveau téléphone", "fr"),
    ("Le service client est nul", "fr"),
    ("merci beaucoup orange", "fr"),
    ("je suis déçu", "fr"),
    ("c'est vraiment pas normal, la connexion est coupée", "fr"),
    # nothing to go on
    ("😀😀", "und"),
    ("https://example.com/x", "und"),
    ("12345", "und"),
    ("", "und"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
