from __future__ import annotations

import inspect
from typing import Any

import pytest
import yaml

from core.config import SadaConfig
from core.errors import ConfigError
from ingest.catalog import SOURCES, jobs, search_plan
from ingest.source import Source

KINDS = {
    "bluesky": "streaming",
    "meta_webhook": "streaming",
    "push": "streaming",
    "telegram": "streaming",
    "gdelt": "polling",
    "hackernews": "polling",
    "mastodon": "polling",
    "telegram_preview": "polling",
    "appstore": "polling",
    "googleplay": "polling",
    "reddit": "polling",
    "youtube": "polling",
    "rss": "polling",
    "replay": "finite",
    "synthetic": "finite",
    "x": "polling",
    "x_stream": "streaming",
    "facebook": "polling",  # Graph API, Meta
    "instagram": "polling",  # Graph API, Meta
}


def test_every_source_is_registered_under_its_own_name_with_its_kind() -> None:
    assert {name: source.name for name, source in SOURCES.items()} == {n: n for n in KINDS}
    assert {name: source.kind for name, source in SOURCES.items()} == KINDS


@pytest.mark.parametrize("source", list(SOURCES.values()), ids=lambda s: s.name)
def test_a_fetch_takes_once_exactly_when_its_source_streams(source: Source[Any]) -> None:
    """The kind is what the runner goes by; this keeps it true to each fetch."""
    takes_once = "once" in inspect.signature(source.fetch).parameters
    assert takes_once == (source.kind == "streaming")


def _config(sources: str, include: str = "acme") -> SadaConfig:
    brand = {"id": "acme", "name": "Acme", "include": [include]}
    clients = [{"id": "agency", "name": "Agency", "brands": [brand]}]
    return SadaConfig.model_validate({"clients": clients, "sources": yaml.safe_load(sources)})


def test_jobs_validate_each_entry_against_its_source_config() -> None:
    found = jobs(
        _config(
            "[{source: hackernews, queries: [acme]}, {source: rss, name: feeds, "
            "feeds: ['https://feed.example/rss']}]"
        )
    )
    assert [(job.name, job.source.name) for job in found] == [
        ("hackernews-0", "hackernews"),
        ("feeds", "rss"),
    ]
    assert found[0].config == SOURCES["hackernews"].Config(queries=["acme"])


def test_jobs_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        jobs(_config("[{source: nntp}, {source: hackernews, brands: [agency/nope]}]"))
    assert str(raised.value).splitlines() == [
        "sources[0].source: unknown source 'nntp'; known: " + ", ".join(sorted(KINDS)),
        "sources[1].brands: no such client/brand: agency/nope",
    ]


def test_a_searching_source_without_queries_searches_the_brands_own() -> None:
    config = _config(
        "[{source: hackernews}, {source: mastodon, instances: ['https://mastodon.social'], brands: [agency/acme]}, "
        "{source: reddit, client_id: x, client_secret: y, user_agent: 'web:sada:1 (by /u/x)', "
        "queries: ['mine']}]"
    )
    found = jobs(config)
    assert [getattr(job.config, "queries", None) for job in found] == [["acme"], None, ["mine"]]
    assert found[1].config.hashtags == ["acme"]  # type: ignore[attr-defined]
    assert search_plan(config) == [
        "hackernews-0: searches queries ['acme']",
        "mastodon-1: searches hashtags ['acme']",
        "reddit-2: searches its own queries: ['mine']",
    ]


def test_youtube_and_x_stream_without_queries_search_the_brands_own() -> None:
    """YouTube's search.list q takes plain words and phrases (one search per alternative); X's
    stream rules are boolean, the alternatives OR-ed into as few rules as fit."""
    config = _config(
        "[{source: youtube, api_key: k}, {source: x_stream, bearer_token: t}, "
        "{source: youtube, api_key: k, queries: ['mine']}]",
        include='acme OR "acme bank" OR (أكمي AND بنك)',
    )
    found = jobs(config)
    assert [job.config.queries for job in found] == [  # type: ignore[attr-defined]
        ["acme", '"acme bank"', "أكمي بنك"],
        ['acme OR "acme bank" OR (أكمي بنك)'],
        ["mine"],
    ]
    assert search_plan(config)[:2] == [
        """youtube-0: searches queries ['acme', '"acme bank"', 'أكمي بنك']""",
        "x_stream-1: searches queries ['acme OR \"acme bank\" OR (أكمي بنك)']",
    ]
