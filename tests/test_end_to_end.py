"""The whole pipeline on the real local Kafka and Elasticsearch, with a real webhook receiver.

Replays 2,000 mentions with a planted spike and one malformed line through `sada process` and
`sada sinks` (real processes), then replays the same file again: once with one processor worker
running both stages, once with the score and detect stages in workers of their own. The
workers log JSON and serve /metrics: every metric of deploy/grafana and deploy/prometheus must
move between a scrape before and one after (tests/deploy/observability.py).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from elasticsearch import NotFoundError
from kafka import KafkaProducer

from core import connect, topics
from core.config import Settings
from core.events import Mention, Removal, now
from ingest import replay, synthetic
from ingest.producer import KafkaEmitter
from ingest.runner import Job, run
from sada.receiver import Receiver
from sada.topics import backlog, ensure_topics
from tests.conftest import config_with_webhook, eventually, pipeline_workers, read_topic
from tests.deploy.observability import first_scrape, scrape, unmoved

MALFORMED = '{"uid": "broken-1", "text": 42}'
GARBAGE = b"\x00 not json at all"


def _replay_file(path: Path) -> tuple[Path, int, set[str]]:
    """Write the synthetic stream plus one malformed line; return the expected documents and
    the uids of the planted crisis mentions."""
    stream = list(
        synthetic.generate_labelled(
            synthetic.Config(count=2000, start=datetime(2026, 1, 1, 10, tzinfo=UTC))
        )
    )
    lines = [mention.model_dump_json() for mention, _ in stream]
    lines.insert(1000, MALFORMED)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    crisis = {m.uid for m, brand in stream if brand == "skyline-air" and m.text in synthetic.CRISIS}
    return path, sum(1 for _, brand in stream if brand is not None), crisis


def _produce_raw(settings: Settings, value: bytes) -> None:
    producer = KafkaProducer(**connect.kafka_python(settings))
    producer.send(settings.topic(topics.RAW), value=value).get(timeout=10)
    producer.close()


def _replay(settings: Settings, path: Path) -> None:
    job = Job("replay", replay.SOURCE, replay.Config(path=path))
    tallies = asyncio.run(run([job], KafkaEmitter(settings), once=True))
    assert tallies["replay"].mentions == 2000
    assert tallies["replay"].rejected == 1


def _count(settings: Settings) -> int:
    with connect.elasticsearch(settings) as es:  # the settings' credentials, if any
        try:
            es.indices.refresh(index=settings.mentions_index)
            return int(es.count(index=settings.mentions_index)["count"])
        except NotFoundError:
            return -1


def _drained(settings: Settings, split: bool) -> bool:
    return backlog(settings, split=split) == 0


@pytest.mark.parametrize("split", [False, True], ids=["one-worker", "split-stages"])
def test_replay_through_the_whole_pipeline(settings: Settings, tmp_path: Path, split: bool) -> None:
    replay_through_the_whole_pipeline(settings, tmp_path, split)


def replay_through_the_whole_pipeline(settings: Settings, tmp_path: Path, split: bool) -> None:
    """The test itself, for any services (tests/test_secure_end_to_end.py: the secured ones)."""
    with Receiver() as receiver:
        settings = settings.model_copy(
            update={
                "config_path": config_with_webhook(receiver.url, tmp_path / "config.yaml"),
                "log_format": "json",
            }
        )
        path, expected_docs, crisis_uids = _replay_file(tmp_path / "mentions.jsonl")
        assert len(crisis_uids) > 200  # the planted spike is really in the file
        ensure_topics(settings)
        metrics: list[str] = []
        with pipeline_workers(settings, tmp_path, split=split, metrics=metrics) as workers:
            before = first_scrape(metrics)
            _produce_raw(settings, GARBAGE)  # not even a Mention: the processors refuse it
            _replay(settings, path)
            eventually(
                lambda: _count(settings) == expected_docs and _drained(settings, split),
                what=f"{expected_docs} documents indexed and every stage caught up",
            )
            eventually(lambda: len(receiver.received) >= 1, timeout=30, what="the alert")

            # Exactly one alert: one incident thread, opened once (it may escalate as the
            # crisis grows; every step carries the thread's id).
            received = list(receiver.received)
            assert len({a["id"] for a in received}) == 1, json.dumps(received, ensure_ascii=False)
            assert [a["status"] for a in received].count("open") == 1
            assert {a["status"] for a in received} <= {"open", "escalate"}
            alert = received[0]
            assert (alert["client"], alert["brand"]) == ("northwind", "skyline-air")
            assert alert["status"] == "open"
            assert alert["kind"] in ("volume_spike", "negative_share_spike")
            assert alert["observed"] > 3 * alert["expected"]
            assert alert["window_start"].startswith("2026-01-02T11:0")
            assert set(alert["sample_uids"]) & crisis_uids  # evidence from the crisis itself

            # Documents carry the scored fields, under their deterministic ids.
            first = next(
                m
                for m, brand in synthetic.generate_labelled(
                    synthetic.Config(count=2000, start=datetime(2026, 1, 1, 10, tzinfo=UTC))
                )
                if brand == "amr-diab"
            )
            doc_id = f"{first.uid}.nagham-agency.amr-diab"
            ids = {"ids": {"values": [doc_id]}}  # the alias spans many indices
            with connect.elasticsearch(settings) as es:
                found = es.search(index=settings.mentions_index, query=ids)
            source = found["hits"]["hits"][0]["_source"]
            assert source["text"] == first.text
            assert source["client"] == "nagham-agency" and source["brand"] == "amr-diab"
            assert source["sentiment"]["label"] in ("negative", "neutral", "positive")
            assert source["triage"] in ("complaint", "question", "praise", "other")
            assert source["created_at"].startswith(first.created_at.isoformat()[:19])

            # The malformed line and the garbage record are in the dead-letter topic, whole,
            # each with the stage that refused it and why.
            letters = {
                letter["stage"]: letter
                for letter in (json.loads(m.value) for m in read_topic(settings, topics.DEADLETTER))
            }
            assert set(letters) == {"ingest:replay", "score"}
            assert letters["ingest:replay"]["payload"] == MALFORMED
            assert f"{path}:1001: not a valid Mention" in letters["ingest:replay"]["reason"]
            assert "text" in letters["ingest:replay"]["reason"]
            assert letters["score"]["payload"] == GARBAGE.decode()
            assert letters["score"]["reason"].startswith("not a valid Mention")
            assert letters["score"]["source_topic"] == settings.topic(topics.RAW)

            # Replaying the same file adds no documents.
            _replay(settings, path)
            eventually(lambda: _drained(settings, split), what="the replay to drain")
            assert _count(settings) == expected_docs
            assert receiver.received == received  # the replayed spike is no new incident

            # The platform says one post was edited and another deleted: the first's document
            # shows the new text, the second's documents go.
            gone = next(uid for uid in sorted(crisis_uids) if uid != first.uid)
            _edit_and_remove(settings, first, gone)
            with connect.elasticsearch(settings) as es:
                eventually(
                    lambda: _count(settings) == expected_docs - 1 and _drained(settings, split),
                    what="the removed mention's document deleted",
                )
                found = es.search(index=settings.mentions_index, query=ids)
                assert found["hits"]["hits"][0]["_source"]["text"] == EDITED
                left = es.count(index=settings.mentions_index, query={"term": {"uid": gone}})
                assert left["count"] == 0
            assert receiver.received == received  # an edit is no new mention to count

            # Every metric the Grafana dashboard and the Prometheus rules use moved.
            eventually(
                lambda: not unmoved(before, scrape(metrics)),
                timeout=30,
                what="every metric of deploy/grafana and deploy/prometheus to move",
                state=lambda: unmoved(before, scrape(metrics)),
            )
            assert all(worker.poll() is None for worker in workers)
        _check_json_logs(tmp_path, received[0]["id"])


def _check_json_logs(log_dir: Path, alert_id: str) -> None:
    """The workers ran with SADA_LOG_FORMAT=json: every line is one JSON object, and the
    delivery of the alert is logged with its id."""
    lines = [
        json.loads(line)
        for path in log_dir.glob("*.log")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.get("alert_id") == alert_id for line in lines)


EDITED = "عمرو دياب (edited) الحفلة كانت رائعة 🎶"


def _edit_and_remove(settings: Settings, edited: Mention, removed_uid: str) -> None:
    emitter = KafkaEmitter(settings)
    emitter.mention("replay", edited.model_copy(update={"text": EDITED, "edited_at": now()}))
    source, _, _ = removed_uid.partition("-")
    removal = Removal(uid=removed_uid, source=source, source_id="gone", removed_at=now())
    emitter.removal("replay", removal)
    emitter.close()
