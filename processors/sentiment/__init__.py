"""Sentiment of a mention: label, calibrated probability and the model that decided.

Runtime modules: `linear` (the default model), `e5` (the accurate backend, optional extra),
`transformer` (a model the user brings), `features` and `lexicon` (what the linear models read),
`scorer` (which backend scores), `brand` (polarity towards one brand), `explain` (the words
that carried a label). `training` (datasets, metrics, training) is for `sada sentiment train`
and `eval` only: nothing here imports it.
"""

from processors.sentiment.brand import score_for_brand
from processors.sentiment.linear import LABELS, MODEL_ID, MODEL_PATH, LinearModel, default_model
from processors.sentiment.scorer import Scorer, keeping_up, load_scorer, score

__all__ = [
    "LABELS",
    "MODEL_ID",
    "MODEL_PATH",
    "LinearModel",
    "Scorer",
    "default_model",
    "keeping_up",
    "load_scorer",
    "score",
    "score_for_brand",
]
