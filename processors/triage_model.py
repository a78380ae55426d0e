"""The English complaint model: logistic regression over the sentiment model's hashed n-grams.

Rules miss most real complaints to customer-care accounts, which rarely use a listed problem
word ("@Verizon three days and still nothing"). This model reads the same features as the
sentiment model (`processors.sentiment.features.extract`); given the features the sentiment
model already extracted, it costs one more gather per mention. The decision threshold chosen by cross-validation is folded into the bias: a score of
0.5 or more is a complaint. Trained by `sada triage train`; figures in docs/sentiment.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from processors.sentiment.features import Features, extract

MODEL_PATH = Path(__file__).parent / "sentiment" / "model" / "complaint-en.npz"
SHOWN = 2  # words named in an explanation
MEMORY = 100_000  # words whose own score is kept (about 10 MB)


@dataclass(frozen=True)
class ComplaintModel:
    """One weight per hash bucket and a bias; P(complaint) >= 0.5 means complaint."""

    weights: np.ndarray  # (2**bits,) float32
    bias: float
    known: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def bits(self) -> int:
        return len(self.weights).bit_length() - 1

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ComplaintModel:
        if not path.exists():
            raise FileNotFoundError(
                f"complaint model {path} not found; train one with "
                "`sada triage train --data CSV --out PATH`"
            )
        with np.load(path) as data:
            return cls(weights=data["weights"].astype(np.float32), bias=float(data["bias"]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle, weights=self.weights.astype(np.float16), bias=np.float32(self.bias)
            )

    def logits(self, features: Features) -> np.ndarray:
        """One sparse dot product per document; wider features (the sentiment model's) are
        narrowed to this model's buckets first."""
        features = features.narrowed(self.bits)
        return (
            np.bincount(
                features.rows,
                weights=self.weights[features.buckets] * features.values,
                minlength=features.n_docs,
            )
            + self.bias
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(complaint) per text, shape (len(texts),)."""
        if not texts:
            return np.zeros(0)
        return sigmoid(self.logits(extract(texts, bits=self.bits)))

    def words(self, text: str) -> list[str]:
        """The words that read most like a complaint on their own (highest own score)."""
        return self.words_batch([text])[0]

    def words_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """`words` for each text, with every word new to this model scored in one extraction:
        a word scored alone costs a whole call, and the same words come back in mention after
        mention (the scores are kept, up to MEMORY words)."""
        splits = [list(dict.fromkeys(text.split())) for text in texts]
        new = list(dict.fromkeys(w for words in splits for w in words if w not in self.known))
        if len(self.known) + len(new) > MEMORY:
            self.known.clear()
        if new:
            self.known.update(
                zip(new, self.logits(extract(new, bits=self.bits)).tolist(), strict=True)
            )
        return [self._strongest(words) for words in splits]

    def _strongest(self, words: list[str]) -> list[str]:
        own = np.array([self.known[w] for w in words])
        return [words[i] for i in np.argsort(-own, kind="stable")[:SHOWN] if own[i] > self.bias]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=1)
def default_model() -> ComplaintModel:
    """The shipped model, loaded once per process."""
    return ComplaintModel.load()
