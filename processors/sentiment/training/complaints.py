"""Train and cross-validate the English complaint model (`sada triage train`).

Data: a CSV with `text`, `complaint` (1 or 0) and `domain` columns (the customer-care tweets in
`../shared/data/triage/complaints_en/train.csv`). Settings were chosen by 5-fold stratified
cross-validation (docs/sentiment.md); leave-one-domain-out shows how the model carries over to
an industry it never saw.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from processors.sentiment.features import Features, extract
from processors.sentiment.training.train import _adam
from processors.triage_model import ComplaintModel, sigmoid

BITS = 18
L2 = 1e-4
ITERATIONS = 300
THRESHOLD = 0.45  # below 0.5: a missed complaint costs more than a false one


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    labels: np.ndarray  # 1 complaint, 0 not
    domains: np.ndarray


@dataclass(frozen=True)
class Scores:
    macro_f1: float
    recall: float  # of complaints
    precision: float


def load_csv(path: Path) -> Labelled:
    """Read the labelled CSV; a clear error naming the row when a label is not 0 or 1."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows, start=2):
        if row.get("complaint") not in ("0", "1") or not row.get("text"):
            raise ValueError(f"{path}:{number}: need text and complaint 0 or 1, got {row}")
    return Labelled(
        texts=[row["text"] for row in rows],
        labels=np.array([int(row["complaint"]) for row in rows]),
        domains=np.array([row.get("domain") or "" for row in rows]),
    )


def fit(
    features: Features,
    labels: np.ndarray,
    *,
    bits: int,
    l2: float,
    iterations: int = 200,
    learning_rate: float = 0.05,
) -> ComplaintModel:
    """Class-balanced logistic loss + L2 by full-batch Adam (no framework at train time)."""
    share = np.clip(labels.mean(), 1 / len(labels), 1 - 1 / len(labels))  # one class: no 1/0
    balance = np.where(labels == 1, 0.5 / share, 0.5 / (1 - share))
    scale = balance / len(labels)
    w = np.zeros(1 << bits, dtype=np.float32)
    b = np.zeros(1)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros(1), np.zeros(1)
    for step in range(1, iterations + 1):
        model = ComplaintModel(weights=w, bias=float(b[0]))
        residual = (sigmoid(model.logits(features)) - labels) * scale
        grad_w = np.bincount(
            features.buckets, weights=features.values * residual[features.rows], minlength=len(w)
        ).astype(np.float32)
        grad_w += l2 * w
        rate = learning_rate * (1 - step / (iterations + 1)) ** 0.5
        _adam(w, grad_w, m_w, v_w, rate, step)
        _adam(b, np.array([residual.sum()]), m_b, v_b, rate, step)
    return ComplaintModel(weights=w, bias=float(b[0]))


def with_threshold(model: ComplaintModel, threshold: float) -> ComplaintModel:
    """The same model with `threshold` moved to 0.5 (folded into the bias)."""
    return ComplaintModel(model.weights, model.bias - float(np.log(threshold / (1 - threshold))))


def train(data: Labelled) -> ComplaintModel:
    features = extract(data.texts, bits=BITS)
    model = fit(features, data.labels, bits=BITS, l2=L2, iterations=ITERATIONS)
    return with_threshold(model, THRESHOLD)


def out_of_fold(data: Labelled, folds: np.ndarray) -> np.ndarray:
    """P(complaint) of every text from a model trained without its fold (thresholded at 0.5)."""
    features = extract(data.texts, bits=BITS)
    out = np.zeros(len(data.texts))
    for fold in np.unique(folds):
        test = folds == fold
        model = fit(
            _rows(features, ~test), data.labels[~test], bits=BITS, l2=L2, iterations=ITERATIONS
        )
        out[test] = sigmoid(with_threshold(model, THRESHOLD).logits(_rows(features, test)))
    return out


def stratified_folds(labels: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number per example, each class spread evenly over the k folds."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        folds[members] = np.arange(len(members)) % k
    return folds


def scores(labels: np.ndarray, predicted: np.ndarray) -> Scores:
    """Macro-F1 over complaint / not, and the complaint class's recall and precision."""
    f1 = []
    for label in (1, 0):
        tp = np.sum((labels == label) & (predicted == label))
        fp = np.sum((labels != label) & (predicted == label))
        fn = np.sum((labels == label) & (predicted != label))
        f1.append(2 * tp / max(2 * tp + fp + fn, 1))
    tp = np.sum((labels == 1) & (predicted == 1))
    return Scores(
        macro_f1=float(np.mean(f1)),
        recall=float(tp / max(np.sum(labels == 1), 1)),
        precision=float(tp / max(np.sum(predicted == 1), 1)),
    )


def _rows(features: Features, keep: np.ndarray) -> Features:
    """The documents where `keep` is true, renumbered from 0."""
    position = np.cumsum(keep) - 1
    mask = keep[features.rows]
    return Features(
        position[features.rows[mask]],
        features.buckets[mask],
        features.values[mask],
        int(keep.sum()),
        bits=features.bits,
    )
