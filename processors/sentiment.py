"""Sentiment of a mention: label, probability and the model that decided.

Baseline: a small multilingual lexicon (Arabic, Arabizi, English, French) counted over the
normalised words. Honest, fast and explainable; a trained model replaces it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.events import Sentiment
from processors.normalize import normalize

MODEL_ID = "lexicon-v1"

_POSITIVE = frozenset(
    "love great amazing excellent best awesome thanks happy fantastic good perfect "
    "رائع ممتاز جميل احب حلو شكرا افضل روعة تحفة يجنن "
    "7elw 7abibi rai3 mumtaz "
    "génial super merci excellent parfait adore".split()
)
_NEGATIVE = frozenset(
    "bad worst terrible awful hate broken delayed refund scam angry disappointed never cancelled "
    "سيء سيئ اسوا فاشل زفت مشكلة خايس متاخر احتيال غاضب حرام للاسف "
    "5ara wa7ed sayi2 "
    "nul horrible déçu arnaque retard pire".split()
)


def score(texts: Sequence[str]) -> list[Sentiment]:
    """Score a batch of texts; batching keeps the call shape of heavier models."""
    return [_score_one(text) for text in texts]


def _score_one(text: str) -> Sentiment:
    words = normalize(text).split()
    pos = sum(w.strip(".,!?؟،") in _POSITIVE for w in words)
    neg = sum(w.strip(".,!?؟،") in _NEGATIVE for w in words)
    if pos == neg:
        return Sentiment(label="neutral", probability=0.5, model=MODEL_ID)
    margin = abs(pos - neg)
    probability = round(1 / (1 + math.exp(-margin)), 4)
    label = "positive" if pos > neg else "negative"
    return Sentiment(label=label, probability=probability, model=MODEL_ID)
