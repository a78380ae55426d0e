"""Against the real local Elasticsearch."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.config import Settings
from core.errors import Fatal
from core.events import ScoredMention, Sentiment
from ingest import synthetic
from sinks.elasticsearch import MENTION_MAPPING, mentions_sink


def _scored(count: int) -> list[ScoredMention]:
    mentions = synthetic.generate(
        synthetic.Config(count=count, spike_minutes=0, start=datetime(2026, 1, 1, tzinfo=UTC))
    )
    return [
        ScoredMention(
            mention=m,
            client="acme",
            brand="widget",
            matched_terms=["widget"],
            text_normalized=m.text.casefold(),
            language="en",
            sentiment=Sentiment(label="neutral", probability=0.6, model="test"),
            triage="other",
            triage_rule="rule 5: no problem word, question or sure praise",
        )
        for m in mentions
    ]


async def test_bulk_indexing_is_idempotent_and_searchable(settings: Settings) -> None:
    sink = mentions_sink(settings.es_url, settings.mentions_index)
    await sink.start()
    await sink.start()  # a second indexer starting finds the index there
    try:
        assert await sink.check()
        batch = _scored(50)
        assert await sink.write(batch) == []
        assert await sink.write(batch[:20]) == []  # a replay overwrites
        httpx.post(f"{settings.es_url}/{settings.mentions_index}/_refresh")
        count = httpx.get(f"{settings.es_url}/{settings.mentions_index}/_count").json()["count"]
        assert count == 50
        mapping = httpx.get(f"{settings.es_url}/{settings.mentions_index}/_mapping").json()
        properties = mapping[settings.mentions_index]["mappings"]["properties"]
        assert properties["created_at"]["type"] == "date"
        assert properties["brand"]["type"] == "keyword"
    finally:
        await sink.close()
        httpx.delete(f"{settings.es_url}/{settings.mentions_index}")


async def test_an_index_made_by_an_older_version_gets_the_new_fields(settings: Settings) -> None:
    """The mapping is strict: without the new fields, every new document would be rejected."""
    url, index = settings.es_url, settings.mentions_index
    older = {
        **MENTION_MAPPING,
        "properties": {
            k: v for k, v in MENTION_MAPPING["properties"].items() if k != "triage_rule"
        },
    }
    httpx.put(f"{url}/{index}", json={"mappings": older}).raise_for_status()
    sink = mentions_sink(url, index)
    try:
        await sink.start()
        assert await sink.write(_scored(3)) == []
        httpx.post(f"{url}/{index}/_refresh")
        hits = httpx.post(
            f"{url}/{index}/_search", json={"query": {"match": {"triage_rule": "question"}}}
        ).json()["hits"]["hits"]
        assert len(hits) == 3
    finally:
        await sink.close()
        httpx.delete(f"{url}/{index}")


async def test_an_index_whose_field_changed_type_is_a_clear_fatal_error(settings: Settings) -> None:
    url, index = settings.es_url, settings.mentions_index
    clashing = {"properties": {"triage": {"type": "long"}}}
    httpx.put(f"{url}/{index}", json={"mappings": clashing}).raise_for_status()
    sink = mentions_sink(url, index)
    try:
        with pytest.raises(Fatal, match=f"index {index} .* cannot extend"):
            await sink.start()
    finally:
        await sink.close()
        httpx.delete(f"{url}/{index}")


async def test_an_unreachable_server_is_not_ready() -> None:
    sink = mentions_sink("http://127.0.0.1:9", "nowhere")
    try:
        assert not await sink.check()
    finally:
        await sink.close()


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request as a secured Elasticsearch does without valid credentials."""

    def _refuse(self) -> None:
        body = json.dumps(
            {"error": {"type": "security_exception", "reason": "unable to authenticate"},
             "status": 401}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = _refuse  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


async def test_refused_credentials_are_fatal_with_what_to_do() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = mentions_sink(f"http://127.0.0.1:{server.server_address[1]}", "sada-mentions")
    try:
        with pytest.raises(Fatal, match=r"refused with 401 .*credentials .*SADA_ES_URL"):
            await sink.start()
        with pytest.raises(Fatal, match="refused with 401"):
            await sink.write(_scored(1))
    finally:
        await sink.close()
        server.shutdown()
