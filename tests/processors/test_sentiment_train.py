from __future__ import annotations

import numpy as np

from processors.sentiment_data import Example
from processors.sentiment_train import TrainConfig, calibrate, featurize, fit, sample_weights

TEXTS = {
    0: ["bad service", "awful app", "خدمة سيئة", "زفت"],
    1: ["the shop opens at nine", "meeting today", "الجو اليوم", "رايح الشغل"],
    2: ["great service", "love the app", "خدمة ممتازة", "حلو"],
}


def _examples() -> list[Example]:
    return [Example(text, label, "toy", "toy") for label, texts in TEXTS.items() for text in texts]


def test_a_tiny_model_learns_and_calibrates() -> None:
    examples = _examples()
    config = TrainConfig(bits=12, iterations=60, learning_rate=0.1)
    features = featurize(examples, bits=config.bits, chunk=5)  # several chunks
    labels = np.array([e.label for e in examples])
    model = fit(features, labels, sample_weights(examples, {}), config)
    assert (model.logits(features).argmax(axis=1) == labels).all()
    calibrated = calibrate(model, features, labels)
    assert 0.05 <= calibrated.temperature <= 5.0
    assert calibrated.bits == 12


def test_sample_weights_balance_classes_within_a_source() -> None:
    examples = [Example("a", 0, "s", "g")] * 3 + [Example("b", 2, "s", "g")]
    weights = sample_weights(examples, {})
    assert weights[:3].sum() == weights[3:].sum()
    assert weights.mean() == 1.0
