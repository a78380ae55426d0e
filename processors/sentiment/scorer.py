"""Which model scores a batch: the shipped backends, one the user brings, and the fast
fallback for a backend that fell behind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.config import SentimentBackend
from core.events import Sentiment
from processors.sentiment.features import Features, extract
from processors.sentiment.linear import LinearModel, default_model, sentiments


class Scorer(Protocol):
    """A sentiment backend: the shipped linear model, or a transformer the user brings."""

    @property
    def model_id(self) -> str: ...

    def score(self, texts: Sequence[str]) -> list[Sentiment]: ...

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Every class's probability, shape (len(texts), 3), columns in LABELS order."""
        ...


def load_scorer(backend: SentimentBackend = "linear", model_dir: Path | None = None) -> Scorer:
    """The transformer in `model_dir` when one is given (bring your own), else the shipped
    model of `backend`: "linear" (fast, the default) or "e5" (accurate, needs the `e5` extra)."""
    if model_dir is not None:
        from processors.sentiment.transformer import TransformerScorer

        return TransformerScorer(model_dir)
    if backend == "e5":
        from processors.sentiment.e5 import EncoderModel

        return EncoderModel.load()
    return default_model()


def keeping_up(model: Scorer, waited_seconds: float, max_delay_seconds: float) -> Scorer:
    """The model to score a batch with: `model`, unless the batch's oldest mention has waited
    longer than `max_delay_seconds` (0: no limit), then the fast linear model, so a slow
    backend that fell behind in a surge catches up instead of making alerts late."""
    if max_delay_seconds and waited_seconds > max_delay_seconds:
        return default_model()
    return model


def score(texts: Sequence[str], *, model: Scorer | None = None) -> list[Sentiment]:
    """Score a batch of texts with `model`, the shipped model by default."""
    return (model or default_model()).score(texts)


def score_with_features(
    texts: Sequence[str], *, model: Scorer | None = None
) -> tuple[list[Sentiment], Features | None]:
    """`score`, and the hashed features the linear model read (None for another backend), so
    that triage's complaint model reuses them instead of preparing and hashing each text again."""
    model = model or default_model()
    if not isinstance(model, LinearModel) or not texts:
        return model.score(texts), None
    features = extract(texts, bits=model.bits)
    return sentiments(model.calibrated(features, texts), model.model_id), features
