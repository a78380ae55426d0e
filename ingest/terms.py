"""What a keyword-searching source asks its platform for, derived from the brands' own queries.

A brand's include queries are the one place its terms are written; a source whose entry in the
clients file lists no queries of its own searches for them, in its platform's syntax (its
`Source.search`). The search is as wide as the query (never narrower: a post it misses is lost),
and what a search cannot say (NOT, field filters, NEAR, wildcards, other Arabizi spellings) is
listed, since the matcher applies it to what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.config import Brand, SadaConfig
from core.errors import QueryError
from core.query import Search, parse, search

Syntax = Literal["boolean", "plain", "hashtags"]
"""boolean: `a OR (b c) OR "d e"` (X, Reddit, GDELT); plain: one request per alternative, its
words all required (Hacker News, YouTube); hashtags: one tag per alternative (Instagram,
Mastodon), words run together."""

MAX_QUERY_CHARS = 512  # X's recent search and a basic filtered-stream rule; others allow more


@dataclass(frozen=True)
class Derived:
    queries: list[str]
    after_fetch: list[str]  # what the search could not say, applied by the matcher


def derive(config: SadaConfig, brand_ids: list[str], syntax: Syntax) -> Derived:
    """The queries a source of this syntax sends for these brands (`client/brand`; all when
    empty), and the notes on what it could not translate."""
    queries: list[str] = []
    notes: list[str] = []
    for key, brand in _brands(config, brand_ids):
        for include in brand.include:
            try:
                found = search(parse(include))
            except QueryError:
                continue  # `sada config check` names it (processors.match.check_queries)
            queries += _format(found, syntax)
            notes += [f"{key}: {note}" for note in found.after_fetch]
    if syntax == "boolean":
        queries = _joined(queries)
    return Derived(list(dict.fromkeys(queries)), list(dict.fromkeys(notes)))


def unknown_brands(config: SadaConfig, brand_ids: list[str]) -> list[str]:
    known = {f"{c.id}/{b.id}" for c in config.clients for b in c.brands}
    return [key for key in brand_ids if key not in known]


def _brands(config: SadaConfig, brand_ids: list[str]) -> list[tuple[str, Brand]]:
    every = [(f"{c.id}/{b.id}", b) for c in config.clients for b in c.brands]
    return [(key, b) for key, b in every if not brand_ids or key in brand_ids]


def _format(found: Search, syntax: Syntax) -> list[str]:
    if syntax == "hashtags":
        return [
            "".join(part.strip('"#@$').replace(" ", "") for part in alternative)
            for alternative in found.alternatives
        ]
    if syntax == "plain":
        return [" ".join(alternative) for alternative in found.alternatives]
    return [
        alternative[0] if len(alternative) == 1 else f"({' '.join(alternative)})"
        for alternative in found.alternatives
    ]


def _joined(alternatives: list[str]) -> list[str]:
    """Boolean alternatives OR-ed together, in as few queries as fit the length limit."""
    queries: list[str] = []
    for alternative in dict.fromkeys(alternatives):
        if queries and len(queries[-1]) + len(" OR ") + len(alternative) <= MAX_QUERY_CHARS:
            queries[-1] += f" OR {alternative}"
        else:
            queries.append(alternative)
    return queries
