"""The score agent: raw mentions in, one scored mention per brand matched out.

Each scored record names its origin (raw partition and offset) in a header, for the detect
agent's replay protection (`processors.windows`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import faust

from core import metrics
from core.config import Settings
from core.events import Mention, ScoredMention
from core.live import LiveConfig
from processors.deadletter import DeadLetters
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process_each
from processors.sentiment import LinearModel, keeping_up, load_scorer
from processors.windows import origin_headers

SCORE_BATCH = 500  # raw records scored together at most
# A slow backend (e5: ~130 mentions/s on two cores) is as fast in batches of 64 as of 500
# (measured), and the batch is what it adds to alert latency: about half a second, not four.
SLOW_SCORE_BATCH = 64
SCORE_WAIT = 0.02  # seconds a batch waits for more records


def add_score_agent(
    app: faust.App,
    settings: Settings,
    live: LiveConfig,
    raw: faust.TopicT,
    scored: faust.TopicT,
    letters: DeadLetters,
) -> None:
    """Add `score_mentions` to `app`: it reads `raw` and sends to `scored`, matching each batch
    with the brands of the clients file as it is when the batch starts (`live`)."""
    matcher_now = live.derive(build_matcher)
    matcher_now()  # built at start: a query that does not compile stops the worker here
    model = load_scorer(settings.sentiment_backend, settings.sentiment_model_dir)
    deduper = Deduper()  # per worker: near-duplicates across partitions are linked only
    # when one worker owns them (see README, Operations)
    sent = metrics.SENT.labels("score")
    # A slow backend (e5, a transformer) takes a while per batch: it scores in a thread so
    # the event loop keeps heartbeats, fetches and commits going meanwhile.
    offload = not isinstance(model, LinearModel)
    batch_size = SLOW_SCORE_BATCH if offload else SCORE_BATCH

    async def score(
        mentions: list[Mention], events: Sequence[faust.EventT]
    ) -> list[list[ScoredMention] | Exception]:
        """Each mention's records, or the exception it failed with. A slow backend whose
        oldest event waited too long hands the batch to the linear model (`keeping_up`)."""
        matcher = matcher_now()
        if not offload:
            return process_each(mentions, matcher, deduper, model)
        now = time.time()
        waited = max((now - (e.message.timestamp or now) for e in events), default=0.0)
        scorer = keeping_up(model, waited, settings.sentiment_max_delay_seconds)
        if scorer is not model:
            metrics.FELL_BEHIND.inc(len(mentions))
        return await asyncio.to_thread(process_each, mentions, matcher, deduper, scorer)

    @app.agent(raw, concurrency=1)
    async def score_mentions(stream: Any) -> None:
        # Batches: the sentiment model scores a batch in one call (see process_batch); a
        # batch waits at most SCORE_WAIT for more records, a small part of the latency budget.
        async for events in stream.take_events(batch_size, within=SCORE_WAIT):
            parsed = [(event, await letters.parse(Mention, event)) for event in events]
            valid = [(event, mention) for event, mention in parsed if mention is not None]
            results = await score([mention for _, mention in valid], events)
            for (event, _), records in zip(valid, results, strict=True):
                if isinstance(records, Exception):
                    reason = f"scoring failed: {records!r}"
                    await letters.reject(reason, event.value, raw.get_topic_name())
                    continue
                for record in records:
                    await scored.send(
                        key=record.key.encode(),
                        value=record.to_bytes(),
                        headers=origin_headers(event.message.partition, event.message.offset),
                    )
                sent.inc(len(records))
