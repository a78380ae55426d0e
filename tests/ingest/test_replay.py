from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import topics
from core.config import Settings
from core.errors import DeliveryError, Rejected
from core.events import DEAD_LETTER_PAYLOAD_BYTES, RECORD_MAX_BYTES, DeadLetter, Mention
from ingest import replay, runner, synthetic
from ingest.producer import PrintEmitter
from ingest.runner import Job, run
from tests.conftest import read_topic
from tests.ingest.support import write_hostile_replay


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
        [
            good[0].model_dump_json(),
            "",
            "not json",
            good[1].model_dump_json(),
            '{"uid": 1}',
            good[2].model_dump_json(),
        ],
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
    tallies = await run(
        [Job("replay", replay.SOURCE, replay.Config(path=path))], PrintEmitter(out), once=True
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (tallies["replay"].mentions, tallies["replay"].rejected) == (2, 1)
    assert [line.get("source") for line in lines] == ["synthetic", "synthetic", "replay"]
    assert lines[2]["rejected"].startswith(f"{path}:3:")


def test_an_oversize_line_is_rejected_unparsed_and_the_lines_after_it_still_parse(
    tmp_path: Path,
) -> None:
    hostile = write_hostile_replay(
        tmp_path / "h.jsonl", before=2, after=3, oversize_bytes=RECORD_MAX_BYTES + 1
    )
    items = list(replay.read(hostile.path))
    assert [i for i in items if isinstance(i, Mention)] == hostile.good
    rejects = [i for i in items if isinstance(i, Rejected)]
    assert len(rejects) == len(hostile.bad)
    for reject, says in zip(rejects, hostile.bad, strict=True):
        assert says in reject.reason, reject.reason
    assert rejects[0].reason == (
        f"{hostile.path}:3: line of {RECORD_MAX_BYTES + 1} bytes "
        f"exceeds the {RECORD_MAX_BYTES}-byte limit of a record; "
        "not parsed"
    )
    assert len(rejects[0].payload.encode()) == RECORD_MAX_BYTES + 1


class _FailsOnce(PrintEmitter):
    """Refuses the `fail_at`-th mention once, as a producer would while the broker is away."""

    def __init__(self, out: io.StringIO, fail_at: int) -> None:
        super().__init__(out)
        self.left = fail_at

    def mention(self, source: str, mention: Mention) -> None:
        self.left -= 1
        if self.left == 0:
            raise DeliveryError("broker away")
        super().mention(source, mention)


async def test_a_replay_that_failed_resumes_where_it_failed_instead_of_from_the_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "RESTART_DELAY_SECONDS", 0.01)
    good = _mentions(10)
    path = _write(tmp_path / "m.jsonl", [m.model_dump_json() for m in good])
    out = io.StringIO()
    tallies = await run(
        [Job("replay", replay.SOURCE, replay.Config(path=path))], _FailsOnce(out, 6)
    )
    produced = [Mention.model_validate_json(line) for line in out.getvalue().splitlines()]
    assert produced == good  # each once, in order: the failed sixth was retried, 1-5 were not
    assert tallies["replay"].mentions == 11  # 10, and the attempt that failed
    again = io.StringIO()  # a finished replay leaves nothing behind: it runs whole again
    await run(
        [Job("replay", replay.SOURCE, replay.Config(path=path))], PrintEmitter(again), once=True
    )
    assert len(again.getvalue().splitlines()) == 10


def test_a_20mb_line_and_garbage_are_dead_lettered_and_every_good_line_produced_once(
    settings: Settings, tmp_path: Path
) -> None:
    """`sada ingest` (a real process, on the real broker) replays a file with 10 good lines, a
    20 MB line, garbage, then 1,000 good lines: each good line is on the raw topic once, each
    bad one is dead-lettered with its reason, and every dead letter is small."""
    hostile = write_hostile_replay(tmp_path / "hostile.jsonl")
    env = {
        **os.environ,
        "SADA_NAMESPACE": settings.namespace,
        "SADA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SADA_ES_URL": settings.es_url,
        "SADA_STATE_DIR": str(tmp_path / "state"),
    }
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sada",
            "ingest",
            "--source",
            "replay",
            "--set",
            f"path={hostile.path}",
        ],
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    tally = f"replay: {len(hostile.good)} mentions, {len(hostile.bad)} dead-lettered"
    assert tally in done.stderr.decode()
    produced = [
        Mention.from_bytes(m.value).uid for m in read_topic(settings, topics.RAW, wait_seconds=5)
    ]
    letters = [
        DeadLetter.from_bytes(m.value)
        for m in read_topic(settings, topics.DEADLETTER, wait_seconds=5)
    ]
    assert sorted(produced) == sorted(m.uid for m in hostile.good)  # all, each once
    assert len(letters) == len(hostile.bad)  # one partition: in file order
    for letter, says in zip(letters, hostile.bad, strict=True):
        assert says in letter.reason, letter.reason
    assert max(len(value.to_bytes()) for value in letters) < 2 * DEAD_LETTER_PAYLOAD_BYTES
    oversize = letters[0]
    assert oversize.truncated and oversize.payload_bytes == hostile.oversize_bytes
    line = hostile.path.read_bytes().splitlines()[10]
    assert oversize.payload_sha256 == hashlib.sha256(line).hexdigest()
    assert took < 90, f"took {took:.1f}s"
