"""Every source Sada can ingest from, by name: an explicit dict, no import-time registration."""

from __future__ import annotations

from types import ModuleType

from ingest import replay, synthetic

SOURCES: dict[str, ModuleType] = {
    "replay": replay,
    "synthetic": synthetic,
}
