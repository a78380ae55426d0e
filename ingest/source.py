"""What a source is to the runner and the catalog: a `Source` object that each source module
ends with (`SOURCE = Source(NAME, Config, fetch, "polling")`), listed by name in
ingest/catalog.py.

How the runner drives a source is said by its kind, not guessed from its fetch:

- `polling`: one `fetch` is one round over every target; the runner calls it again after the
  config's `poll_interval_seconds` (mastodon, hackernews, rss, reddit, gdelt).
- `streaming`: `fetch` runs until stopped; `fetch(..., once=True)` makes it stop on its own
  when it has caught up (bluesky, push).
- `finite`: `fetch` ends when its input does (a file replay, the synthetic stream); it is not
  run again.

A source whose platform lets the brand's own account answer also has a `reply`: it posts
`text` in answer to a mention's `reply_target` through the platform's API, with the source's
credentials, and returns the platform's id of the answer. The console answers through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Concatenate, Generic, Literal, Protocol, TypeVar, cast

import httpx
from pydantic import BaseModel

from ingest.parsing import Item
from ingest.terms import Syntax

C = TypeVar("C", bound=BaseModel)

Kind = Literal["polling", "streaming", "finite"]


class _Polled(Protocol):
    poll_interval_seconds: float


@dataclass(frozen=True)
class Source(Generic[C]):
    """A source: its name in the clients file and on the command line, its Config model,
    its fetch (config, client, then keywords of its own) and its kind."""

    name: str
    Config: type[C]
    fetch: Callable[Concatenate[C, httpx.AsyncClient, ...], AsyncIterator[Item]]
    kind: Kind
    reply: Callable[[C, httpx.AsyncClient, str, str], Awaitable[str]] | None = None
    search: Syntax | None = None  # how its `queries` (or `hashtags`) are written: ingest/terms.py

    @property
    def search_field(self) -> str:
        """The Config field a search is given in."""
        return "hashtags" if self.search == "hashtags" else "queries"

    def __post_init__(self) -> None:
        if self.kind == "polling" and "poll_interval_seconds" not in self.Config.model_fields:
            raise TypeError(
                f"source {self.name!r} is polling: its Config needs poll_interval_seconds"
            )

    def items(self, config: C, client: httpx.AsyncClient, *, once: bool) -> AsyncIterator[Item]:
        """One fetch; with `once`, a streaming source stops when it has caught up."""
        if once and self.kind == "streaming":
            return self.fetch(config, client, once=True)
        return self.fetch(config, client)

    def interval(self, config: C) -> float | None:
        """Seconds until the next round, or None: when the fetch ends, the source is done."""
        return cast(_Polled, config).poll_interval_seconds if self.kind == "polling" else None
