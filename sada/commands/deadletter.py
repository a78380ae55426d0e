"""`sada deadletter list/show/replay`: the dead-letter topic read back (sada/deadletter.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.config import Settings
from core.errors import Fatal
from core.topics import DEADLETTER
from sada import deadletter
from sada.topics import ensure_topics

app = typer.Typer(
    help="Records a stage refused: look at them, send them back.", no_args_is_help=True
)

Stage = Annotated[
    str | None, typer.Option(help="Only this stage's (score, index-mentions, ...; ingest: all).")
]
Reason = Annotated[str | None, typer.Option(help="Only those whose reason contains this text.")]
Since = Annotated[str | None, typer.Option(help="Failed at or after: ISO 8601 (UTC) or 2h, 7d.")]
Until = Annotated[str | None, typer.Option(help="Failed at or before: ISO 8601 (UTC) or 2h, 7d.")]
Limit = Annotated[int | None, typer.Option(help="Only the N most recent.")]


def _fail(message: str) -> typer.Exit:
    from sada.cli import _fail  # the one error output of `sada` (sada.cli imports this module)

    return _fail(message)


def _letters(settings: Settings) -> list[deadletter.Letter]:
    try:
        return deadletter.read(settings)
    except (Fatal, TimeoutError) as exc:
        raise _fail(str(exc)) from exc


@app.command("list")
def list_(
    stage: Stage = None,
    reason: Reason = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = None,
) -> None:
    """One line per dead letter (id, time, stage, source topic, reason), oldest first."""
    settings = Settings.from_env()
    try:
        chosen = deadletter.filters(stage, reason, since, until, limit, datetime.now(UTC))
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    letters = _letters(settings)
    found = deadletter.select(letters, chosen)
    for letter in found:
        typer.echo(deadletter.line(letter))
    typer.echo(f"{len(found)} of {len(letters)} dead letters on {settings.topic(DEADLETTER)}")


@app.command("show")
def show(letter_id: Annotated[str, typer.Argument(metavar="ID", help="partition:offset")]) -> None:
    """The whole dead letter, payload included (secrets were masked when it was written)."""
    settings = Settings.from_env()
    try:
        (letter,) = deadletter.by_ids(_letters(settings), [letter_id], settings.topic(DEADLETTER))
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(deadletter.describe(letter, deadletter.replayed(settings).get(letter.id)))


@app.command("replay")
def replay(
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="partition:offset")
    ] = None,
    stage: Stage = None,
    reason: Reason = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = None,
    fixed: Annotated[
        Path | None, typer.Option(help="The corrected record (JSON) to send instead; one ID.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing.")] = False,
) -> None:
    """Send dead letters back to the topic they came from, once (a replayed one is skipped)."""
    settings = Settings.from_env()
    try:
        chosen = deadletter.filters(stage, reason, since, until, limit, datetime.now(UTC))
        if bool(ids) == (chosen.given or limit is not None):
            raise ValueError("choose the dead letters by ID or by filters (one of the two)")
        if fixed is not None and len(ids or ()) != 1:
            raise ValueError("--fixed replaces the payload of one dead letter: give one ID")
        text = None if fixed is None else _read(fixed)
        letters = _letters(settings)
        picked = (
            deadletter.by_ids(letters, ids, settings.topic(DEADLETTER))
            if ids
            else deadletter.select(letters, chosen)
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    plans = [
        deadletter.plan(letter, settings.namespace, None if text is None else (str(fixed), text))
        for letter in picked
    ]
    try:
        if not dry_run:
            ensure_topics(settings)
        outcomes = deadletter.replay(settings, plans, dry_run=dry_run)
    except (Fatal, TimeoutError) as exc:
        raise _fail(str(exc)) from exc
    for outcome in outcomes:
        typer.echo(f"{outcome.id}: {outcome.message}")
    counts = Counter(o.status for o in outcomes)
    typer.echo(", ".join(f"{n} {status}" for status, n in counts.items()) or "no dead letters")
    refused = counts["refused"]
    if refused:
        raise _fail(f"{refused} of {len(outcomes)} dead letters cannot be replayed (see above)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ValueError(f"--fixed {path}: cannot read it: {why}") from exc
