from __future__ import annotations

from pathlib import Path

import numpy as np

from processors.sentiment_data import Example
from processors.sentiment_train import (
    TrainConfig,
    calibrate,
    cross_validate,
    featurize,
    fit,
    sample_weights,
)

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


def _write_data(root: Path) -> None:
    texts = [t for label in (0, 1, 2) for t in TEXTS[label]]
    labels = [str(label) for label in (0, 1, 2) for _ in TEXTS[label]]
    for folder, splits in (("umsab/english", ("train", "val")), ("tweeteval_en", ("val", "test"))):
        (root / folder).mkdir(parents=True)
        for split in splits:
            suffix = "" if split == "train" else f" {split} {folder}"
            (root / folder / f"{split}_text.txt").write_text(
                "\n".join(f"{t}{suffix}" for t in texts), encoding="utf-8"
            )
            (root / folder / f"{split}_labels.txt").write_text("\n".join(labels), encoding="utf-8")
    rows = [
        f"{t} {i},FALSE,{('NEG', 'NEU', 'POS')[int(y)]},gulf"
        for i, (t, y) in enumerate(zip(texts, labels, strict=True))
    ]
    for folder, name in (("arsarcasm_v2", "train.csv"), ("ajgt", "ajgt.csv")):
        (root / folder).mkdir()
        (root / folder / name).write_text(
            "tweet,sarcasm,sentiment,dialect\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )


def test_cross_validation_predicts_every_training_text_once(tmp_path: Path) -> None:
    _write_data(tmp_path)
    config = TrainConfig(bits=12, iterations=20, learning_rate=0.1)
    examples, predicted = cross_validate(tmp_path, config=config, folds=2, log=lambda _: None)
    assert len(examples) == len(predicted) > 0
    assert set(predicted.tolist()) <= {0, 1, 2}
    assert not any("val umsab" in e.text for e in examples)  # the report split stays out
