"""Training of the linear sentiment model: full-batch Adam on weighted cross-entropy, then
temperature scaling on a calibration split the reported figures never touch.

Training runs in numpy only, so the same hashing code feeds training and inference and the
project needs no machine-learning framework. The objective is convex; a few hundred full-batch
steps over ~40k tweets take a couple of minutes on one core.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from processors.sentiment.e5 import (
    E5_MODEL_ID,
    EMBEDDING_WEIGHT,
    Encoder,
    EncoderModel,
    with_embeddings,
)
from processors.sentiment.features import HASH_BITS, Features, extract
from processors.sentiment.linear import MODEL_ID, LinearModel, softmax
from processors.sentiment.training.data import DEV, REPORT, TRAIN, Example, load_training_data


@dataclass(frozen=True)
class TrainConfig:
    """Choices made on the dev split only (see the model card)."""

    bits: int = HASH_BITS
    iterations: int = 100
    learning_rate: float = 0.05
    l2: float = 2e-6
    embedding_l2: float = 1e-4  # the e5 backend's dense columns: few, each in every text
    source_weights: dict[str, float] = field(default_factory=lambda: {"tweeteval": 0.5})


def featurize(examples: Sequence[Example], *, bits: int, chunk: int = 4000) -> Features:
    """Hash examples in chunks (bounded memory) into one sparse batch."""
    parts = [
        extract([e.text for e in examples[i : i + chunk]], bits=bits)
        for i in range(0, len(examples), chunk)
    ]
    offsets = np.cumsum([0] + [p.n_docs for p in parts[:-1]])
    return Features(
        rows=np.concatenate([p.rows + o for p, o in zip(parts, offsets, strict=True)]),
        buckets=np.concatenate([p.buckets for p in parts]),
        values=np.concatenate([p.values for p in parts]),
        n_docs=len(examples),
        bits=bits,
    )


def sample_weights(examples: Sequence[Example], source_weights: dict[str, float]) -> np.ndarray:
    """Balance classes within each source, then scale sources (TweetEval would drown the rest)."""
    counts = Counter((e.source, e.label) for e in examples)
    per_source = Counter(e.source for e in examples)
    weights = np.array(
        [
            per_source[e.source]
            / (len({lab for s, lab in counts if s == e.source}) * counts[e.source, e.label])
            * source_weights.get(e.source, 1.0)
            for e in examples
        ]
    )
    return weights / weights.mean()


def fit(
    features: Features,
    labels: np.ndarray,
    weights: np.ndarray,
    config: TrainConfig,
    *,
    log: Callable[[str], None] = lambda _: None,
) -> LinearModel:
    """Minimise weighted cross-entropy + L2 with full-batch Adam; a dense block (an embedding,
    see `with_embeddings`) gets the columns after the hashed buckets, with its own L2."""
    dense = 0 if features.dense is None else features.dense.shape[1]
    size = (1 << config.bits) + dense
    penalty = np.full(size, config.l2, dtype=np.float32)
    penalty[1 << config.bits :] = config.embedding_l2
    w = np.zeros((3, size), dtype=np.float32)
    b = np.zeros(3)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros(3), np.zeros(3)
    onehot = np.eye(3)[labels]
    scale = weights / weights.sum()
    for step in range(1, config.iterations + 1):
        logits = LinearModel(weights=w, bias=b, temperature=1.0).logits(features)
        probabilities = softmax(logits)
        residual = (probabilities - onehot) * scale[:, None]
        grad_w = np.stack(
            [
                np.bincount(
                    features.buckets,
                    weights=features.values * residual[features.rows, c],
                    minlength=size,
                )
                for c in range(3)
            ]
        ).astype(np.float32)
        if features.dense is not None:
            grad_w[:, 1 << config.bits :] = residual.T @ features.dense
        grad_w += penalty * w
        grad_b = residual.sum(axis=0)
        rate = config.learning_rate * (1 - step / (config.iterations + 1)) ** 0.5
        _adam(w, grad_w, m_w, v_w, rate, step)
        _adam(b, grad_b, m_b, v_b, rate, step)
        if step % 25 == 0:
            loss = -np.sum(scale * np.log(probabilities[np.arange(len(labels)), labels] + 1e-12))
            log(f"step {step}: weighted loss {loss:.4f}")
    return LinearModel(weights=w, bias=b.astype(np.float32), temperature=1.0)


def _adam(
    param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, rate: float, step: int
) -> None:
    """One Adam step in place (beta1 0.9, beta2 0.999)."""
    m *= 0.9
    m += 0.1 * grad
    v *= 0.999
    v += 0.001 * grad * grad
    param -= rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)


def calibrate(model: LinearModel, features: Features, labels: np.ndarray) -> LinearModel:
    """Temperature scaling: the T minimising log-loss on the calibration split."""
    logits = model.logits(features)
    grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), 200))
    losses = [
        -np.mean(np.log(softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12)) for t in grid
    ]
    return LinearModel(
        weights=model.weights,
        bias=model.bias,
        temperature=float(grid[int(np.argmin(losses))]),
        model_id=model.model_id,
    )


@dataclass(frozen=True)
class Design:
    """How texts become model inputs: hashed features, plus an embedding when an encoder is
    given (its centring is fitted on the training texts, then kept for every other text)."""

    bits: int
    encoder: Encoder | None = None
    mean: np.ndarray | None = None
    scale: float = 1.0

    def fitted(self, embeddings: np.ndarray) -> Design:
        mean = embeddings.mean(axis=0)
        spread = float(np.linalg.norm(embeddings - mean, axis=1).mean())
        return Design(self.bits, self.encoder, mean, EMBEDDING_WEIGHT / spread)

    def features(self, examples: Sequence[Example], embeddings: np.ndarray | None) -> Features:
        hashed = featurize(examples, bits=self.bits)
        if embeddings is None or self.mean is None:
            return hashed
        return with_embeddings(hashed, embeddings, mean=self.mean, scale=self.scale)

    def model(self, linear: LinearModel) -> LinearModel | EncoderModel:
        if self.encoder is None or self.mean is None:
            return LinearModel(linear.weights, linear.bias, linear.temperature, MODEL_ID)
        model = LinearModel(linear.weights, linear.bias, linear.temperature, E5_MODEL_ID)
        return EncoderModel(model, self.mean, self.scale, self.encoder)


def embed_all(
    encoder: Encoder | None,
    examples: Sequence[Example],
    log: Callable[[str], None],
    *,
    chunk: int = 1000,
) -> np.ndarray | None:
    """Embeddings of every example (None without an encoder), with progress: this is the
    slow part of training the e5 backend (~50 texts/s per core)."""
    if encoder is None:
        return None
    parts = []
    for start in range(0, len(examples), chunk):
        parts.append(encoder([e.text for e in examples[start : start + chunk]]))
        log(f"embedded {min(start + chunk, len(examples))}/{len(examples)} texts")
    return np.concatenate(parts)


def train(
    root: Path,
    *,
    config: TrainConfig | None = None,
    encoder: Encoder | None = None,
    log: Callable[[str], None] = print,
) -> tuple[LinearModel | EncoderModel, dict[str, list[Example]]]:
    """Train on the train split of every source, calibrate on dev; return model and splits.

    With an `encoder`, the e5 backend: its sentence embeddings join the hashed features."""
    config = config or TrainConfig()
    splits = load_training_data(root)
    log(", ".join(f"{name}: {len(rows)} texts" for name, rows in splits.items()))
    train_rows, dev_rows = splits[TRAIN], splits[DEV]
    design = Design(config.bits, encoder)
    vectors = embed_all(encoder, train_rows, log)
    if vectors is not None:
        design = design.fitted(vectors)
    labels = np.array([e.label for e in train_rows])
    model = fit(
        design.features(train_rows, vectors),
        labels,
        sample_weights(train_rows, config.source_weights),
        config,
        log=log,
    )
    dev_labels = np.array([e.label for e in dev_rows])
    dev_features = design.features(dev_rows, embed_all(encoder, dev_rows, log))
    model = calibrate(model, dev_features, dev_labels)
    log(f"temperature {model.temperature:.3f} (fitted on {len(dev_rows)} dev texts)")
    return design.model(model), {name: splits[name] for name in (DEV, REPORT)}


def cross_validate(
    root: Path,
    *,
    config: TrainConfig | None = None,
    encoder: Encoder | None = None,
    folds: int = 4,
    log: Callable[[str], None] = print,
) -> tuple[list[Example], np.ndarray]:
    """Out-of-fold predicted labels over train + dev (the report split is never touched).

    The dev split alone (~220 tweets per UMSAB language) cannot tell a one-point change from
    noise; k folds over every training text (~1,800 per language) can, so compare candidate
    changes here. Returns the examples and their predicted labels (score them with `macro_f1`
    / `f_pn` per language or dialect)."""
    examples, logits = out_of_fold_logits(
        root, config=config, encoder=encoder, folds=folds, log=log
    )
    return examples, logits.argmax(axis=1)


def out_of_fold_logits(
    root: Path,
    *,
    config: TrainConfig | None = None,
    encoder: Encoder | None = None,
    folds: int = 4,
    log: Callable[[str], None] = print,
) -> tuple[list[Example], np.ndarray]:
    """Each train + dev text's class scores (uncalibrated, shape (n, 3)) from the model of the
    fold that did not see it; folds are chosen by a hash of the text. Scores, not labels, so a
    change made after the model (the news rule) is cross-validated on the same runs."""
    config = config or TrainConfig()
    splits = load_training_data(root)
    examples = splits[TRAIN] + splits[DEV]
    vectors = embed_all(encoder, examples, log)
    fold = np.array([(zlib.crc32(e.text.encode("utf-8")) >> 8) % folds for e in examples])
    labels = np.array([e.label for e in examples])
    logits = np.zeros((len(examples), 3))
    for k in range(folds):
        inside, outside = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        rows = [examples[i] for i in inside]
        design = Design(config.bits, encoder)
        if vectors is not None:
            design = design.fitted(vectors[inside])
        model = fit(
            design.features(rows, None if vectors is None else vectors[inside]),
            labels[inside],
            sample_weights(rows, config.source_weights),
            config,
        )
        held = design.features(
            [examples[i] for i in outside], None if vectors is None else vectors[outside]
        )
        logits[outside] = model.logits(held)
        log(f"fold {k + 1}/{folds}: {len(inside)} trained, {len(outside)} predicted")
    return examples, logits
