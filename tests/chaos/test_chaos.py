"""Faults on real processes and real services: nothing lost, nothing doubled, nothing stuck.

Every scenario streams the synthetic day (with its planted crisis) through the whole pipeline on
the chaos suite's own Kafka and Elasticsearch, does one kind of harm mid-stream, and checks what
`harness.verify` checks. `make test` runs short versions of (a), (b) and (f); `make chaos`
(SADA_CHAOS=full) runs every scenario at full length. Each prints one CHAOS line with its
figures (run with -s to see them).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from core import topics
from core.config import Settings
from core.events import DEAD_LETTER_PAYLOAD_BYTES
from sada.topics import lags
from tests.chaos import harness
from tests.chaos.harness import Run, full, pipeline
from tests.conftest import read_topic

pytestmark = pytest.mark.integration  # real services of its own
RATE = 100.0  # mentions/s: the stream lasts long enough for the fault to land mid-stream
STALL_SECONDS = 90.0  # a restarted worker committing nothing for this long is stuck


def _midstream(run: Run, share: float = 0.25, timeout: float = 120.0) -> None:
    """Wait until `share` of the stream has been produced."""
    target = int(run.expected_documents * share)
    deadline = time.monotonic() + timeout
    while run.produced() < target:
        assert time.monotonic() < deadline, f"the stream did not start; logs in {run.log_dir}"
        time.sleep(0.2)


def _report(scenario: str, outcome: harness.Outcome) -> None:
    print(outcome.row(scenario))


def test_a_sigkill_each_stage_mid_stream(chaos_services: Settings, tmp_path: Path) -> None:
    """(a) SIGKILL each worker mid-stream and restart it at once, the detect worker most often;
    each restarted worker must commit new records within STALL_SECONDS (a stall fails)."""
    rounds = (
        {"score": 3, "detect": 10, "sinks": 3} if full() else {"score": 1, "detect": 2, "sinks": 1}
    )
    kills = [stage for stage in harness.STAGES for _ in range(rounds[stage])]
    with pipeline(chaos_services, tmp_path, count=2000 + 400 * len(kills)) as run:
        run.stream(RATE / 2)
        _midstream(run, 0.05)
        began = time.monotonic()
        for number, stage in enumerate(kills):
            run.kill(stage)
            before, _ = run.position(stage)  # nothing commits for the stage until it is back
            run.start(stage)
            restarted = time.monotonic()
            while (position := run.position(stage))[0] <= before and position[0] < position[1]:
                waited = time.monotonic() - restarted
                if waited >= STALL_SECONDS:
                    run.workers[stage].send_signal(signal.SIGUSR1)  # its tasks' stacks to its log
                    time.sleep(2)
                    pytest.fail(
                        f"kill {number + 1} ({stage}): no new commit {waited:.0f}s after the "
                        f"restart; lags {lags(run.settings, split=True)}; logs in {run.log_dir}"
                    )
                time.sleep(0.5)
            print(
                f"kill {number + 1}/{len(kills)} ({stage}): committing again after "
                f"{time.monotonic() - restarted:.1f}s"
            )
        recovery = run.wait_caught_up(began, timeout=300)
        _report(f"(a) {len(kills)} SIGKILLs {rounds}", harness.verify(run, recovery))


def test_b_broker_stopped(chaos_services: Settings, tmp_path: Path) -> None:
    """(b) The Kafka broker stopped mid-stream (40 s; 15 s in `make test`) and started again."""
    seconds = 40 if full() else 15
    with pipeline(chaos_services, tmp_path, count=2000) as run:
        run.stream(RATE)
        _midstream(run)
        harness.stop_broker(run.settings)
        time.sleep(seconds)
        harness.start_broker(run.settings)
        began = time.monotonic()
        recovery = run.wait_caught_up(began, timeout=240)
        _report(f"(b) broker stopped {seconds}s", harness.verify(run, recovery))


@pytest.mark.skipif(not full(), reason="make chaos only")
def test_c_elasticsearch_frozen(chaos_services: Settings, tmp_path: Path) -> None:
    """(c) Elasticsearch SIGSTOPped for 60 s mid-stream, then continued."""
    with pipeline(chaos_services, tmp_path, count=2000) as run:
        run.stream(RATE)
        _midstream(run)
        harness.signal_elasticsearch(run.settings, signal.SIGSTOP)
        try:
            time.sleep(60)
        finally:
            harness.signal_elasticsearch(run.settings, signal.SIGCONT)
        began = time.monotonic()
        recovery = run.wait_caught_up(began, timeout=240)
        _report("(c) Elasticsearch stopped 60s", harness.verify(run, recovery))


@pytest.mark.skipif(not full(), reason="make chaos only")
def test_d_flood_stage_watermark(chaos_services: Settings, tmp_path: Path) -> None:
    """(d) The node's flood-stage disk watermark hit for 60 s: every index read-only."""
    with pipeline(chaos_services, tmp_path, count=2000) as run:
        run.stream(RATE)
        _midstream(run)
        harness.flood_stage(run.settings, on=True)
        try:
            deadline = time.monotonic() + 60
            while not harness.blocked(run.settings):
                assert time.monotonic() < deadline, "Elasticsearch never applied the block"
                time.sleep(0.5)
            time.sleep(60)
        finally:
            harness.flood_stage(run.settings, on=False)
        began = time.monotonic()
        recovery = run.wait_caught_up(began, timeout=240)
        _report("(d) flood-stage watermark 60s", harness.verify(run, recovery))


