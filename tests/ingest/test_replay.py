from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from core.errors import Rejected
from core.events import Mention
from ingest import replay, synthetic
from ingest.producer import PrintEmitter
from ingest.runner import Job, run


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline, on purpose
    return path


def _mentions(count: int) -> list[Mention]:
    config = synthetic.Config(count=count, spike_minutes=0, start=datetime(2026, 1, 1, tzinfo=UTC))
    return list(synthetic.generate(config))


def test_every_line_becomes_a_mention_or_a_reject_naming_file_and_line(tmp_path: Path) -> None:
    good = _mentions(3)
    path = _write(
        tmp_path / "m.jsonl",
        [good[0].model_dump_json(), "", "not json", good[1].model_dump_json(), '{"uid": 1}',
         good[2].model_dump_json()],
    )
    items = list(replay.read(path))
    assert [i for i in items if isinstance(i, Mention)] == good
    rejects = [i for i in items if isinstance(i, Rejected)]
    assert [r.payload for r in rejects] == ["not json", '{"uid": 1}']
    assert rejects[0].reason.startswith(f"{path}:3: not a valid Mention")
    assert rejects[1].reason.startswith(f"{path}:5: not a valid Mention")
    assert "source: Field required" in rejects[1].reason


async def test_rate_is_honoured(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", [m.model_dump_json() for m in _mentions(30)])
    started = time.monotonic()
    items = [item async for item in replay.fetch(replay.Config(path=path, rate_per_second=100))]
    assert len(items) == 30
    assert 0.25 <= time.monotonic() - started < 2.0


async def test_dry_run_prints_what_would_be_produced(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", [m.model_dump_json() for m in _mentions(2)] + ["{"])
    out = io.StringIO()
    tallies = await run([Job("replay", replay, replay.Config(path=path))], PrintEmitter(out), once=True)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (tallies["replay"].mentions, tallies["replay"].rejected) == (2, 1)
    assert [line.get("source") for line in lines] == ["synthetic", "synthetic", "replay"]
    assert lines[2]["rejected"].startswith(f"{path}:3:")
