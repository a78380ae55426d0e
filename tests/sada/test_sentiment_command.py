from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sada.commands.sentiment import app

runner = CliRunner()


def test_score_plain_lines_keeps_order() -> None:
    texts = ["I love this phone 😍", "الخدمة زفت والطلب ما وصل", "", "كيف اغير الباقة؟"]
    result = runner.invoke(app, ["score"], input="\n".join(texts) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(texts)
    assert records[0]["label"] == "positive" and records[0]["triage"] == "praise"
    assert records[1]["label"] == "negative" and records[1]["triage"] == "complaint"
    assert records[3]["triage"] == "question"
    assert all(0.0 <= r["probability"] <= 1.0 for r in records)


def test_score_reads_jsonl_text_field() -> None:
    lines = [
        json.dumps({"id": 1, "text": "worst service ever"}),
        json.dumps({"text": "خدمة ممتازة"}),
    ]
    result = runner.invoke(app, ["score"], input="\n".join(lines))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["label"] for r in records] == ["negative", "positive"]


def test_explain_adds_the_words_and_the_triage_rule() -> None:
    texts = ["الخدمة زفت والطلب ما وصل", "I love this phone"]
    result = runner.invoke(app, ["score", "--explain"], input="\n".join(texts))
    assert result.exit_code == 0, result.output
    complaint, praise = (json.loads(line) for line in result.stdout.splitlines())
    assert complaint["why"]["triage"].startswith("rule 1: problem word 'ما وصل'")
    assert complaint["why"]["words"][0][0] == "زفت"
    assert praise["why"]["words"][0][0] == "love"
    plain = runner.invoke(app, ["score"], input=texts[1])
    assert "why" not in json.loads(plain.stdout)


def test_eval_umsab_folder_without_final_newline(tmp_path: Path) -> None:
    folder = tmp_path / "arabic"
    folder.mkdir()
    (folder / "val_text.txt").write_text("خدمة سيئة جدا\nالجو اليوم\nرائع وممتاز", encoding="utf-8")
    (folder / "val_labels.txt").write_text("0\n1\n2", encoding="utf-8")
    result = runner.invoke(app, ["eval", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "arabic" in result.stdout


def test_eval_csv_prints_f_pn_per_dialect(tmp_path: Path) -> None:
    data = tmp_path / "dialects.csv"
    data.write_text(
        "tweet,sarcasm,sentiment,dialect\n"
        "الخدمة زفت,FALSE,NEG,gulf\nحلو كتير,FALSE,POS,levant\nرايح الشغل,FALSE,NEU,egypt\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["eval", "--data", str(data)])
    assert result.exit_code == 0, result.output
    for dialect in ("gulf", "levant", "egypt", "F-PN"):
        assert dialect in result.stdout


def test_eval_reports_when_nothing_is_found(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--data", str(tmp_path)])
    assert result.exit_code == 1


def test_a_missing_transformer_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    result = runner.invoke(app, ["score", "--model-dir", str(missing)], input="hello\n")
    assert result.exit_code == 2
    assert f"transformer model directory {missing} not found" in result.output


def test_score_with_the_e5_backend() -> None:
    texts = ["worst service ever, still waiting for my refund", "خدمة ممتازة وسريعة"]
    result = runner.invoke(app, ["score", "--backend", "e5"], input="\n".join(texts))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["label"], r["model"]) for r in records] == [
        ("negative", "sada-e5-linear-v1"),
        ("positive", "sada-e5-linear-v1"),
    ]


def test_a_missing_e5_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.npz"
    result = runner.invoke(app, ["eval", "--backend", "e5", "--model", str(missing), "--data", "."])
    assert result.exit_code == 2
    assert "not found" in result.output