@pytest.mark.skipif(not full(), reason="make chaos only")
def test_e_webhook_receiver_down(chaos_services: Settings, tmp_path: Path) -> None:
    """(e) The alert receiver down for 2 minutes while the crisis alert is raised."""
    with pipeline(chaos_services, tmp_path, count=2000) as run:
        run.receiver.down()
        run.stream(RATE)
        time.sleep(120)
        run.receiver.up()
        began = time.monotonic()
        recovery = run.wait_caught_up(began, timeout=240)
        while not run.receiver.received and time.monotonic() - began < 120:
            time.sleep(1)  # the notify sink's backoff may still be waiting
        recovery = max(recovery, time.monotonic() - began)
        _report("(e) webhook receiver down 120s", harness.verify(run, recovery))


def test_f_oversize_line_and_garbage(chaos_services: Settings, tmp_path: Path) -> None:
    """(f) A 20 MB line and garbage lines in the replayed file: dead-lettered, the rest flows."""
    bad = tmp_path / "bad.jsonl"
    garbage = ["not json at all", '{"uid": ""}', "\x00\x01\x02", '{"text": "' + "x" * 100 + '"']
    with bad.open("w", encoding="utf-8") as out:
        out.write("\n".join(garbage) + "\n")
        out.write('{"text": "' + "ب" * 10_000_000 + '"}\n')  # 20 MB of two-byte characters
    with pipeline(chaos_services, tmp_path, count=1500) as run:
        began = time.monotonic()
        run.stream(RATE * 5, bad)
        recovery = run.wait_caught_up(began, timeout=240)
        outcome = harness.verify(run, recovery)
        letters = [m.value for m in read_topic(run.settings, topics.DEADLETTER)]
        _report("(f) 20 MB line and garbage", outcome)
    assert run.ingest is not None and run.ingest.returncode == 0
    assert len(letters) == len(garbage) + 1, [json.loads(v)["reason"][:200] for v in letters]
    assert all(len(value) < 2 * DEAD_LETTER_PAYLOAD_BYTES for value in letters)
    oversize = [json.loads(v) for v in letters if json.loads(v)["truncated"]]
    assert len(oversize) == 1 and oversize[0]["payload_bytes"] > 20_000_000
