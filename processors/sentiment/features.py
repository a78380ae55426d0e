"""Sentiment features: hashed word and character n-grams plus a few language-aware cue tokens.

Each text is first rewritten into a token string (`prepare`): the shared `normalize`, then
feature-only folding that matching must not do (ى/ي, ة/ه, squashed elongation "حلووووو" -> "حلو",
URLs and user handles collapsed), negation and intensifier scope marked on the next word
("not good" -> "not ¬good"), and flag tokens appended (script, Arabizi, emoji, elongation...).
Flags are plain words so the linear model weighs them like any other feature.

Hashing is vectorised over a whole batch with a polynomial rolling hash mod 2**64: no Python
loop per n-gram, which is what keeps a batch at tens of thousands of texts per second. The hash
is deterministic across processes (Python's `hash()` is salted, so it is not used).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from core.text import normalize
from processors.sentiment.lexicon import NEGATIVE, POSITIVE

HASH_BITS = 20
CHAR_NGRAMS = (2, 3, 4)
# Words, word pairs and cue flags are few beside the character n-grams; weigh each one more.
WORD_WEIGHT = 3.5

_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_FOLD = str.maketrans(
    {"ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي", "#": " ", "_": " ", "ـ": "", "\x00": " "}
    | {chr(0x660 + d): str(d) for d in range(10)}
    | {chr(0x6F0 + d): str(d) for d in range(10)}
)
_EMOJI_CLASS = "\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764"
# A letter or emoji written three or more times is elongation; "..." and "!!!" are squashed
# without the flag.
_ELONGATED = re.compile(f"([^\\W\\d_]|[{_EMOJI_CLASS}])\\1{{2,}}")
_REPEATED_MARK = re.compile(r"([!?؟.])\1{2,}")
_TRIPLE = re.compile(r"(.)\1\1")
_EMOJI = re.compile(f"[{_EMOJI_CLASS}]")
_PUNCT = re.compile(f'([!?؟.,،؛;:()"“”«»…{_EMOJI_CLASS}])')
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LATIN = re.compile(r"[a-zà-ÿ]")
# Arabizi writes Arabic letters with digits (3 ع, 7 ح, 5 خ, 2 ء, 9 ق) inside Latin words.
_ARABIZI = re.compile(r"(?<![\w])[a-z]*[a-z][23579][a-z]+|(?<![\w])[23579][a-z]{2,}")
# Arabizi spelled in Arabic letters, so an Arabizi post shares the weights learned from Arabic
# script ("7elwa" -> "حلوه", "mesh" -> "مش"). Rough on vowels by design: short vowels are not
# written in Arabic, long ones are guessed.
_ARABIZI_UNITS = re.compile(r"sh|ch|kh|gh|th|dh|ou|oo|ee|aa|ei|ai|3'|.")
_ARABIZI_LETTERS = {
    "sh": "ش", "ch": "ش", "kh": "خ", "gh": "غ", "th": "ث", "dh": "ذ", "3'": "غ",
    "ou": "و", "oo": "و", "ee": "ي", "aa": "ا", "ei": "ي", "ai": "ي",
    "2": "ء", "3": "ع", "5": "خ", "6": "ط", "7": "ح", "8": "ق", "9": "ق",
    "b": "ب", "p": "ب", "t": "ت", "j": "ج", "g": "ج", "d": "د", "r": "ر", "z": "ز", "s": "س",
    "f": "ف", "v": "ف", "q": "ق", "k": "ك", "c": "ك", "l": "ل", "m": "م", "n": "ن", "h": "ه",
    "w": "و", "y": "ي", "x": "كس", "i": "ي", "o": "و", "u": "و",
}  # fmt: skip
_ARABIZI_TOKEN = re.compile(r"[a-z0-9']{2,}")

_NEGATORS = (
    "not no never dont don't doesnt doesn't didnt didn't cant can't cannot isnt isn't wasnt wasn't "
    "wont won't nothing nobody without "
    "ما لا لم لن ليس مش مو مب مهو ماهو مافي مافيش "
    "ne pas jamais rien sans nicht kein keine nie non nao não nunca nada mai nessun "
    "mish msh mesh mo ma mafi nahi nahin mat"
)
_INTENSIFIERS = (
    "very so really too super extremely totally absolutely most "
    "جدا جداً كتير كثير اوي قوي مره مرة وايد حيل بزاف مرا جامد اكثر "
    "tres très trop vraiment sehr molto muy tan tão muito bahut kteer awi gedan"
)
_SCOPE_BREAK = frozenset("!?؟.,،؛;:")

_PRIME = 0x100000001B3
_PRIME_INVERSE = pow(_PRIME, -1, 2**64)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_PAIR = np.uint64(0xC2B2AE3D27D4EB4F)
_WORD = np.uint64(0x5BD1E9955BD1E995)


def fold(text: str) -> str:
    """Normalise, then fold what sentiment does not distinguish (ة/ه, ى/ي, elongation)."""
    return _fold(text)[0]


@lru_cache(maxsize=4096)
def _fold(text: str) -> tuple[str, bool]:
    """Cached: scoring folds a mention and triage folds the same text right after."""
    text = _USER.sub(" @ ", normalize(_URL.sub(" ↗ ", text))).translate(_FOLD)
    if not _TRIPLE.search(text):  # the usual case, and ten times cheaper than the rewrites
        return text, False
    squashed = _ELONGATED.sub(r"\1", text)
    return _REPEATED_MARK.sub(r"\1", squashed), len(squashed) != len(text)


def prepare(text: str) -> str:
    """Rewrite one text into the space-separated token string the model reads."""
    folded, elongated = _fold(text)
    tokens = _mark_scope(_PUNCT.sub(r" \1 ", folded).split())
    tokens.append(_script(folded))
    if elongated:
        tokens.append("_elong")
    if _ARABIZI.search(folded):
        tokens.append("_arabizi")
        tokens += _mark_scope([to_arabic(t) for t in _ARABIZI_TOKEN.findall(folded)])
    if _EMOJI.search(folded):
        tokens.append("_emoji")
    return " ".join(tokens)


def to_arabic(word: str) -> str:
    """Spell one Arabizi word in Arabic letters: a first vowel is an alef, a short a/e inside
    the word is dropped, a final a is ه (ا in words of three letters or fewer)."""
    units = _ARABIZI_UNITS.findall(word)
    letters = []
    for index, unit in enumerate(units):
        if unit in "ae" and index:
            last = index == len(units) - 1
            letters.append(("ا" if len(word) <= 3 else "ه") if last and unit == "a" else "")
        elif unit in "aeiou" and not index:
            letters.append("ا")
        else:
            letters.append(_ARABIZI_LETTERS.get(unit, unit))
    return "".join(letters)


def _mark_scope(tokens: list[str]) -> list[str]:
    """Prefix the word after a negator with ¬ and after an intensifier with ↑; add cue flags.

    A lexicon word adds `_lex+` or `_lex-`, flipped when negated ("not good" adds `_lex-`).
    """
    out, flags, mark = [], [], ""
    for token in tokens:
        if token in _SCOPE_BREAK:
            out.append(token)
            mark = ""
            continue
        out.append(mark + token)
        polarity = _POLARITY.get(token, 0) * (-1 if mark == "¬" else 1)
        if polarity:
            flags.append("_lex+" if polarity > 0 else "_lex-")
        if token in _NEGATORS_SET:
            mark = "¬"
            flags.append("_neg")
        elif token in _INTENSIFIERS_SET:
            mark = "↑"
            flags.append("_intens")
        else:
            mark = ""
    return out + flags


_NEGATORS_SET = frozenset(map(fold, _NEGATORS.split()))
_INTENSIFIERS_SET = frozenset(map(fold, _INTENSIFIERS.split()))
# Arabic words also appear behind clitics (و، ف، ب، ل، ك، ال): list those forms up front so a
# look-up stays one set membership test per token.
_CLITICS = [w + p + a for w in ("", "و", "ف") for p in ("", "ب", "ل", "ك") for a in ("", "ال")]


def _with_clitics(words: frozenset[str]) -> set[str]:
    return {c + fold(w) for w in words for c in (_CLITICS if _ARABIC.match(w) else [""])}


_POLARITY = {w: -1 for w in _with_clitics(NEGATIVE)} | {w: 1 for w in _with_clitics(POSITIVE)}


def _script(text: str) -> str:
    arabic, latin = bool(_ARABIC.search(text)), bool(_LATIN.search(text))
    if arabic and latin:
        return "_s:mixed"
    return "_s:ar" if arabic else "_s:latin" if latin else "_s:none"


@dataclass(frozen=True)
class Features:
    """A batch as sparse rows: feature `buckets[k]` of document `rows[k]` with weight `values[k]`;
    optionally a dense block (n_docs, d) whose columns follow the hashed buckets (the e5
    backend's sentence embeddings). `bits`: the buckets' width, 2**bits of them."""

    rows: np.ndarray
    buckets: np.ndarray
    values: np.ndarray
    n_docs: int
    dense: np.ndarray | None = None
    bits: int = HASH_BITS

    def narrowed(self, bits: int) -> Features:
        """The same features in 2**bits buckets, exactly as `extract(..., bits=bits)` gives
        them: a bucket is the top bits of the hash, so a narrower model (the complaint model)
        reuses a wider model's features by dropping low bits instead of hashing again."""
        if bits > self.bits:
            raise ValueError(f"cannot widen {self.bits}-bit features to {bits} bits")
        return replace(self, buckets=self.buckets >> (self.bits - bits), bits=bits)


def extract(texts: Sequence[str], *, bits: int = HASH_BITS) -> Features:
    """Hash a batch of texts into sparse feature rows, each row L2-normalised."""
    return hash_prepared([prepare(text) for text in texts], bits=bits)


def hash_prepared(prepared: Sequence[str], *, bits: int = HASH_BITS) -> Features:
    """Hash already prepared token strings (see `prepare`)."""
    n_docs = len(prepared)
    joined = "\x00".join(f" {p} " for p in prepared)
    # A lone surrogate (broken JSON escapes) becomes "?", one code point for one: lengths hold.
    data = joined.encode("utf-32-le", errors="replace")
    codes = np.frombuffer(data, dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(p) + 2 for p in prepared), dtype=np.int64, count=n_docs)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths + 1)[: len(codes)]
    prefix, powers = _prefix_hashes(codes)

    size = len(codes)
    rows, hashes = [], []
    with np.errstate(over="ignore"):
        for n in CHAR_NGRAMS:
            end = size - n + 1
            valid = (doc_of[:end] == doc_of[n - 1 :]) & (codes[n - 1 :] != 0)
            rows.append(doc_of[:end][valid])
            hashes.append((prefix[n:] - prefix[:end] * powers[n])[valid])

        spaces = np.flatnonzero(codes == 32)
        left, right = spaces[:-1] + 1, spaces[1:]
        word = (right > left) & (doc_of[spaces[:-1]] == doc_of[spaces[1:]])
        left, right = left[word], right[word]
        word_rows = doc_of[left]
        word_hashes = (prefix[right] - prefix[left] * powers[right - left]) ^ _WORD
        pair = word_rows[1:] == word_rows[:-1]
        rows += [word_rows, word_rows[1:][pair]]
        hashes += [word_hashes, word_hashes[:-1][pair] * _PAIR + word_hashes[1:][pair]]

    all_rows = np.concatenate(rows)
    with np.errstate(over="ignore"):
        buckets = ((np.concatenate(hashes) * _MIX) >> np.uint64(64 - bits)).astype(np.int64)
    n_chars = sum(len(r) for r in rows[: len(CHAR_NGRAMS)])
    raw = np.full(len(all_rows), WORD_WEIGHT, dtype=np.float32)
    raw[:n_chars] = 1.0
    norms = np.sqrt(np.bincount(all_rows, weights=raw * raw, minlength=n_docs))
    values = raw / np.maximum(norms, 1.0)[all_rows].astype(np.float32)
    return Features(all_rows, buckets, values, n_docs, bits=bits)


def _prefix_hashes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prefix[i] = hash of codes[:i]; a span's hash then costs two multiplications."""
    size = len(codes) + 1
    powers, inverse = _power_tables(1 << (size - 1).bit_length())
    with np.errstate(over="ignore"):
        prefix = np.zeros(size, dtype=np.uint64)
        np.cumsum((codes + np.uint64(1)) * inverse[: len(codes)], out=prefix[1:])
        prefix[1:] *= powers[: len(codes)]
    return prefix, powers


@lru_cache(maxsize=8)
def _power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i mod 2**64 for i < size, kept per power-of-two size: single texts are
    scored one by one in the pipeline, and rebuilding the tables dominated such a call."""
    with np.errstate(over="ignore"):
        powers = np.ones(size, dtype=np.uint64)
        powers[1:] = np.cumprod(np.full(size - 1, _PRIME, dtype=np.uint64))
        inverse = np.ones(size, dtype=np.uint64)
        inverse[1:] = np.cumprod(np.full(size - 1, _PRIME_INVERSE, dtype=np.uint64))
    powers.flags.writeable = inverse.flags.writeable = False
    return powers, inverse
