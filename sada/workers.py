"""Worker processes: the sink process (its runners side by side, stopped cleanly on SIGTERM
or Ctrl-C), and starting/stopping `sada` stages as child processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from core import topics
from core.config import Settings
from core.events import Alert, Removal, ScoredMention
from core.live import LiveConfig
from sinks.alerts import AlertSink
from sinks.elasticsearch import alerts_sink, mentions_sink
from sinks.removals import RemovalSink
from sinks.runner import SinkRunner


def sink_runners(settings: Settings, live: LiveConfig) -> list[SinkRunner]:
    """Scored mentions -> ES; alerts -> ES (for dashboards) and -> each brand's routes (each
    client's own: indices and routes are never shared between clients), as the clients file
    names them when the alert's batch is sent (`live`)."""
    return [
        SinkRunner(
            settings,
            topics.SCORED,
            mentions_sink(settings),
            ScoredMention.from_bytes,
            stage="index-mentions",
        ),
        SinkRunner(
            settings,
            topics.ALERTS,
            alerts_sink(settings),
            Alert.from_bytes,
            stage="index-alerts",
        ),
        SinkRunner(settings, topics.ALERTS, AlertSink(live), Alert.from_bytes, stage="notify"),
        SinkRunner(
            settings,
            topics.REMOVALS,
            RemovalSink(settings),
            Removal.from_bytes,
            stage="remove-mentions",
        ),
    ]


async def run_sinks(settings: Settings, live: LiveConfig) -> None:
    """Run the runners until stopped, following the clients file meanwhile. Each rides out
    Kafka and Elasticsearch outages by itself; one that cannot go on (`Fatal`) stops the others
    and the error propagates."""
    runners = sink_runners(settings, live)
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for runner in runners:
            runner.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_all)
    following = asyncio.create_task(live.follow())
    try:
        await asyncio.gather(*(r.run() for r in runners))
    finally:
        following.cancel()
        stop_all()


def processor_stages(split: bool) -> list[str]:
    """The `sada process --stage` of each processor worker: one running both stages, or one
    per stage."""
    return ["score", "detect"] if split else ["all"]


def spawn(stage: str, settings: Settings, log_dir: Path, *options: str) -> subprocess.Popen[bytes]:
    """Start `python -m sada <stage> [options]` as its own process with these settings, logging
    to a file."""
    env = {**os.environ, **settings.to_env()}
    words = [stage, *(option.lstrip("-") for option in options)]
    name = re.sub(r"[^\w.=-]+", "_", "-".join(words))[:120]  # a path in an option is not a dir
    log = (log_dir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sada", stage, *options],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(procs: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL whatever has not exited within `timeout`."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
