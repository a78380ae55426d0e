"""Sentiment of a mention: label, calibrated probability and the model that decided.

The default model is linear over hashed word and character n-grams (`processors.features`),
trained by `sada sentiment train` and shipped as `processors/model/sentiment.npz`. Inference is
plain numpy: gather the weights of each text's buckets, sum, divide by the temperature fitted on
a calibration split, softmax. No framework is loaded at run time.

Brand-directed polarity (`score_for_brand`) scores the part of a post that concerns one brand;
see docs/sentiment.md for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.config import SentimentBackend
from core.events import Sentiment
from processors.features import Features, extract
from processors.normalize import normalize

MODEL_ID = "sada-linear-v1"
MODEL_PATH = Path(__file__).parent / "model" / "sentiment.npz"
LABELS = ("negative", "neutral", "positive")


class Scorer(Protocol):
    """A sentiment backend: the shipped linear model, or a transformer the user brings."""

    @property
    def model_id(self) -> str: ...

    def score(self, texts: Sequence[str]) -> list[Sentiment]: ...

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Every class's probability, shape (len(texts), 3), columns in LABELS order."""
        ...


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
        return softmax(self.logits(extract(texts, bits=self.bits)) / self.temperature)

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


def load_scorer(backend: SentimentBackend = "linear", model_dir: Path | None = None) -> Scorer:
    """The transformer in `model_dir` when one is given (bring your own), else the shipped
    model of `backend`: "linear" (fast, the default) or "e5" (accurate, needs the `e5` extra)."""
    if model_dir is not None:
        from processors.sentiment_transformer import TransformerScorer

        return TransformerScorer(model_dir)
    if backend == "e5":
        from processors.sentiment_e5 import EncoderModel

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


# Brand-directed polarity ---------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(
    r"[.!?؟;؛\n]+|,|،|\s(?:but|however|whereas|while|mais|par contre|alors que|"
    r"لكن|ولكن|بس|بينما|اما)\s"
)
# "left X for Y", "switched from X to Y", "تركت X ل Y": X is the brand given up.
_SWITCH = re.compile(
    r"(?:left|ditched|dumped|quit|switched from|moved from|moving from|changed from|replaced|"
    r"quitté|abandonné|lâché|passé de|"
    r"تركت|سبت|غيرت من|بدلت|انتقلت من|طلعت من|هجرت)\s+(?P<left>.+?)\s+"
    r"(?:for|to|with|pour|par|à|ل|الى|الي|على|ب)\s*(?P<right>\S.*)"
)


def score_for_brand(
    text: str,
    terms: Sequence[str],
    *,
    others: Sequence[str] = (),
    model: Scorer | None = None,
) -> Sentiment:
    """Polarity of `text` towards the brand named by `terms` (other brands' terms in `others`).

    With other brands in the post, it is cut into clauses and the brand gets the clauses that
    name it plus the brand-free clauses around them (see docs/sentiment.md). When the context
    is a switch ("I left Samsung for Apple, best decision"), the brand given up gets the
    opposite polarity of the rest. Without the brand's terms in the text the post is scored whole.
    """
    clean = normalize(text)
    mine, theirs = _term_pattern(terms), _term_pattern(others)
    if mine is None or not mine.search(clean):
        return score([text], model=model)[0]
    alone = theirs is None or not theirs.search(clean)
    context = clean if theirs is None or alone else _context(clean, mine, theirs)
    switch = _SWITCH.search(context)
    if switch and mine.search(switch["left"]) and not mine.search(switch["right"]):
        rest = score([switch["right"]], model=model)[0]
        flipped = {"positive": "negative", "negative": "positive"}.get(rest.label, rest.label)
        return rest.model_copy(update={"label": flipped})
    if switch and mine.search(switch["right"]) and not mine.search(switch["left"]):
        return score([switch["right"]], model=model)[0]
    return score([text if alone else context], model=model)[0]


def _context(clean: str, mine: re.Pattern[str], theirs: re.Pattern[str]) -> str:
    """Clauses naming the brand, brand-free clauses after them, and any that lead up to it."""
    context: list[str] = []
    leading: list[str] | None = []  # brand-free clauses before any brand is named
    owner = False
    for clause in filter(None, (c.strip() for c in _CLAUSE_BREAK.split(clean))):
        if mine.search(clause):
            owner = True
            context += leading or []
            leading = None
        elif theirs.search(clause):
            owner, leading = False, None
        elif leading is not None:
            leading.append(clause)
        if owner:
            context.append(clause)
    return " , ".join(context)


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    words = [normalize(t.strip().strip('"')) for t in terms if t.strip().strip('"')]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
