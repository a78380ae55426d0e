"""The bring-your-own transformer backend on a real (tiny, untrained) checkpoint directory.

Runs where the optional `transformer` extra (torch, transformers) is installed; `make test`
does not install it (torch is several GB), so there these tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.sentiment import LABELS
from processors.sentiment.transformer import TransformerScorer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

TEXTS = ["worst service ever", "the shop opens at nine", "I love this phone", "ما وصل الطلب"]


def _checkpoint(path: Path, id2label: dict[int, str]) -> Path:
    """save_pretrained() of a two-layer BERT with a word-level vocabulary of TEXTS."""
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for word in " ".join(TEXTS).split():
        vocab.setdefault(word, len(vocab))
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]"
    )
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_a_checkpoint_with_its_own_label_order_is_read_in_ours(tmp_path: Path) -> None:
    reversed_labels = {0: "positive", 1: "neutral", 2: "negative"}
    model = TransformerScorer(_checkpoint(tmp_path / "my-model", reversed_labels))
    raw = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "my-model")
    encoded = model._tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = raw(**encoded).logits.softmax(dim=-1).numpy()
    ours = model.probabilities(TEXTS)
    assert np.allclose(ours, theirs[:, ::-1], atol=1e-5)  # their positive is our last column
    results = model.score(TEXTS)
    assert [r.label for r in results] == [LABELS[i] for i in ours.argmax(axis=1)]
    assert {r.model for r in results} == {"transformer:my-model"}


def test_generic_label_names_are_read_as_negative_neutral_positive(tmp_path: Path) -> None:
    generic = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    model = TransformerScorer(_checkpoint(tmp_path / "generic", generic), batch_size=3)
    probabilities = model.probabilities(TEXTS)  # two batches
    assert probabilities.shape == (4, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
