"""One text normalisation for matching, sentiment and indexing, so all three agree on a word.

Unicode NFKC and case folding; Arabic diacritics (tashkeel) and tatweel removed, alef forms
unified; invisible and bidi control characters dropped; whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad\u061c]")
_TATWEEL = "\u0640"
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return the canonical form of `text` used everywhere a machine compares words."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _INVISIBLE.sub("", text)
    text = _TASHKEEL.sub("", text).replace(_TATWEEL, "").translate(_ALEF)
    return _SPACE.sub(" ", text).strip()
