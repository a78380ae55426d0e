"""One text normalisation for matching, sentiment and indexing, so all three agree on a word.

Rules, in order: Unicode NFKC; case folding; Latin (and Greek/Cyrillic) diacritics dropped;
invisible, bidi-control and emoji-modifier characters dropped; Arabic tashkeel and tatweel removed,
alef forms unified to ا, alef maqsura ى to ي, Persian ک/ی to ك/ي, optionally ta marbuta ة to ه;
Arabic-Indic and Persian digits to ASCII; whitespace collapsed. Emoji are kept, and `tokenize`
makes each one a token of its own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ufe00-\ufe0f\U0001f3fb-\U0001f3ff]"
)
_COMBINING = re.compile("[\u0300-\u036f]")
_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LETTERS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك"}
_LETTERS |= {"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ı": "i"}
_LETTERS |= {chr(0x0660 + d): str(d) for d in range(10)}
_LETTERS |= {chr(0x06F0 + d): str(d) for d in range(10)}
_TABLE = str.maketrans(_LETTERS)
_TABLE_TA = str.maketrans(_LETTERS | {"ة": "ه"})
_SPACE = re.compile(r"\s+")

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff"
_TOKEN = re.compile(rf"(?<!\w)[#@$]\w+|[^\W_]+|[{_EMOJI}]")
_WORD = re.compile(rf"[^\W_]+|[{_EMOJI}]")


@lru_cache(maxsize=4096)
def normalize(text: str, *, fold_ta_marbuta: bool = False) -> str:
    """Return the canonical form of `text` used everywhere a machine compares words.

    `fold_ta_marbuta` also writes ة as ه, as many dialect writers do ("شركه"); matching turns it
    on for queries and texts alike, a lexicon that keeps ة leaves it off. Cached: matching,
    language id, near-duplicates and sentiment each normalise the same post in turn.
    """
    if text.isascii():
        return _SPACE.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _TASHKEEL.sub("", text).translate(_TABLE_TA if fold_ta_marbuta else _TABLE)
    return _SPACE.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Split normalised text into tokens, each emoji one; #, @ and $ stay on the name they mark.

    Underscores join words only inside hashtags and handles (`#vodafone_egypt`), where they are
    part of the name. A marker right after a letter or digit marks nothing: `support@careem.com`
    is an address, not the handle @careem, and `US$5` no cashtag.
    """
    return _TOKEN.findall(text)


def words(text: str) -> list[str]:
    """Plain word tokens of normalised text, markers dropped: what a query term is made of."""
    return _WORD.findall(text)


_ARABIZI_DIGIT = re.compile(r"[a-z][2356789][a-z]|^[2356789][a-z]{2}|[aeiou][2356789]$")
_DIGRAPHS = (("kh", "5"), ("gh", "q"), ("sh", "$"), ("ch", "$"), ("dj", "g"), ("th", "t"))
_ARABIZI_TABLE = str.maketrans({"2": "", "3": "", "7": "h", "6": "t", "9": "s", "8": "q", "j": "g"})
_VOWELS = re.compile(r"(?:[aeiou]|(?<=[a-z$])y)+")
_REPEAT = re.compile(r"(.)\1+")


def is_arabizi_word(word: str) -> bool:
    """True for a Latin word that writes Arabic letters with digits: 3amr, a7med, ma3, la2.

    The digit must sit between letters, start a word before two letters, or end one after a
    vowel, so model names such as ps5, mp3, s23 or 256gb are not taken for Arabizi.
    """
    if not word.isascii() or _ARABIZI_DIGIT.search(word) is None:  # most words stop here
        return False
    letters = sum(c.isalpha() for c in word)
    return word.isalnum() and letters >= 2 and len(word) - letters <= 2


@lru_cache(maxsize=65536)
def arabizi_key(word: str) -> str:
    """Spelling-independent key of an Arabizi word: 3amr/amr/aamr -> amr, diab/dyab -> dab.

    Digits become the letter they stand for (7 h, 6 t, 9 s, 8 and gh q, 5 and kh together) or
    vanish (2 hamza, 3 ain, which Latin writers often drop); every vowel run (y too, after a
    letter) becomes `a`; doubled letters collapse. So vowel and doubling variants meet.
    Empty for non-ASCII words.
    """
    if not word.isascii():
        return ""
    for digraph, letter in _DIGRAPHS:
        word = word.replace(digraph, letter)
    word = _VOWELS.sub("a", word.translate(_ARABIZI_TABLE))
    return _REPEAT.sub(r"\1", word)
