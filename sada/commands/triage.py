"""`sada triage train`: cross-validate and train the English complaint model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from processors.triage_model import MODEL_PATH

app = typer.Typer(help="Train the triage complaint model.", no_args_is_help=True)


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Option(help="CSV with text, complaint (1/0) and domain.")],
    out: Annotated[Path, typer.Option(help="Where to write the model.")] = MODEL_PATH,
    by_domain: Annotated[
        bool, typer.Option(help="Also cross-validate leaving one domain out at a time.")
    ] = True,
) -> None:
    """Print 5-fold (and leave-one-domain-out) figures, then train on all of DATA."""
    from processors.sentiment.training.complaints import (  # training stays off the run path
        load_csv,
        out_of_fold,
        scores,
        stratified_folds,
        train,
    )

    try:
        labelled = load_csv(data)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    five = scores(labelled.labels, out_of_fold(labelled, stratified_folds(labelled.labels)) >= 0.5)
    typer.echo(
        f"5-fold: macro-F1 {five.macro_f1:.3f}, complaint recall {five.recall:.3f}, "
        f"precision {five.precision:.3f}"
    )
    if by_domain:
        domains, folds = np.unique(labelled.domains, return_inverse=True)
        predicted = out_of_fold(labelled, folds) >= 0.5
        for number, domain in enumerate(domains):
            mine = folds == number
            complaints, others = mine & (labelled.labels == 1), mine & (labelled.labels == 0)
            typer.echo(
                f"left out {domain}: {int(complaints.sum())} complaints, "
                f"{_share(predicted[complaints])} found; {int(others.sum())} others, "
                f"{_share(~predicted[others])} kept out"
            )
        overall = scores(labelled.labels, predicted)
        typer.echo(
            f"leave-one-domain-out: macro-F1 {overall.macro_f1:.3f}, "
            f"complaint recall {overall.recall:.3f}"
        )
    train(labelled).save(out)
    typer.echo(f"wrote {out}")


def _share(hits: np.ndarray) -> str:
    return f"{np.mean(hits):.3f}" if len(hits) else "-"
