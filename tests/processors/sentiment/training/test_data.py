from __future__ import annotations

from pathlib import Path

import pytest

from processors.sentiment.training.data import (
    DEV,
    REPORT,
    TRAIN,
    f1_per_class,
    f_pn,
    macro_f1,
    read_csv,
    read_lines,
    read_umsab,
    split_of,
)


def test_read_lines_without_final_newline_and_with_crlf(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("one\r\ntwo\nثلاثة".encode())
    assert read_lines(tmp_path / "a.txt") == ["one", "two", "ثلاثة"]
    (tmp_path / "b.txt").write_text("one\ntwo\n", encoding="utf-8")
    assert read_lines(tmp_path / "b.txt") == ["one", "two"]


def test_umsab_files_must_align(tmp_path: Path) -> None:
    (tmp_path / "val_text.txt").write_text("a\nb", encoding="utf-8")
    (tmp_path / "val_labels.txt").write_text("0\n1\n2", encoding="utf-8")
    with pytest.raises(ValueError, match="line-aligned"):
        read_umsab(tmp_path, "val")


def test_csv_labels_and_dialects(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        'tweet,sarcasm,sentiment,dialect\n"""حلو""",FALSE,POS,gulf\nسيء,TRUE,NEG,egypt\n',
        encoding="utf-8",
    )
    examples = read_csv(path)
    assert [(e.text, e.label, e.group) for e in examples] == [
        ("حلو", 2, "gulf"),
        ("سيء", 0, "egypt"),
    ]


def test_split_depends_on_text_not_position() -> None:
    texts = [f"tweet number {i}" for i in range(400)]
    first = [split_of(t, report_percent=15, dev_percent=12) for t in texts]
    again = [split_of(t, report_percent=15, dev_percent=12) for t in reversed(texts)]
    assert first == list(reversed(again))
    assert {REPORT, DEV, TRAIN} == set(first)
    assert split_of("حلو", report_percent=15, dev_percent=12) == split_of(
        "حلو ", report_percent=15, dev_percent=12
    )


def test_metrics() -> None:
    truth, guess = [0, 0, 1, 2, 2], [0, 1, 1, 2, 0]
    per_class = f1_per_class(truth, guess)
    assert per_class == pytest.approx([0.5, 2 / 3, 2 / 3])
    assert macro_f1(truth, guess) == pytest.approx(sum(per_class) / 3)
    assert f_pn(truth, guess) == pytest.approx((0.5 + 2 / 3) / 2)
    assert macro_f1([0, 2], [0, 2]) == 1.0  # classes absent from the truth are not averaged
