"""Language of a mention, from its script; a source's own language tag is never trusted."""

from __future__ import annotations

import re

_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f]")
_LATIN = re.compile("[a-zA-Z\u00c0-\u024f]")
_ARABIZI = re.compile(r"\b\w*[a-z][2-9][a-z]\w*\b|\b[2-9][a-z]{2,}\b", re.IGNORECASE)
_FRENCH = re.compile(r"\b(le|la|les|des|est|très|pas|une|je|vraiment|avec|pour)\b", re.IGNORECASE)


def detect_language(text: str) -> str:
    """Return `ar`, `arz` (Arabizi), `fr`, `en` or `und` from the characters used."""
    arabic = len(_ARABIC.findall(text))
    latin = len(_LATIN.findall(text))
    if arabic == 0 and latin == 0:
        return "und"
    if arabic >= latin:
        return "ar"
    if _ARABIZI.search(text):
        return "arz"
    return "fr" if len(_FRENCH.findall(text)) >= 2 else "en"
