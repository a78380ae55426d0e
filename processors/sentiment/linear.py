"""The default sentiment model: linear over hashed word and character n-grams.

Features come from `processors.sentiment.features`; the weights are trained by
`sada sentiment train` and shipped as `processors/sentiment/model/sentiment.npz`. Inference is
plain numpy: gather the weights of each text's buckets, sum, divide by the temperature fitted on
a calibration split, add the news rule's lean to neutral (`news`), softmax. No framework is
loaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Sentiment
from processors.sentiment.features import Features, extract
from processors.sentiment.news import neutral_shifts

MODEL_ID = "sada-linear-v1"
MODEL_PATH = Path(__file__).parent / "model" / "sentiment.npz"
LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class LinearModel:
    """Weights per hash bucket and class, a bias, and the calibration temperature."""

    weights: np.ndarray  # (3, 2**bits) float32: one contiguous row per class gathers fastest
    bias: np.ndarray  # (3,) float32
    temperature: float
    model_id: str = MODEL_ID

    @property
    def bits(self) -> int:
        return int(self.weights.shape[1]).bit_length() - 1

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinearModel:
        if not path.exists():
            raise FileNotFoundError(
                f"sentiment model {path} not found; train one with "
                "`sada sentiment train --data DIR --out PATH`"
            )
        with np.load(path) as data:
            return cls(
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                temperature=float(data["temperature"]),
                model_id=str(data["model_id"]),
            )

    def save(self, path: Path, **extra: np.ndarray) -> None:
        """Store weights as float16: half the size, no measurable change in predictions.

        `extra` arrays are stored beside them (a backend that wraps this model keeps its own
        parameters in the same file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias,
            "temperature": np.float32(self.temperature),
            "model_id": np.str_(self.model_id),
        }
        with path.open("wb") as handle:
            np.savez_compressed(handle, **(arrays | extra))

    def logits(self, features: Features) -> np.ndarray:
        """Uncalibrated class scores, shape (n_docs, 3)."""
        out = np.empty((features.n_docs, 3), dtype=np.float64)
        for label, row in enumerate(self.weights):
            out[:, label] = np.bincount(
                features.rows,
                weights=row[features.buckets] * features.values,
                minlength=features.n_docs,
            )
        if features.dense is not None:
            out += features.dense @ self.weights[:, 1 << self.bits :].T
        return out + self.bias

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, shape (len(texts), 3)."""
        if not texts:
            return np.zeros((0, 3))
        return self.calibrated(extract(texts, bits=self.bits), texts)

    def calibrated(self, features: Features, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities of `texts`, whose features are already extracted;
        a text that reads as news leans to neutral (`processors.sentiment.news`)."""
        logits = self.logits(features) / self.temperature
        logits[:, 1] += neutral_shifts(texts)
        return softmax(logits)

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score a batch of texts; one call per batch is what makes the model fast."""
        return sentiments(self.probabilities(texts), self.model_id)


def sentiments(probabilities: np.ndarray, model_id: str) -> list[Sentiment]:
    """One Sentiment per row of class probabilities: the likeliest label and its probability."""
    best = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(best)), best].round(4).tolist()
    # Values are valid by construction; skipping validation keeps the per-text cost low.
    return [
        Sentiment.model_construct(label=LABELS[b], probability=p, model=model_id)
        for b, p in zip(best.tolist(), confidence, strict=True)
    ]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def default_model() -> LinearModel:
    """The shipped model, loaded once per process."""
    return LinearModel.load()
