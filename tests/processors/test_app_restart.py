"""A processor worker killed mid-stream (SIGKILL) and restarted loses and doubles nothing.

On the real local Kafka, with `sada process` and `sada sinks` as real processes and a real
webhook receiver: the synthetic stream runs until the planted crisis has opened its alert, the
rest is produced and the worker is killed while working through it (with the stages split,
both processor workers are: a lost host). The restarted worker
recovers the per-minute counts and the detector state from their changelogs, redoes the records
its predecessor had not committed, and ends with counts equal to those computed from the input
and a single open alert for the crisis. The detect worker, killed and restarted round after
round, always catches up (tests/processors/restarts.py).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core import topics
from core.config import Settings
from core.events import Mention
from ingest import synthetic
from ingest.producer import KafkaEmitter
from sada.receiver import Receiver
from sada.topics import backlog, end_offsets, ensure_topics, lags
from sada.workers import processor_stages, spawn, stop
from tests.conftest import config_with_webhook, eventually, pipeline_workers
from tests.processors.restarts import (
    CRISIS_INCIDENT,
    START,
    changelog_counts,
    expected_counts,
    kill_and_restart_rounds,
)


def _kill_midway(
    settings: Settings,
    mentions: list[Mention],
    workers: list[subprocess.Popen[bytes]],
    busy_from: int,
) -> int:
    """Produce `mentions` in small paced chunks and SIGKILL `workers` once they have sent 40
    scored records past `busy_from`, while the rest is still arriving (a batch of the whole rest
    would be done before a poll could see them busy); the scored end offset at the kill."""
    emitter = KafkaEmitter(settings)
    killed_at = None
    try:
        for start in range(0, len(mentions), 10):
            for mention in mentions[start : start + 10]:
                emitter.mention("synthetic", mention)
            emitter.flush()
            if killed_at is None and end_offsets(settings, topics.SCORED) >= busy_from + 40:
                for worker in workers:
                    worker.kill()  # SIGKILL: no shutdown, no last commit, buffers lost
                for worker in workers:
                    worker.wait()
                killed_at = end_offsets(settings, topics.SCORED)
            time.sleep(0.05)
    finally:
        emitter.close()
    assert killed_at is not None, "the worker was never seen busy with the rest of the stream"
    return killed_at


def _produce(settings: Settings, mentions: list[Mention]) -> None:
    emitter = KafkaEmitter(settings)
    try:
        for mention in mentions:
            emitter.mention("synthetic", mention)
        emitter.flush()
    finally:
        emitter.close()


@pytest.mark.parametrize("split", [False, True], ids=["one-worker", "split-stages"])
def test_a_killed_worker_recovers_exact_counts_and_one_alert(
    settings: Settings, tmp_path: Path, split: bool
) -> None:
    stream = list(synthetic.generate_labelled(synthetic.Config(count=2000, start=START)))
    mentions = [mention for mention, _ in stream]
    first_crisis = next(
        i
        for i, (m, brand) in enumerate(stream)
        if brand == "skyline-air" and m.text in synthetic.CRISIS
    )
    early = first_crisis + 70  # a minute into the crisis: enough to open the alert
    with Receiver() as receiver:
        config_path = config_with_webhook(receiver.url, tmp_path / "config.yaml")
        settings = settings.model_copy(update={"config_path": config_path})
        expected, scored_records = expected_counts(mentions, config_path)
        ensure_topics(settings)
        with pipeline_workers(settings, tmp_path, split=split) as workers:
            _produce(settings, mentions[:early])
            eventually(lambda: bool(receiver.received), timeout=45, what="the crisis alert")
            sent_before = end_offsets(settings, topics.SCORED)

            processors = workers[:-1]  # the last one runs the sinks
            killed_at = _kill_midway(settings, mentions[early:], processors, sent_before)
            assert killed_at < scored_records, "killed too late: the stream was already done"

            restarted: list[subprocess.Popen[bytes]] = []
            began = time.monotonic()
            try:
                cache = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
                restarted += [
                    spawn("process", cache, tmp_path, "--stage", stage)
                    for stage in processor_stages(split)
                ]
                eventually(
                    lambda: backlog(settings, split=split) == 0,
                    timeout=60,
                    what="the restarted worker and the sinks to catch up",
                    state=lambda: f"not yet committed: {lags(settings, split=split)}",
                )
                recovery = time.monotonic() - began
                counts = changelog_counts(settings)
            finally:
                stop(restarted)

    # The records after the last commit are usually done twice (the score agent re-sends
    # them; on a loaded machine the kill can land just after a commit, with none to redo) ...
    redone = end_offsets(settings, topics.SCORED) - scored_records
    assert redone >= 0
    print(f"records the restarted worker redid: {redone}")
    # ... and every minute's counts are still exact, by brand, source and language.
    assert len(expected) > 1000
    assert counts == expected, {
        k: (counts.get(k), v) for k, v in expected.items() if counts.get(k) != v
    }
    # Event time: the windows are the mentions' minutes (January 2026), not the clock's.
    crisis_minute = START.timestamp() + synthetic.Config().spike_at_minute * 60
    assert counts[("northwind/skyline-air", crisis_minute)]["total"] >= 50

    # One incident, opened once, whatever the kill re-sent.
    opened = {a["id"] for a in receiver.received if a["status"] == "open"}
    assert opened == {CRISIS_INCIDENT}, receiver.received
    assert all(a["brand"] == "skyline-air" for a in receiver.received)
    for index in (settings.mentions_index, settings.alerts_index):
        httpx.delete(f"{settings.es_url}/{index}", timeout=10)
    print(
        f"restarted worker caught up in {recovery:.1f}s; "
        f"{end_offsets(settings, topics.SCORED) - scored_records} scored records re-sent"
    )


def test_a_detect_worker_killed_again_and_again_always_catches_up(
    settings: Settings, tmp_path: Path
) -> None:
    """Three SIGKILLs of the detect worker at 100 mentions/s, each restarted at once: every
    restart catches up (a restart that recovered its tables could sit on hundreds of uncommitted
    records, see processors.faust_fixes.Consumer), the counts stay exact and the crisis is one
    incident."""
    outcome = kill_and_restart_rounds(settings, tmp_path, rounds=3, catch_up_seconds=60)
    print(outcome.summary())

    assert outcome.stalls == 0, outcome.summary()
    assert len(outcome.expected) > 1000
    assert outcome.counts == outcome.expected, {
        k: (outcome.counts.get(k), v)
        for k, v in outcome.expected.items()
        if outcome.counts.get(k) != v
    }
    opened = {a["id"] for a in outcome.alerts if a["status"] == "open"}
    assert opened == {CRISIS_INCIDENT}, outcome.alerts
