"""`sada backtest`: the pipeline's detector over a count history, scored rows and a summary."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sada.commands.backtest import (
    Row,
    backtest,
    bucket_seconds,
    read_series,
    read_windows,
    run,
    summarise,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
NAB = SHARED / "data" / "spikes" / "nab_realtweets_dev"
START = datetime(2026, 3, 2, tzinfo=UTC)


def write_csv(path: Path, values: list[float], step: timedelta = timedelta(minutes=5)) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "value"])
        for i, value in enumerate(values):
            out.writerow([(START + i * step).strftime("%Y-%m-%d %H:%M:%S"), value])
    return path


def series(n: int, spike_at: int | None = None, seed: int = 5) -> list[float]:
    rng = random.Random(seed)
    values = [float(max(0, round(rng.gauss(40, math.sqrt(40))))) for _ in range(n)]
    if spike_at is not None:
        values[spike_at : spike_at + 3] = [600.0, 900.0, 300.0]
    return values


def test_bucket_size_is_inferred(tmp_path: Path) -> None:
    five = read_series(write_csv(tmp_path / "a.csv", [1, 2, 3, 4]))
    one = read_series(write_csv(tmp_path / "b.csv", [1, 2, 3, 4], timedelta(minutes=1)))
    assert (bucket_seconds(five), bucket_seconds(one)) == (300, 60)
    assert five[0].at == START  # a time without zone is UTC


def test_spike_row_is_flagged_and_scores_are_probabilities(tmp_path: Path) -> None:
    spike = 4 * 288
    rows = run(read_series(write_csv(tmp_path / "s.csv", series(5 * 288, spike))))
    assert [i for i, r in enumerate(rows) if r.alert] == [spike]
    assert all(0.0 <= r.anomaly_score <= 1.0 for r in rows)
    assert rows[spike].anomaly_score > 0.5 > max(r.anomaly_score for r in rows[: spike - 1])


def test_summary_counts_caught_late_and_false(tmp_path: Path) -> None:
    at = [START + timedelta(hours=h) for h in range(10)]
    rows = [Row(t.isoformat(), t, 1.0, 0.0, int(h in (2, 7))) for h, t in enumerate(at)]
    summary = summarise(rows, [(at[1], at[3]), (at[4], at[5])])
    assert (summary.alerts, summary.caught, summary.windows, summary.false_alerts) == (2, 1, 2, 1)
    assert summary.delays_minutes == [60.0]
    assert summary.quiet_weeks == pytest.approx(5 / 168)  # hours 0 and 6-9 lie outside both
    assert "caught 1/2" in "\n".join(summary.lines())
    assert "false alerts 1 (33.6 per week outside the windows)" in "\n".join(summary.lines())


def test_windows_file_in_nab_or_plain_form(tmp_path: Path) -> None:
    nab = tmp_path / "nab.json"
    nab.write_text(
        json.dumps({"s.csv": [["2026-03-02 00:00:00.000000", "2026-03-02 01:00:00.000000"]]})
    )
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([["2026-03-02T00:00:00Z", "2026-03-02T01:00:00Z"]]))
    assert read_windows(nab, Path("s.csv")) == read_windows(plain, Path("s.csv"))
    assert read_windows(nab, Path("other.csv")) == []


def test_command_writes_scored_csv_and_prints_summary(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(backtest)
    source = write_csv(tmp_path / "s.csv", series(5 * 288, 4 * 288))
    windows = tmp_path / "w.json"
    day4 = START + timedelta(days=4)
    windows.write_text(
        json.dumps(
            [[(day4 - timedelta(hours=2)).isoformat(), (day4 + timedelta(hours=2)).isoformat()]]
        )
    )
    out = tmp_path / "out" / "s.csv"
    result = CliRunner().invoke(app, [str(source), "--output", str(out), "--windows", str(windows)])
    assert result.exit_code == 0, result.output
    assert "1 alerts in 0.7 weeks" in result.output and "caught 1/1" in result.output
    with out.open() as f:
        header = next(csv.reader(f))
    assert header == ["timestamp", "value", "anomaly_score", "alert"]


def test_missing_columns_are_explained(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,count\n2026-03-02 00:00:00,1\n")
    with pytest.raises(typer.BadParameter, match="timestamp,value"):
        read_series(bad)


@pytest.mark.skipif(not NAB.exists(), reason="needs ../shared (NAB Twitter dev series)")
def test_nab_dev_series_score() -> None:
    """The calibration set: one fixed configuration over the five dev series, NAB standard profile."""
    spec = importlib.util.spec_from_file_location("nab_score", SHARED / "tools" / "nab_score.py")
    assert spec and spec.loader
    nab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nab)
    windows = json.loads((NAB / "windows.json").read_text())
    total = null = perfect = 0.0
    for name, spans in windows.items():
        rows = run(read_series(NAB / name))
        raw, _, _, n = nab.score_series(
            [nab._key(r.timestamp) for r in rows],
            [bool(r.alert) for r in rows],
            spans,
            1.0,
            0.11,
            1.0,
        )
        total, null, perfect = total + raw, null - n, perfect + n
    assert 100 * (total - null) / (perfect - null) >= 85  # 89.5 with the defaults
