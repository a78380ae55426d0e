"""Against the real local Elasticsearch."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY
from pydantic import BaseModel

from core import connect
from core.config import Settings
from core.errors import Fatal
from core.events import Alert, Author, Engagement, Mention, ScoredMention, Sentiment
from ingest import synthetic
from sinks.elasticsearch import (
    ALERT_MAPPING,
    MENTION_MAPPING,
    MENTION_SKIPPED,
    SCORED_SKIPPED,
    ElasticsearchSink,
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


def _es(settings: Settings) -> Elasticsearch:
    return connect.elasticsearch(settings)


@pytest.mark.parametrize("kind", ["mentions", "alerts"])
async def test_the_index_holds_the_mapping_and_the_documents_as_built(
    settings: Settings, kind: str
) -> None:
    sink: ElasticsearchSink[Any]
    record: Any
    if kind == "mentions":
        mapping, sink, record = MENTION_MAPPING, mentions_sink(settings), _full_mention()
        doc_id, document = mention_document(record)
    else:
        mapping, sink, record = ALERT_MAPPING, alerts_sink(settings), _full_alert()
        doc_id, document = alert_document(record)
    index = f"{settings.namespace}-{kind}-acme-2026.01"
    es = _es(settings)
    custom = {"settings": {"refresh_interval": "7s"}}
    es.cluster.put_component_template(name=f"{settings.namespace}-{kind}@custom", template=custom)
    try:
        await sink.start()
        assert await sink.write([record]) == []
        assert es.indices.get_mapping(index=index)[index]["mappings"] == mapping
        assert es.get(index=index, id=doc_id)["_source"] == document
        aliases = es.indices.get_alias(index=index)[index]["aliases"]
        assert set(aliases) == {f"{settings.namespace}-{kind}", f"{settings.namespace}-{kind}-acme"}
        copies = es.indices.get_settings(index=index)[index]["settings"]["index"]
        assert (copies["number_of_shards"], copies["number_of_replicas"]) == ("1", "0")
        assert copies["refresh_interval"] == "7s"  # from the operator's component template
    finally:
        await sink.close()
        es.indices.delete_index_template(name=f"{settings.namespace}-{kind}")
        es.cluster.delete_component_template(name=f"{settings.namespace}-{kind}@custom")


async def test_each_client_and_month_has_an_index_and_a_replay_overwrites(
    settings: Settings,
) -> None:
    """Client ids may share a prefix (acme, acme-eu): each still gets its own indices."""
    batch = _scored(6)
    for i, record in enumerate(batch):
        mention = record.mention.model_copy(
            update={"created_at": datetime(2026, 1 + i % 2, 9, tzinfo=UTC)}
        )
        batch[i] = record.model_copy(
            update={"client": ["acme", "acme-eu"][i // 3], "mention": mention}
        )
    sink = mentions_sink(settings)
    await sink.start()
    await sink.start()  # a second indexer starting finds the template there
    try:
        assert await sink.check()
        assert await sink.write(batch) == []
        assert await sink.write(batch[:4]) == []  # a replay overwrites, in the same month
        es, ns = _es(settings), settings.namespace
        es.indices.refresh(index=settings.mentions_index)
        assert es.count(index=settings.mentions_index)["count"] == 6
        placed = {
            hit["_id"]: hit["_index"]
            for hit in es.search(index=settings.mentions_index, size=10)["hits"]["hits"]
        }
        assert placed == {
            r.doc_id: f"{ns}-mentions-{r.client}-{r.mention.created_at:%Y.%m}" for r in batch
        }
        assert es.count(index=f"{ns}-mentions-acme")["count"] == 3
        assert es.count(index=f"{ns}-mentions-acme-eu")["count"] == 3
    finally:
        await sink.close()


async def test_an_index_made_by_an_older_version_gets_the_new_fields(settings: Settings) -> None:
    """The mapping is strict: without the new fields, every new document would be rejected."""
    index = f"{settings.namespace}-mentions-acme-2026.01"
    older = {
        **MENTION_MAPPING,
        "properties": {
            k: v for k, v in MENTION_MAPPING["properties"].items() if k != "triage_rule"
        },
    }
    es = _es(settings)
    es.indices.create(index=index, mappings=older)
    sink = mentions_sink(settings)
    try:
        await sink.start()
        assert await sink.write(_scored(3)) == []
        es.indices.refresh(index=index)
        hits = es.search(
            index=f"{settings.namespace}-mentions-acme",
            query={"match": {"triage_rule": "question"}},
        )["hits"]["hits"]
        assert len(hits) == 3
    finally:
        await sink.close()


async def test_an_index_whose_field_changed_type_is_a_clear_fatal_error(settings: Settings) -> None:
    index = f"{settings.namespace}-mentions-acme-2026.01"
    _es(settings).indices.create(index=index, mappings={"properties": {"triage": {"type": "long"}}})
    sink = mentions_sink(settings)
    try:
        with pytest.raises(Fatal, match=f"mapping of {index}: .* cannot extend"):
            await sink.start()
    finally:
        await sink.close()


async def test_a_single_index_from_an_earlier_version_is_a_clear_fatal_error(
    settings: Settings,
) -> None:
    _es(settings).indices.create(index=settings.mentions_index)
    sink = mentions_sink(settings)
    try:
        with pytest.raises(Fatal, match=f"an index {settings.mentions_index} .* reindex .* delete"):
            await sink.start()
    finally:
        await sink.close()


async def test_more_replicas_than_the_cluster_can_place_is_a_clear_fatal_error(
    settings: Settings,
) -> None:
    sink = alerts_sink(settings.model_copy(update={"es_replicas": {"*": 0, "alerts": 1}}))
    try:
        with pytest.raises(
            Fatal, match="SADA_ES_REPLICAS 1 for alerts needs 2 data nodes; .* has 1"
        ):
            await sink.start()
    finally:
        await sink.close()


async def test_an_unreachable_server_is_not_ready() -> None:
    sink = mentions_sink(Settings(es_url="http://127.0.0.1:9"))
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


@pytest.mark.parametrize(
    ("credentials", "named"),
    [
        ({}, "no credentials"),
        ({"es_api_key": "c2VjcmV0LWtleQ=="}, "the API key in SADA_ES_API_KEY"),
        ({"es_username": "sada", "es_password": "pa55word"}, r"user sada \(SADA_ES_USERNAME"),
    ],
    ids=["none", "api-key", "user"],
)
async def test_refused_credentials_are_fatal_with_what_to_do(
    credentials: dict[str, str], named: str
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    sink = mentions_sink(Settings.model_validate({"es_url": url, **credentials}))
    try:
        with pytest.raises(
            Fatal, match=rf"at {url}, starting .*refused with 401 .*{named}"
        ) as info:
            await sink.start()
        assert "c2VjcmV0" not in str(info.value) and "pa55word" not in str(info.value)
        with pytest.raises(Fatal, match="refused with 401"):
            await sink.write(_scored(1))
    finally:
        await sink.close()
        server.shutdown()


async def test_the_delay_from_fetch_to_index_is_observed_and_a_refusal_names_its_uid(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Only documents Elasticsearch accepted count in the delay; the refused one (a keyword
    longer than Lucene's 32,766 bytes) is logged with its mention's uid."""
    scored = _full_mention()
    fetched = datetime.now(UTC) - timedelta(seconds=30)
    good = scored.model_copy(
        update={"mention": scored.mention.model_copy(update={"fetched_at": fetched})}
    )
    bad = good.model_copy(
        update={
            "mention": good.mention.model_copy(update={"uid": "rss-2"}),
            "matched_terms": ["x" * 33_000],
        }
    )
    name = "sada_mention_indexed_delay_seconds"
    count, total = (REGISTRY.get_sample_value(f"{name}_{s}") or 0.0 for s in ("count", "sum"))
    sink = mentions_sink(settings)
    await sink.start()
    try:
        with caplog.at_level(logging.WARNING, "sinks.elasticsearch"):
            [(refused, _)] = await sink.write([good, bad])
    finally:
        await sink.close()
    assert refused is bad
    assert REGISTRY.get_sample_value(f"{name}_count") == count + 1
    assert 30 <= (REGISTRY.get_sample_value(f"{name}_sum") or 0.0) - total < 60
    [record] = caplog.records
    assert getattr(record, "uid", None) == "rss-2"
    assert "refused document rss-2.acme.widget (document_parsing_exception)" in record.getMessage()
