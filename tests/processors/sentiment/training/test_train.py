from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from processors.sentiment import LABELS
from processors.sentiment.e5 import E5_MODEL_ID, EncoderModel, embed
from processors.sentiment.training.data import Example
from processors.sentiment.training.train import (
    TrainConfig,
    calibrate,
    cross_validate,
    featurize,
    fit,
    out_of_fold_logits,
    sample_weights,
    train,
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
    same, logits = out_of_fold_logits(tmp_path, config=config, folds=2, log=lambda _: None)
    assert same == examples and logits.shape == (len(examples), 3)
    assert np.array_equal(logits.argmax(axis=1), predicted)


def test_the_e5_backend_trains_on_real_embeddings_beside_the_hashed_features(
    tmp_path: Path,
) -> None:
    _write_data(tmp_path)
    config = TrainConfig(bits=12, iterations=60, learning_rate=0.1)
    model, splits = train(tmp_path, config=config, encoder=embed, log=lambda _: None)
    assert isinstance(model, EncoderModel) and model.model_id == E5_MODEL_ID
    assert model.linear.weights.shape == (3, (1 << 12) + 384)
    assert model.mean.shape == (384,) and model.scale > 0
    texts = [t for label in (0, 1, 2) for t in TEXTS[label]]
    predicted = [LABELS.index(s.label) for s in model.score(texts)]
    assert predicted == [label for label in (0, 1, 2) for _ in TEXTS[label]]
    assert splits.keys() == {"dev", "report"}


def test_cross_validation_embeds_once_and_predicts_with_the_embeddings(tmp_path: Path) -> None:
    _write_data(tmp_path)
    seen: list[int] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        seen.append(len(texts))
        return embed(texts)

    config = TrainConfig(bits=12, iterations=20, learning_rate=0.1)
    examples, predicted = cross_validate(
        tmp_path, config=config, encoder=counting, folds=2, log=lambda _: None
    )
    assert sum(seen) == len(examples) == len(predicted)
    assert set(predicted.tolist()) <= {0, 1, 2}
