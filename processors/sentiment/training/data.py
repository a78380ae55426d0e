"""Labelled sentiment data on disk, the deterministic splits, and the metrics we report.

Formats read: UMSAB / TweetEval folders (`{split}_text.txt` + `{split}_labels.txt`, labels
0 negative, 1 neutral, 2 positive) and CSV with a `tweet` or `text` column, a `sentiment` column
(NEG/NEU/POS, Positive/Negative, ...) and optionally `dialect` (ArSarcasm-v2, AJGT).

Splits are decided by a hash of the normalised text, never by line position: UMSAB label files
cycle 0,1,2, so anything positional would leak the label.
"""

from __future__ import annotations

import csv
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.text import normalize
from processors.sentiment.linear import LABELS
from processors.sentiment.scorer import Scorer

_LABEL_CODES = {
    "neg": 0, "negative": 0, "0": 0,
    "neu": 1, "neutral": 1, "1": 1,
    "pos": 2, "positive": 2, "2": 2,
}  # fmt: skip
REPORT, DEV, TRAIN = "report", "dev", "train"
HOLDOUT_PERCENT = 15  # of ArSarcasm-v2 and AJGT, kept for reporting


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    source: str
    group: str


def read_lines(path: Path) -> list[str]:
    """Lines of a text file; a missing final newline and CRLF endings are both fine."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_umsab(folder: Path, split: str, *, source: str | None = None) -> list[Example]:
    """One split of a UMSAB-format folder; the folder name (language) becomes the group."""
    texts = read_lines(folder / f"{split}_text.txt")
    labels = read_lines(folder / f"{split}_labels.txt")
    if len(texts) != len(labels):
        raise ValueError(
            f"{folder}: {split}_text.txt has {len(texts)} lines but {split}_labels.txt has "
            f"{len(labels)}; the files must be line-aligned"
        )
    return [
        Example(text, _LABEL_CODES[label.strip()], source or folder.name, folder.name)
        for text, label in zip(texts, labels, strict=True)
    ]


def read_csv(path: Path, *, source: str | None = None) -> list[Example]:
    """ArSarcasm-v2 / AJGT style CSV; the `dialect` column, when present, becomes the group."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "sentiment" not in rows[0]:
        raise ValueError(f"{path}: expected a CSV with a 'sentiment' column")
    text_key = "tweet" if "tweet" in rows[0] else "text"
    return [
        Example(
            row[text_key].strip('"'),
            _LABEL_CODES[row["sentiment"].strip().lower()],
            source or path.stem,
            row.get("dialect") or path.stem,
        )
        for row in rows
    ]


def split_of(text: str, *, report_percent: int, dev_percent: int) -> str:
    """Which split a text belongs to, from a stable hash of its normalised form."""
    bucket = zlib.crc32(normalize(text).encode("utf-8")) % 100
    if bucket < report_percent:
        return REPORT
    return DEV if bucket < report_percent + dev_percent else TRAIN


def load_training_data(root: Path) -> dict[str, list[Example]]:
    """Every shared source split three ways: train, dev (calibration, choices), report.

    UMSAB `val` is the report split for the eight languages and is never trained on; ArSarcasm-v2
    and AJGT keep 15% aside for reporting; TweetEval is only trained on (and calibrated). A tweet
    that also sits in a report split is dropped from train and dev.
    """
    splits: dict[str, list[Example]] = {TRAIN: [], DEV: [], REPORT: []}
    for folder in sorted(p for p in (root / "umsab").iterdir() if p.is_dir()):
        for example in read_umsab(folder, "train", source="umsab"):
            splits[split_of(example.text, report_percent=0, dev_percent=12)].append(example)
        splits[REPORT] += read_umsab(folder, "val", source="umsab")
    for path in (root / "arsarcasm_v2" / "train.csv", root / "ajgt" / "ajgt.csv"):
        for example in read_csv(path, source=path.parent.name):
            splits[split_of(example.text, report_percent=HOLDOUT_PERCENT, dev_percent=12)].append(
                example
            )
    tweeteval = root / "tweeteval_en"
    for split in ("val", "test"):
        for example in read_umsab(tweeteval, split, source="tweeteval"):
            splits[split_of(example.text, report_percent=0, dev_percent=8)].append(example)
    reported = {_key(e.text) for e in splits[REPORT]}
    for name in (TRAIN, DEV):
        splits[name] = [e for e in splits[name] if _key(e.text) not in reported]
    return splits


