"""Optional backend: a sequence-classification transformer from a local directory.

For users who bring their own fine-tuned model (e.g. an XLM-T checkpoint they downloaded
themselves). It loads only from a local path (`local_files_only=True`), never from a hub at run
time, and needs the optional `transformers` and `torch` packages, imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from core.events import Sentiment, SentimentLabel
from processors.sentiment.linear import LABELS, sentiments


class TransformerScorer:
    """A batch of texts in, Sentiments (or class probabilities) out, like the built-in models."""

    def __init__(self, path: Path, *, batch_size: int = 32) -> None:
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"transformer model directory {path} not found or has no config.json; point the "
                "setting at a local directory saved with save_pretrained(), or unset it to use "
                "the built-in model"
            )
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ImportError(
                "the transformer sentiment backend needs `transformers` and `torch`; install the "
                "optional extra (pip install 'sada[transformer]') or unset the model path"
            ) from exc
        self._torch: Any = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True
        ).eval()
        self._labels = _label_names(self._model.config.id2label)
        self._batch_size = batch_size
        self.model_id = f"transformer:{path.name}"

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (len(texts), 3), columns in Sada's label order."""
        out = np.zeros((len(texts), len(LABELS)))
        columns = [LABELS.index(label) for label in self._labels]
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            encoded = self._tokenizer(
                batch, padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            with self._torch.no_grad():
                rows = self._model(**encoded).logits.softmax(dim=-1).tolist()
            out[start : start + len(batch), columns] = rows
        return out

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return sentiments(self.probabilities(texts), self.model_id)


def _label_names(id2label: dict[int, str]) -> list[SentimentLabel]:
    """Map the checkpoint's labels onto ours; generic LABEL_0..2 are read as neg/neu/pos."""
    names = [str(id2label[i]).lower() for i in sorted(id2label)]
    if set(names) <= set(LABELS):
        return cast(list[SentimentLabel], names)
    if len(names) == 3:
        return cast(list[SentimentLabel], list(LABELS))
    raise ValueError(f"transformer labels {names} cannot be mapped to {LABELS}")
