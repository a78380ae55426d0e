"""`sada backtest`: replay a count history through the live detector and see what it would have said.

The detector and its default configuration are the pipeline's own (processors.detect); only the
bucket size is taken from the file. Each row is fed as one bucket of `value` mentions, so a row
is flagged exactly when the pipeline would have sent an alert that opens or escalates.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.config import DetectionConfig
from processors.detect import Detector, Observation
from processors.detect_state import BrandState

Window = tuple[datetime, datetime]
_WEEK = 7 * 86_400


@dataclass(frozen=True, slots=True)
class Row:
    timestamp: str  # as read, written back unchanged
    at: datetime
    value: float
    anomaly_score: float = 0.0
    alert: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    weeks: float
    alerts: int
    windows: int
    caught: int
    delays_minutes: list[float]  # first alert after each caught window's start
    false_alerts: int  # alert rows outside every window
    quiet_weeks: float  # time outside every window: the false-alarm rate's denominator

    def lines(self) -> list[str]:
        out = [
            f"{self.alerts} alerts in {self.weeks:.1f} weeks: {self.alerts / max(self.weeks, 1e-9):.1f} per week"
        ]
        if self.windows:
            delay = (
                f"median delay {statistics.median(self.delays_minutes):.0f} min"
                if self.delays_minutes
                else "no delay"
            )
            rate = self.false_alerts / max(self.quiet_weeks, 1e-9)
            out.append(
                f"incidents caught {self.caught}/{self.windows} ({delay}); false alerts "
                f"{self.false_alerts} ({rate:.1f} per week outside the windows)"
            )
        return out


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without zone is UTC (history exports rarely carry one)."""
    at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def read_series(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"timestamp", "value"} - set(reader.fieldnames or [])
        if missing:
            raise typer.BadParameter(
                f"{path}: needs columns timestamp,value; missing {sorted(missing)}"
            )
        return [Row(r["timestamp"], parse_time(r["timestamp"]), float(r["value"])) for r in reader]


def bucket_seconds(rows: Sequence[Row]) -> int:
    """The series' bucket size: the most common step between consecutive rows."""
    steps = [int((b.at - a.at).total_seconds()) for a, b in zip(rows, rows[1:], strict=False)]
    steps = [s for s in steps if s > 0]
    if not steps:
        raise typer.BadParameter("need at least two rows with increasing timestamps")
    return statistics.mode(steps)


def run(
    rows: Sequence[Row], *, name: str = "series", config: DetectionConfig | None = None
) -> list[Row]:
    """Score every row with the detector as the pipeline runs it, one bucket at a time."""
    config = config or DetectionConfig(bucket_seconds=bucket_seconds(rows))
    detector, state = Detector(config), BrandState()
    out = []
    for row in rows:
        steps = detector.add(
            state, Observation("backtest", name, row.at.timestamp(), count=row.value)
        )
        alert = int(any(s.status != "resolve" for s in steps))
        out.append(Row(row.timestamp, row.at, row.value, round(detector.score(state), 4), alert))
    return out


def summarise(rows: Sequence[Row], windows: Iterable[Window] = ()) -> Summary:
    windows = list(windows)
    alerts = [r.at for r in rows if r.alert]
    delays = []
    for start, end in windows:
        hits = [at for at in alerts if start <= at <= end]
        if hits:
            delays.append((hits[0] - start).total_seconds() / 60)
    quiet = [not any(s <= r.at <= e for s, e in windows) for r in rows]
    outside = sum(1 for r, q in zip(rows, quiet, strict=True) if r.alert and q)
    span = (rows[-1].at - rows[0].at).total_seconds() if rows else 0.0
    step = span / (len(rows) - 1) if len(rows) > 1 else 0.0
    return Summary(
        span / _WEEK,
        len(alerts),
        len(windows),
        len(delays),
        delays,
        outside,
        sum(quiet) * step / _WEEK,
    )


def read_windows(path: Path, series: Path) -> list[Window]:
    """Labelled windows: a list of [start, end], or NAB's {file name: [[start, end], ...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get(series.name, [])
    return [(parse_time(a), parse_time(b)) for a, b in data]


def write_series(path: Path, rows: Iterable[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "value", "anomaly_score", "alert"])
        for r in rows:
            out.writerow([r.timestamp, f"{r.value:g}", r.anomaly_score, r.alert])


def backtest(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with timestamp,value.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the scored CSV.")],
    windows: Annotated[
        Path | None,
        typer.Option("--windows", exists=True, dir_okay=False, help="Labelled windows JSON."),
    ] = None,
) -> None:
    """Run the pipeline's detector over a count history; write per-row scores and alerts."""
    rows = run(read_series(file), name=file.stem)
    write_series(output, rows)
    labelled = read_windows(windows, file) if windows else []
    for line in summarise(rows, labelled).lines():
        typer.echo(line)