def _key(text: str) -> str:
    """Identity of a tweet across datasets (UMSAB, TweetEval and ArSarcasm-v2 share tweets)."""
    return " ".join(w for w in normalize(text).split() if not w.startswith(("@", "http")))


def find_eval_sets(path: Path) -> Iterable[tuple[str, list[Example], bool]]:
    """Evaluation sets under `path` as (name, examples, is_csv).

    UMSAB-format folders are pooled per split, each folder (language) a group, so one report
    shows every language and their mean.
    """
    if path.is_file():
        yield str(path), read_csv(path), True
        return
    folders = sorted({p.parent for p in path.rglob("*_text.txt")})
    for split in ("val", "test"):
        examples = [
            example
            for folder in folders
            if (folder / f"{split}_text.txt").exists()
            for example in read_umsab(folder, split)
        ]
        if examples:
            yield f"{path} ({split})", examples, False
    for csv_path in sorted(path.rglob("*.csv")):
        yield str(csv_path), read_csv(csv_path), True


def f1_per_class(truth: Sequence[int], predicted: Sequence[int]) -> list[float]:
    """F1 of each of the three classes (0 when a class is neither present nor predicted)."""
    y, p = np.asarray(truth), np.asarray(predicted)
    scores = []
    for label in range(len(LABELS)):
        tp = float(np.sum((y == label) & (p == label)))
        denominator = float(np.sum(y == label) + np.sum(p == label))
        scores.append(2 * tp / denominator if denominator else 0.0)
    return scores


def macro_f1(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Mean F1 over the classes present in `truth` (AJGT has no neutral class)."""
    present = set(np.asarray(truth).tolist())
    scores = f1_per_class(truth, predicted)
    return float(np.mean([scores[label] for label in sorted(present)]))


def f_pn(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Mean F1 of the positive and negative classes (the WANLP-2021 ArSarcasm metric)."""
    scores = f1_per_class(truth, predicted)
    return (scores[0] + scores[2]) / 2


def held_out(example: Example) -> bool:
    """True for a CSV row that training kept aside for reporting."""
    return split_of(example.text, report_percent=HOLDOUT_PERCENT, dev_percent=0) == REPORT


def report_lines(model: Scorer, title: str, examples: Sequence[Example]) -> Iterator[str]:
    """Macro-F1 and per-class F1 of each group (language or dialect), then their average."""
    labels = [s.label for s in model.score([e.text for e in examples])]
    predicted = np.array([LABELS.index(label) for label in labels], dtype=np.int64)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        groups[example.group].append(index)
    yield f"## {title}: {len(examples)} texts"
    yield "group        n      macro-F1  F-PN   " + "  ".join(f"F1-{label[:3]}" for label in LABELS)
    macros = []
    for group, indexes in sorted(groups.items()):
        truth = [examples[i].label for i in indexes]
        guess = predicted[indexes].tolist()
        macros.append(macro_f1(truth, guess))
        per_class = "  ".join(f"{value:7.3f}" for value in f1_per_class(truth, guess))
        yield f"{group:<12} {len(indexes):<6} {macros[-1]:8.3f}  {f_pn(truth, guess):.3f}  {per_class}"
    if len(groups) > 1:
        truth, guess = [e.label for e in examples], predicted.tolist()
        yield f"{'mean':<12} {'':<6} {sum(macros) / len(macros):8.3f}  (of the groups above)"
        yield f"{'all':<12} {len(examples):<6} {macro_f1(truth, guess):8.3f}  {f_pn(truth, guess):.3f}"
