"""The Faust app of one deployment: its settings, its topics, and the agents of a stage.

raw mentions --score_mentions--> scored mentions --detect_spikes--> alerts
                                                        +--> per-brand, per-minute counts
Any record a step cannot process goes to the dead-letter topic with the reason; the stream goes on.

The agents: `processors.score_agent` and `processors.detect_agent` (with its exact state on
at-least-once processing); where Faust is worked around: `processors.faust_fixes`.
"""

from __future__ import annotations

from typing import Literal

import faust

from core import connect, topics
from core.config import Settings
from core.live import LiveConfig
from processors.deadletter import DeadLetters
from processors.detect_agent import add_detect_agent
from processors.faust_fixes import Transport
from processors.score_agent import add_score_agent

Stage = Literal["all", "score", "detect"]


def _raw_topic(app: faust.App, settings: Settings, topic: topics.Topic) -> faust.TopicT:
    """Bytes in and out: parsing is ours, so a bad record is dead-lettered, not skipped by Faust."""
    return app.topic(
        settings.topic(topic),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions(topic),
        internal=False,
    )


def create_app(settings: Settings, live: LiveConfig, stage: Stage = "all") -> faust.App:
    """Build the processor app for one deployment (namespace) and one clients file, followed
    while the worker runs (`live`: each agent takes up a changed file between two batches).

    `stage` "all" runs both agents in each worker. "score" and "detect" run one each, so the
    two stages get a process (a core) each and scale apart: a Python process does one core's
    work at most, and one worker doing both stages tops out near 1,500 mentions/s on 2 cores.
    """
    app = _faust_app(settings, settings.processor_group(stage))
    raw = _raw_topic(app, settings, topics.RAW)
    scored = _raw_topic(app, settings, topics.SCORED)
    alerts = _raw_topic(app, settings, topics.ALERTS)
    deadletter = _raw_topic(app, settings, topics.DEADLETTER)
    share = settings.deadletter_max_share
    letters = {step: DeadLetters(step, deadletter, share) for step in ("score", "detect")}
    if stage in ("all", "score"):
        add_score_agent(app, settings, live, raw, scored, letters["score"])
    if stage in ("all", "detect"):
        sources = settings.partitions(topics.RAW)
        add_detect_agent(app, live, scored, alerts, letters["detect"], sources)

    @app.task
    async def follow_clients_file() -> None:
        await live.follow()

    return app


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """The settings' Kafka security, as Faust's aiokafka client takes it."""
    context = connect.kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_password
        return faust.SASLCredentials(
            username=settings.kafka_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    return None if context is None else faust.SSLCredentials(context)


def _faust_app(settings: Settings, name: str) -> faust.App:
    """The app (`name`: its id, the consumer group) with its settings, each measured or chosen
    for a reason, and our Kafka transport (`processors.faust_fixes`)."""
    datadir = settings.cache_dir / "faust" / name
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        name,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(datadir),
        topic_partitions=settings.partitions(topics.SCORED),
        topic_replication_factor=settings.replication_factor("changelogs"),  # its leader topic too
        topic_allow_declare=True,
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # A dead worker's partitions move after 10 s, not Faust's 60 s: heartbeats come from
        # the consumer's own thread, so a busy agent does not miss them.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        # Three records go out per mention (scored, two changelogs); without a linger each
        # goes in a request of its own, and the requests, not the work, cap throughput
        # (measured: 2x mentions/s). 50 ms rather than 5 ms: at 1,000 mentions/s the worker
        # then needs 7% less CPU, for 0.04 s more alert latency (of a 1 s budget).
        producer_linger=0.05,
        # The Kafka client keeps one request in flight per broker; a partition whose batch is
        # full makes every send wait for it. 16 KB (the default) is 8 detector states: at
        # 2,000 mentions/s the detect stage then queued, alerts 1.7 s late instead of 0.23 s.
        producer_max_batch_size=512 * 1024,
    )
    app.transport = Transport(app.conf.broker_consumer, app)
    return app
