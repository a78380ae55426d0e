"""Every source Sada can ingest from, by name: an explicit dict, no import-time registration,
and the jobs a clients file's `sources:` section asks for."""

from __future__ import annotations

from types import ModuleType

from pydantic import ValidationError

from core.config import ConfigError, SadaConfig
from ingest import bluesky, gdelt, hackernews, mastodon, push, reddit, replay, rss, synthetic
from ingest.runner import Job

SOURCES: dict[str, ModuleType] = {
    "bluesky": bluesky,
    "gdelt": gdelt,
    "hackernews": hackernews,
    "mastodon": mastodon,
    "push": push,
    "reddit": reddit,
    "replay": replay,
    "rss": rss,
    "synthetic": synthetic,
}


def jobs(config: SadaConfig) -> list[Job]:
    """Validate every `sources:` entry against its source's Config; report all problems at once."""
    found, problems = [], []
    for index, entry in enumerate(config.sources):
        where = f"sources[{index}]"
        module = SOURCES.get(entry.source)
        if module is None:
            problems.append(
                f"{where}.source: unknown source {entry.source!r}; known: "
                f"{', '.join(sorted(SOURCES))}"
            )
            continue
        try:
            source_config = module.Config.model_validate(entry.model_extra or {})
        except ValidationError as exc:
            problems += [
                f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            ]
            continue
        found.append(Job(entry.name or f"{entry.source}-{index}", module, source_config))
    if problems:
        raise ConfigError("\n".join(problems))
    return found
