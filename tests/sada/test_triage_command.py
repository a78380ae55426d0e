from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from processors.triage_model import ComplaintModel
from sada.commands.triage import app

runner = CliRunner()


def test_train_reports_cross_validation_and_writes_a_model(tmp_path: Path) -> None:
    rows = [f"{i},@Acme my order {i} never came and support is useless,1,food" for i in range(10)]
    rows += [f"{i},lovely walk {i} in the park today,0,random_tweet" for i in range(10)]
    data = tmp_path / "train.csv"
    data.write_text("id,text,complaint,domain\n" + "\n".join(rows) + "\n")
    out = tmp_path / "complaint.npz"
    result = runner.invoke(app, ["--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5-fold: macro-F1 1.000, complaint recall 1.000" in result.output
    assert "left out food: 10 complaints" in result.output
    assert ComplaintModel.load(out).probabilities(["@Acme my order never came"])[0] >= 0.5


def test_train_with_a_bad_file_says_what_is_wrong(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "missing.csv" in result.output
