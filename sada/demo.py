"""`make demo`: the whole pipeline on the synthetic stream, with live progress and a summary.

The processors and sinks run as their own processes, exactly as in production; the demo only
produces the synthetic mentions, runs a local webhook receiver, watches, and reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from console.auth import add_user
from console.state import forget
from core import connect, topics
from core.config import Settings
from core.display import isolate
from ingest import synthetic
from ingest.producer import KafkaEmitter
from ingest.runner import Job, run
from sada import SAMPLE_CONFIG
from sada.receiver import Receiver
from sada.retention import delete_indices
from sada.topics import backlog, delete_namespace, end_offsets, ensure_topics
from sada.workers import spawn, stop

RECEIVER_PORT = 8765  # the sample config's webhook routes point here
DRAIN_TIMEOUT_SECONDS = 240.0
console = Console()


@dataclass
class Progress:
    produced: int = 0
    dead_lettered: int = 0
    scored: int = 0
    indexed: int = 0
    alerts_raised: int = 0
    alerts_received: int = 0
    incidents: int = 0
    backlog: int = 0

    def table(self, settings: Settings) -> Table:
        table = Table(title="Sada demo", show_header=False)
        rows = [
            ("mentions produced", self.produced),
            ("dead-lettered at ingest", self.dead_lettered),
            ("scored mentions (brand hits)", self.scored),
            (f"documents in {settings.mentions_index}", self.indexed),
            ("alert steps raised (open/escalate/resolve)", self.alerts_raised),
            (f"alert steps received at {RECEIVER_PORT}", self.alerts_received),
            ("incidents (alert threads)", self.incidents),
            ("records still in flight", self.backlog),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        return table


def _count(settings: Settings, index: str) -> int:
    with connect.elasticsearch(settings) as es:
        response = es.options(ignore_status=404).count(index=index)  # none yet: 0
    return int(response.body.get("count", 0))


def _print_alert(alert: dict[str, Any]) -> None:
    console.print(
        f"[bold red]ALERT[/] {alert['severity']} {alert['kind']} for "
        f"{isolate(alert['client'])}/{isolate(alert['brand'])}: {alert['explanation']}"
    )


def run_demo(
    settings: Settings,
    *,
    count: int,
    rate: float,
    console_port: int | None = None,
    stay: bool = False,
) -> Progress:
    """Run on the `<namespace>-demo` namespace, emptied first, so every demo tells the same story,
    and on the sample clients file, whose brands the synthetic stream is written for. With
    `console_port`, the console runs beside the pipeline; with `stay` too (a person at a
    terminal), it stays up with the pipeline until Ctrl-C, else the demo ends with its summary."""
    settings = settings.model_copy(
        update={"namespace": f"{settings.namespace}-demo", "config_path": SAMPLE_CONFIG}
    )
    delete_namespace(settings)
    delete_indices(settings)
    ensure_topics(settings)
    log_dir = settings.cache_dir / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = [spawn(stage, settings, log_dir) for stage in ("process", "sinks")]
    password = secrets.token_urlsafe(12)
    if console_port:
        with connect.elasticsearch(settings) as es:
            forget(es, settings.namespace)
            add_user(es, settings.namespace, "demo", [], True, password)
        workers.append(spawn("console", settings, log_dir, "--port", str(console_port)))
    try:
        with Receiver(RECEIVER_PORT, on_receive=_print_alert) as receiver:
            progress = asyncio.run(_watch(settings, receiver, workers, log_dir, count, rate))
        console.print(
            f"\nIndices: [bold]{settings.mentions_index}[/] (mentions), [bold]{settings.alerts_index}[/] "
            f"(alerts) at {settings.es_url}. Webhook alerts went to http://127.0.0.1:{RECEIVER_PORT}/"
            f"alerts (printed above). Worker logs: {log_dir}."
        )
        if console_port:
            console.print(
                f"Console: [bold]http://127.0.0.1:{console_port}/[/] (log in as [bold]demo[/], "
                f"password [bold]{password}[/])"
                + ("; it keeps running: Ctrl-C to stop." if stay else ".")
            )
        if console_port and stay:
            with contextlib.suppress(KeyboardInterrupt):
                workers[-1].wait()
    finally:
        stop(workers)
    return progress


async def _watch(
    settings: Settings,
    receiver: Receiver,
    workers: list[subprocess.Popen[bytes]],
    log_dir: Path,
    count: int,
    rate: float,
) -> Progress:
    """Produce the stream while showing progress, until every stage has caught up."""
    progress = Progress()
    job = Job("synthetic", synthetic.SOURCE, synthetic.Config(count=count, rate_per_second=rate))
    ingest = asyncio.create_task(run([job], KafkaEmitter(settings), once=True))
    deadline = time.monotonic() + count / rate + DRAIN_TIMEOUT_SECONDS
    calm = 0
    with Live(progress.table(settings), console=console, refresh_per_second=2) as live:
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError(f"a worker stopped early; see the logs in {log_dir}")
            progress.scored = end_offsets(settings, topics.SCORED)  # the namespace started empty
            progress.alerts_raised = end_offsets(settings, topics.ALERTS)
            progress.indexed = _count(settings, settings.mentions_index)
            progress.alerts_received = len(receiver.received)
            progress.incidents = len({alert["id"] for alert in receiver.received})
            progress.backlog = await asyncio.to_thread(backlog, settings)
            if ingest.done():
                tally = ingest.result()["synthetic"]
                progress.produced, progress.dead_lettered = tally.mentions, tally.rejected
            live.update(progress.table(settings))
            if ingest.done() and progress.backlog == 0 and progress.scored > 0:
                calm += 1  # caught up twice in a row: no record was between two stages
                if calm == 2:
                    return progress
            else:
                calm = 0
    raise RuntimeError(f"the pipeline did not catch up in time; see the logs in {log_dir}")
