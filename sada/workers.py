"""The sink process: three runners side by side, stopped cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

from core import topics
from core.config import SadaConfig, Settings
from core.events import Alert, ScoredMention
from sinks.alerts import AlertSink
from sinks.elasticsearch import alerts_sink, mentions_sink
from sinks.runner import SinkRunner


def sink_runners(settings: Settings, config: SadaConfig) -> list[SinkRunner]:
    """Scored mentions -> ES; alerts -> ES (for dashboards) and -> each brand's routes."""
    return [
        SinkRunner(settings, topics.SCORED, mentions_sink(settings.es_url, settings.mentions_index),
                   ScoredMention.from_bytes, stage="index-mentions"),
        SinkRunner(settings, topics.ALERTS, alerts_sink(settings.es_url, settings.alerts_index),
                   Alert.from_bytes, stage="index-alerts"),
        SinkRunner(settings, topics.ALERTS, AlertSink(config), Alert.from_bytes, stage="notify"),
    ]


async def run_sinks(settings: Settings, config: SadaConfig) -> None:
    runners = sink_runners(settings, config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: [r.stop() for r in runners])
    await asyncio.gather(*(r.run() for r in runners))
