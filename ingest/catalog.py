"""Every source Sada can ingest from, by name: an explicit list of each module's `SOURCE`
(ingest/source.py), no import-time registration, and the jobs a clients file's `sources:`
section asks for. Adding a source: its module, and one line here."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.config import SadaConfig
from core.errors import ConfigError
from ingest import bluesky, gdelt, hackernews, mastodon, push, reddit, replay, rss, synthetic
from ingest.runner import Job
from ingest.source import Source

SOURCES: dict[str, Source[Any]] = {
    source.name: source
    for source in (
        bluesky.SOURCE,
        gdelt.SOURCE,
        hackernews.SOURCE,
        mastodon.SOURCE,
        push.SOURCE,
        reddit.SOURCE,
        replay.SOURCE,
        rss.SOURCE,
        synthetic.SOURCE,
    )
}


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
        try:
            source_config = source.Config.model_validate(entry.model_extra or {})
        except ValidationError as exc:
            problems += [
                f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            ]
            continue
        found.append(Job(entry.name or f"{entry.source}-{index}", source, source_config))
    if problems:
        raise ConfigError("\n".join(problems))
    return found
