"""Replay a JSONL file of Mentions at a chosen rate: for demos, backfills and tests.

A line that is not a valid Mention becomes a Rejected naming the file, the line and the problem;
a line longer than a record may be (RECORD_MAX_BYTES) is rejected unparsed, so one 20 MB line is
dead-lettered (its head, size and sha256) and the lines after it still flow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import Rejected
from core.events import RECORD_MAX_BYTES, Mention
from ingest.pacing import paced
from ingest.source import Source


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="JSONL file, one Mention per line.")
    rate_per_second: float | None = Field(
        default=None, gt=0, description="Mentions per second; empty means as fast as possible."
    )


def parse_line(line: str, where: str) -> Mention | Rejected:
    try:
        return Mention.model_validate_json(line)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
        return Rejected(payload=line, reason=f"{where}: not a valid Mention: {problems}")


def numbered(path: Path, after: int = 0) -> Iterator[tuple[int, Mention | Rejected]]:
    """(line number, item) for every non-blank line of `path` past line `after` (skipped
    unparsed). A bad line is a Rejected naming file:line."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip(b"\n")
            if number <= after or not line.strip():
                continue
            where = f"{path}:{number}"
            if len(line) > RECORD_MAX_BYTES:
                yield (
                    number,
                    Rejected(
                        payload=line.decode("utf-8", errors="replace"),
                        reason=f"{where}: line of {len(line)} bytes exceeds the {RECORD_MAX_BYTES}"
                        "-byte limit of a record; not parsed",
                    ),
                )
            else:
                yield number, parse_line(line.decode("utf-8", errors="replace"), where)


def read(path: Path) -> Iterator[Mention | Rejected]:
    """Every non-blank line of `path`, parsed."""
    return (item for _, item in numbered(path))


# Replays that failed part-way: the last line whose item the runner has taken and emitted.
_unfinished: dict[Config, int] = {}


async def fetch(
    config: Config, client: httpx.AsyncClient | None = None
) -> AsyncIterator[Mention | Rejected]:
    """The file's items. The runner asks for the next item only once it emitted the last, so
    when it restarts a replay that failed (a broker error while producing line 900), the
    replay resumes at the line that failed instead of producing lines 1-899 again."""
    after = _unfinished.get(config, 0)
    async for number, item in paced(numbered(config.path, after), config.rate_per_second):
        _unfinished[config] = number - 1
        yield item
    _unfinished.pop(config, None)


SOURCE = Source("replay", Config, fetch, "finite")
