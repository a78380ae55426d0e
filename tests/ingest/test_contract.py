"""Every source parser against its own fixtures and, when present, the real saved payloads.

The real payloads (../shared/fixtures/sources, see PROVENANCE.md there) are not part of the
repository; without them those cases skip. What is checked is the wire contract: a parser
returns only `Mention | Rejected`, mentions are UTC, non-empty and survive the round trip to
bytes, and a real payload of a documented shape never becomes a Rejected. Last, the producer's
guard: a record too large for Kafka is dead-lettered, never raised.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core import topics
from core.config import Settings
from core.errors import Rejected
from core.events import (
    RECORD_MAX_BYTES,
    SCHEMA_VERSION,
    Author,
    DeadLetter,
    Engagement,
    Mention,
    Removal,
)
from ingest.producer import KafkaEmitter
from sada.topics import ensure_topics
from tests.conftest import read_topic
from tests.ingest.support import FIXTURES, OWN_FIXTURES, PARSERS, SHARED

# meta_webhook's mentions carry the polling sources' names: one uid per comment, both ways
SOURCE_NAMES = {"meta_webhook": ("facebook", "instagram")}


def check(items: list[object]) -> tuple[list[Mention], list[Rejected]]:
    mentions = [i for i in items if isinstance(i, Mention)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    removals = [i for i in items if isinstance(i, Removal)]  # meta_webhook: deletes
    assert len(mentions) + len(rejected) + len(removals) == len(items)
    for mention in mentions:
        assert mention.text.strip() and mention.author.handle
        assert mention.created_at.utcoffset() == timedelta(0)
        assert Mention.from_bytes(mention.to_bytes()) == mention
    for reject in rejected:
        assert reject.reason and reject.reason.split(":")[0] in PARSERS
    return mentions, rejected


@pytest.mark.parametrize(
    ("source", "name"), [(s, f) for s, files in OWN_FIXTURES.items() for f in files]
)
def test_every_source_parses_its_own_fixtures(source: str, name: str) -> None:
    mentions, _ = check(PARSERS[source]((FIXTURES / name).read_bytes()))  # type: ignore[arg-type]
    assert mentions
    assert all(m.source in SOURCE_NAMES.get(source, (source,)) for m in mentions)


def _create_posts(path: str) -> int:
    lines = (SHARED / path).read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return sum(
        1
        for e in events
        if e.get("kind") == "commit"
        and e["commit"].get("collection") == "app.bsky.feed.post"
        and e["commit"].get("operation") == "create"
        and e["commit"]["record"].get("text", "").strip()
    )


# (source, file, how to read it, expected mentions or a function computing it, rejected)
REAL = [
    ("bluesky", "bluesky_jetstream_post_events.jsonl", None, "posts", 0),
    ("bluesky", "bluesky_jetstream_identity_account_delete_events.jsonl", None, 0, 0),
    ("bluesky", "bluesky_jetstream_mixed_golden_events.jsonl", None, "posts", 0),
    ("mastodon", "mastodon_timelines_tag_response.json", None, 1, 0),
    ("mastodon", "mastodon_status_entity_docs_example.json", "array", 1, 0),
    ("hackernews", "hn_algolia_search_story_2024.json", None, "hits", 0),
    ("hackernews", "hn_algolia_search_by_date_comment_2014.json", None, 1, 0),
    ("reddit", "reddit_listing_popular_hot_oauth_2026.json", None, "children", 0),
    ("reddit", "reddit_comments_listing_oauth_2023.json", None, "children", 0),
    ("rss", "google_news_rss_search_brand_gymshark_en-GB_2026_excerpt.xml", None, 3, 0),
    ("gdelt", "gdelt_doc_artlist_article_UNVERIFIED.json", None, 1, 0),
    ("gdelt", "gdelt_doc_429_body_REPORTED.txt", None, 0, 1),  # a page-level error
]


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
@pytest.mark.parametrize(
    ("source", "name", "wrap", "expected", "rejected"), REAL, ids=[f"{r[0]}:{r[1]}" for r in REAL]
)
def test_parsers_read_the_real_payloads(
    source: str, name: str, wrap: str | None, expected: int | str, rejected: int
) -> None:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{name} not in {SHARED}")
    payload = path.read_bytes()
    if wrap == "array":
        payload = b"[" + payload + b"]"
    if expected == "posts":
        expected = _create_posts(name)
    elif expected == "hits":
        expected = len(json.loads(payload)["hits"])
    elif expected == "children":
        expected = len(json.loads(payload)["data"]["children"])
    mentions, rejects = check(PARSERS[source](payload))  # type: ignore[arg-type]
    assert (len(mentions), len(rejects)) == (expected, rejected), [r.reason for r in rejects]


def test_a_record_too_large_for_kafka_is_dead_lettered_not_raised(settings: Settings) -> None:
    """The bounds keep a mention far below Kafka's 1 MB limit; should one get past them (a
    source that builds records unchecked), the producer dead-letters it and goes on."""
    ensure_topics(settings)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    huge = Mention.model_construct(
        uid="huge",
        source="replay",
        source_id="1",
        url=None,
        author=Author(handle="h"),
        text="x" * 2_000_000,
        language_hint=None,
        created_at=at,
        fetched_at=at,
        engagement=Engagement(),
        schema_version=SCHEMA_VERSION,
    )
    fine = huge.model_copy(update={"uid": "fine", "text": "fine"})
    emitter = KafkaEmitter(settings)
    emitter.mention("replay", huge)
    emitter.mention("replay", fine)
    emitter.close()
    raw = [Mention.from_bytes(m.value).uid for m in read_topic(settings, topics.RAW)]
    letters = [DeadLetter.from_bytes(m.value) for m in read_topic(settings, topics.DEADLETTER)]
    assert raw == ["fine"]
    assert [letter.stage for letter in letters] == ["ingest:replay"]
    assert letters[0].reason.startswith("record of 2000") and "1000000-byte limit" in (
        letters[0].reason
    )
    assert letters[0].truncated and letters[0].payload_bytes > RECORD_MAX_BYTES
