"""Against the real local Elasticsearch."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from core.config import Settings
from core.errors import Fatal
from core.events import Alert, Author, Engagement, Mention, ScoredMention, Sentiment
from ingest import synthetic
from sinks.elasticsearch import (
    ALERT_MAPPING,
    MENTION_MAPPING,
    MENTION_SKIPPED,
    SCORED_SKIPPED,
    alert_document,
    alerts_sink,
    mention_document,
    mentions_sink,
    properties,
)


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


# Every field an index made by Sada 0.1 has, with its type: an index keeps its fields' types,
# so a change here would make every existing index refuse to start (see the Fatal test below).
RELEASED_MENTION_FIELDS = {
    "uid": "keyword", "client": "keyword", "brand": "keyword", "brand_key": "keyword",
    "source": "keyword", "url": "keyword", "author.handle": "keyword", "author.name": "keyword",
    "author.followers": "long", "text": "text", "text_normalized": "text", "language": "keyword",
    "language_hint": "keyword", "created_at": "date", "fetched_at": "date",
    "engagement.likes": "long", "engagement.reposts": "long", "engagement.replies": "long",
    "sentiment.label": "keyword", "sentiment.probability": "float", "sentiment.model": "keyword",
    "triage": "keyword", "triage_rule": "text", "matched_terms": "keyword",
    "duplicate_of": "keyword",
}  # fmt: skip
RELEASED_ALERT_FIELDS = {
    "id": "keyword", "status": "keyword", "client": "keyword", "brand": "keyword",
    "kind": "keyword", "window_start": "date", "window_end": "date", "raised_at": "date",
    "observed": "float", "expected": "float", "score": "float", "severity": "keyword",
    "sample_uids": "keyword", "explanation": "text",
}  # fmt: skip
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _full_mention() -> ScoredMention:
    """A scored mention with every optional field set, so each shows in its document."""
    mention = Mention(
        uid="rss-1", source="rss", source_id="https://example.com/1", url="https://example.com/1",
        author=Author(handle="amr", name="Amr", followers=12), text="Widget is great",
        language_hint="en", created_at=T0, fetched_at=T0,
        engagement=Engagement(likes=1, reposts=2, replies=3),
    )  # fmt: skip
    return ScoredMention(
        mention=mention, client="acme", brand="widget", matched_terms=["widget"],
        text_normalized="widget is great", duplicate_of="rss-0", language="en",
        sentiment=Sentiment(label="positive", probability=0.9, model="test"), triage="praise",
        triage_rule="rule 3: sure praise 'great'",
    )  # fmt: skip


def _full_alert() -> Alert:
    return Alert(
        id="a-1", status="escalate", client="acme", brand="widget", kind="volume_spike",
        window_start=T0, window_end=T0, observed=30.0, expected=3.0, score=6.5,
        severity="critical", sample_uids=["rss-1"], explanation="30 mentions, 3 expected",
        raised_at=T0,
    )  # fmt: skip


def _types(mapping: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Each field of a mapping by its dotted path, with its type."""
    found: dict[str, str] = {}
    for name, field in mapping["properties"].items():
        if "properties" in field:
            found |= _types(field, f"{prefix}{name}.")
        else:
            found[prefix + name] = field["type"]
    return found


def _paths(document: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, value in document.items():
        if isinstance(value, dict):
            paths |= _paths(value, f"{prefix}{name}.")
        else:
            paths.add(prefix + name)
    return paths


@pytest.mark.parametrize(
    ("mapping", "released"),
    [(MENTION_MAPPING, RELEASED_MENTION_FIELDS), (ALERT_MAPPING, RELEASED_ALERT_FIELDS)],
    ids=["mentions", "alerts"],
)
def test_every_released_field_keeps_its_type(
    mapping: dict[str, Any], released: dict[str, str]
) -> None:
    types = _types(mapping)
    changed = {f: (t, types.get(f)) for f, t in released.items() if types.get(f) != t}
    assert changed == {}, "field: (type in indexes already made, type now)"
    assert mapping["dynamic"] == "strict"


@pytest.mark.parametrize(
    ("document", "mapping"),
    [
        (mention_document(_full_mention())[1], MENTION_MAPPING),
        (alert_document(_full_alert())[1], ALERT_MAPPING),
    ],
    ids=["mentions", "alerts"],
)
def test_every_document_field_has_a_mapping_and_every_mapping_a_field(
    document: dict[str, Any], mapping: dict[str, Any]
) -> None:
    fields, mapped = _paths(document), set(_types(mapping))
    assert fields - mapped == set(), "in the documents but not in the mapping"
    assert mapped - fields == set(), "in the mapping but never in a document"


def test_the_mention_document_flattens_the_records() -> None:
    record = _full_mention()
    doc_id, document = mention_document(record)
    assert doc_id == "rss-1.acme.widget"
    assert document["brand_key"] == "acme/widget" and document["uid"] == "rss-1"
    assert document["author"] == {"handle": "amr", "name": "Amr", "followers": 12}
    assert document["created_at"] == "2026-01-01T00:00:00+00:00"  # as every version wrote it
    assert document["sentiment"] == {"label": "positive", "probability": 0.9, "model": "test"}
    assert "source_id" not in document and "schema_version" not in document


def test_a_record_field_without_an_elasticsearch_type_is_named() -> None:
    class Odd(BaseModel):
        tags: dict[str, str]

    with pytest.raises(TypeError, match=r"Odd\.tags: no Elasticsearch type"):
        properties(Odd)


def test_a_scored_mention_and_its_mention_share_no_field_name() -> None:
    """They are flattened into one document: a shared name would lose one of the two."""
    mention = set(Mention.model_fields) - MENTION_SKIPPED
    assert mention & (set(ScoredMention.model_fields) - SCORED_SKIPPED) == set()


@pytest.mark.parametrize("kind", ["mentions", "alerts"])
async def test_the_index_holds_the_mapping_and_the_documents_as_built(
    settings: Settings, kind: str
) -> None:
    url = settings.es_url
    if kind == "mentions":
        index, mapping = settings.mentions_index, MENTION_MAPPING
        sink: Any = mentions_sink(url, index)
        record: Any = _full_mention()
        doc_id, document = mention_document(record)
    else:
        index, mapping = settings.alerts_index, ALERT_MAPPING
        sink, record = alerts_sink(url, index), _full_alert()
        doc_id, document = alert_document(record)
    try:
        await sink.start()
        assert await sink.write([record]) == []
        stored = httpx.get(f"{url}/{index}/_mapping").json()[index]["mappings"]
        assert stored == mapping
        assert httpx.get(f"{url}/{index}/_doc/{doc_id}").json()["_source"] == document
    finally:
        await sink.close()
        httpx.delete(f"{url}/{index}")


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
            {
                "error": {"type": "security_exception", "reason": "unable to authenticate"},
                "status": 401,
            }
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
