"""Replay a JSONL file of Mentions at a chosen rate: for demos, backfills and tests.

A line that is not a valid Mention becomes a Rejected naming the file, the line and the problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import Rejected
from core.events import Mention
from ingest.pacing import paced


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


def read(path: Path) -> Iterator[Mention | Rejected]:
    """Every non-blank line of `path`, parsed; a bad line is a Rejected naming file:line."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield parse_line(line.rstrip("\n"), f"{path}:{number}")


async def fetch(
    config: Config, client: httpx.AsyncClient | None = None
) -> AsyncIterator[Mention | Rejected]:
    async for item in paced(read(config.path), config.rate_per_second):
        yield item
