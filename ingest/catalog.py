"""Every source Sada can ingest from, by name: an explicit list of each module's `SOURCE`
(ingest/source.py), no import-time registration, and the jobs a clients file's `sources:`
section asks for. Adding a source: its module, and one line here."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.config import SadaConfig
from core.errors import ConfigError
from ingest import (
    appstore,
    bluesky,
    facebook,
    gdelt,
    googleplay,
    hackernews,
    instagram,
    mastodon,
    meta_webhook,
    push,
    reddit,
    replay,
    rss,
    synthetic,
    telegram,
    telegram_preview,
    terms,
    x,
    youtube,
)
from ingest.runner import Job
from ingest.source import Source

SOURCES: dict[str, Source[Any]] = {
    source.name: source
    for source in (
        appstore.SOURCE,
        bluesky.SOURCE,
        facebook.SOURCE,
        gdelt.SOURCE,
        googleplay.SOURCE,
        hackernews.SOURCE,
        instagram.SOURCE,
        mastodon.SOURCE,
        meta_webhook.SOURCE,
        push.SOURCE,
        reddit.SOURCE,
        replay.SOURCE,
        rss.SOURCE,
        synthetic.SOURCE,
        telegram.SOURCE,
        telegram_preview.SOURCE,
        x.SOURCE,
        x.STREAM_SOURCE,
        youtube.SOURCE,
    )
}


def search_plan(config: SadaConfig) -> list[str]:
    """For `sada config check`: what each searching source will ask for, and what of the
    brands' queries only the matcher can apply (the search cannot say it)."""
    lines = []
    for index, entry in enumerate(config.sources):
        source = SOURCES.get(entry.source)
        if source is None or not source.search:
            continue
        name = entry.name or f"{entry.source}-{index}"
        given = (entry.model_extra or {}).get(source.search_field)
        if given is not None:
            lines.append(f"{name}: searches its own {source.search_field}: {given}")
            continue
        derived = terms.derive(config, entry.brands, source.search)
        lines.append(f"{name}: searches {source.search_field} {derived.queries}")
        lines += [f"{name}:   applied after fetching: {note}" for note in derived.after_fetch]
    return lines


def jobs(config: SadaConfig) -> list[Job]:
    """Validate every `sources:` entry against its source's Config; report all problems at once."""
    found, problems = [], []
    for index, entry in enumerate(config.sources):
        where = f"sources[{index}]"
        source = SOURCES.get(entry.source)
        if source is None:
            problems.append(
                f"{where}.source: unknown source {entry.source!r}; known: "
                f"{', '.join(sorted(SOURCES))}"
            )
            continue
        fields = dict(entry.model_extra or {})
        if source.search and source.search_field not in fields:
            if unknown := terms.unknown_brands(config, entry.brands):
                problems.append(f"{where}.brands: no such client/brand: {', '.join(unknown)}")
                continue
            fields[source.search_field] = terms.derive(config, entry.brands, source.search).queries
        try:
            source_config = source.Config.model_validate(fields)
        except ValidationError as exc:
            problems += [
                f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            ]
            continue
        found.append(Job(entry.name or f"{entry.source}-{index}", source, source_config))
    if problems:
        raise ConfigError("\n".join(problems))
    return found
