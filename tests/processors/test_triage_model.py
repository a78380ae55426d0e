from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.sentiment.features import extract
from processors.sentiment.training.complaints import (
    fit,
    load_csv,
    scores,
    stratified_folds,
    with_threshold,
)
from processors.triage_model import ComplaintModel, default_model

COMPLAINTS = [
    "@Acme my order never came, terrible",
    "@Acme charged me twice, fix it",
    "@Acme worst support, still waiting",
    "@Acme the app keeps failing, awful",
]
OTHERS = [
    "lovely sunny day at the beach",
    "@Acme thanks, great help today",
    "watching the match tonight with friends",
    "@Acme what time do you open?",
]


def test_the_shipped_model_separates_complaints_from_other_tweets() -> None:
    model = default_model()
    probabilities = model.probabilities(
        ["@Verizon you charged me twice and nobody answers the phone", "happy birthday mum!"]
    )
    assert probabilities[0] >= 0.5 > probabilities[1]
    assert model.probabilities([]).shape == (0,)


def test_words_names_the_words_that_read_like_a_complaint() -> None:
    words = default_model().words("@Verizon worst service ever, still no signal")
    assert "worst" in words and len(words) <= 2
    assert default_model().words("") == []


def test_words_of_a_batch_are_each_words_own_scores_ranked() -> None:
    shipped = default_model()
    model = ComplaintModel(weights=shipped.weights, bias=shipped.bias)  # nothing known yet
    texts = ["@Verizon worst service ever, still no signal", "charged twice, awful", "ok ok"]
    found = model.words_batch(texts)
    for text, words in zip(texts, found, strict=True):
        unique = list(dict.fromkeys(text.split()))
        own = {w: float(model.logits(extract([w], bits=model.bits))[0]) for w in unique}
        ranked = sorted((w for w in unique if own[w] > model.bias), key=lambda w: -own[w])
        assert words == ranked[:2]
    assert found[0] and model.words_batch(texts) == found  # again, from the kept scores
    assert set(model.known) == {w for text in texts for w in text.split()}


def test_fit_learns_and_a_saved_model_loads_the_same(tmp_path: Path) -> None:
    texts = COMPLAINTS + OTHERS
    labels = np.array([1] * len(COMPLAINTS) + [0] * len(OTHERS))
    model = fit(extract(texts, bits=12), labels, bits=12, l2=1e-4, iterations=100)
    assert scores(labels, model.probabilities(texts) >= 0.5).macro_f1 == 1.0
    model.save(tmp_path / "m.npz")
    loaded = ComplaintModel.load(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.probabilities(texts), model.probabilities(texts), atol=1e-2)


def test_with_threshold_moves_the_threshold_to_one_half() -> None:
    model = ComplaintModel(weights=np.zeros(1 << 10, dtype=np.float32), bias=0.0)
    assert with_threshold(model, 0.3).probabilities(["anything"])[0] == pytest.approx(0.7)


def test_scores_and_folds() -> None:
    labels = np.array([1, 1, 0, 0])
    found = scores(labels, np.array([1, 0, 0, 0]))
    assert (found.recall, found.precision) == (0.5, 1.0)
    assert found.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    folds = stratified_folds(np.array([1] * 5 + [0] * 10), k=5)
    assert all(np.sum((folds == k) & (np.arange(15) < 5)) == 1 for k in range(5))


def test_a_bad_label_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,text,complaint,domain\n1,fine,0,food\n2,broken,yes,food\n")
    with pytest.raises(ValueError, match=r"bad.csv:3: need text and complaint 0 or 1"):
        load_csv(path)


def test_missing_model_says_how_to_train_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="sada triage train"):
        ComplaintModel.load(tmp_path / "none.npz")
