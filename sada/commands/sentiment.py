"""`sada sentiment train | eval | score`: build, measure and try the sentiment model."""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer

from core.config import SentimentBackend
from processors.sentiment import MODEL_PATH, LinearModel, Scorer, load_scorer, score
from processors.sentiment.explain import why
from processors.triage import triage_why

app = typer.Typer(help="Train, evaluate and run the sentiment model.", no_args_is_help=True)

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="Model artifact (.npz); defaults to the backend's shipped one."),
]
BackendOption = Annotated[
    SentimentBackend,
    typer.Option(
        help="linear: fast, the default. e5: more accurate and about 500x slower, needs the "
        "`e5` extra (as SADA_SENTIMENT_BACKEND)."
    ),
]
ModelDirOption = Annotated[
    Path | None,
    typer.Option(
        "--model-dir",
        help="A local transformer model directory (the optional backend, as "
        "SADA_SENTIMENT_MODEL_DIR) instead of the linear model.",
    ),
]


def _scorer(backend: SentimentBackend, model_path: Path | None, model_dir: Path | None) -> Scorer:
    """The backend the options name; a clear error, not a traceback, when it cannot load."""
    try:
        if model_dir or not model_path:
            return load_scorer(backend, model_dir)
        if backend == "e5":
            from processors.sentiment.e5 import EncoderModel

            return EncoderModel.load(model_path)
        return LinearModel.load(model_path)
    except (FileNotFoundError, ImportError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc


@app.command()
def train(
    data: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, help="../shared/data/sentiment-style folder."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the trained model (.npz); defaults to the shipped one."),
    ] = None,
    backend: BackendOption = "linear",
) -> None:
    """Train on ../shared/data/sentiment-style data, calibrate, save, and print validation.

    The e5 backend first embeds every text (about twelve minutes on two cores)."""
    # Imported here: the e5 module pulls in language detection, and training is no part of
    # the runtime, so neither loads when any other `sada` command starts.
    from processors.sentiment.e5 import E5_MODEL_PATH, embed
    from processors.sentiment.training.data import REPORT, Example, report_lines
    from processors.sentiment.training.train import train as run_training

    model, splits = run_training(
        data,
        encoder=embed if backend == "e5" else None,
        log=lambda line: typer.echo(line, err=True),
    )
    out = out or (E5_MODEL_PATH if backend == "e5" else MODEL_PATH)
    model.save(out)
    typer.echo(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB)", err=True)
    by_source: dict[str, list[Example]] = defaultdict(list)
    for example in splits[REPORT]:
        by_source[example.source].append(example)
    for source, examples in sorted(by_source.items()):
        for line in report_lines(model, f"{source} validation (never trained on)", examples):
            typer.echo(line)


@app.command(name="eval")
def evaluate(
    data: Annotated[
        Path, typer.Option(exists=True, help="UMSAB-format folders and/or sentiment CSVs.")
    ],
    model_path: ModelOption = None,
    model_dir: ModelDirOption = None,
    backend: BackendOption = "linear",
    heldout: Annotated[
        bool, typer.Option(help="Keep only the CSV rows that training held out for reporting.")
    ] = False,
) -> None:
    """Print macro-F1 and per-class F1 per set, and F-PN per dialect for CSVs that have one."""
    from processors.sentiment.training.data import find_eval_sets, held_out, report_lines

    model = _scorer(backend, model_path, model_dir)
    found = False
    for name, examples, is_csv in find_eval_sets(data):
        if heldout and is_csv:
            examples = [e for e in examples if held_out(e)]
        found = True
        for line in report_lines(model, name, examples):
            typer.echo(line)
    if not found:
        typer.echo(f"no {{split}}_text.txt / {{split}}_labels.txt or CSV under {data}", err=True)
        raise typer.Exit(code=1)


@app.command(name="score")
def score_command(
    model_path: ModelOption = None,
    model_dir: ModelDirOption = None,
    backend: BackendOption = "linear",
    batch: Annotated[int, typer.Option(min=1, help="Texts scored per model call.")] = 1000,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Add `why`: the words that carried the sentiment (one more scoring per word) "
            "and the triage rule that fired.",
        ),
    ] = False,
) -> None:
    """Read one text per line (or JSONL with a `text` field) on stdin; write one JSON per line."""
    model = _scorer(backend, model_path, model_dir)
    if isinstance(sys.stdin, io.TextIOWrapper):  # bad bytes become U+FFFD, not a crash mid-file
        sys.stdin.reconfigure(errors="replace")
    lines = (line.rstrip("\r\n") for line in sys.stdin)
    for chunk in _chunks(lines, batch):
        texts = [_text_of(line) for line in chunk]
        for text, sentiment in zip(texts, score(texts, model=model), strict=True):
            label, rule = triage_why(text, sentiment)
            record: dict[str, object] = {
                "label": sentiment.label,
                "probability": sentiment.probability,
                "triage": label,
                "model": sentiment.model,
            }
            if explain:
                record["why"] = why(text, model, rule)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _text_of(line: str) -> str:
    """A JSON object's `text` field, or the line itself when it is not a JSON object."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return line
        if isinstance(record, dict) and isinstance(record.get("text"), str):
            return record["text"]
    return line


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
