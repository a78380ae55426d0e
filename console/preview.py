"""Query preview: a brand query (core/query.py) tried on a client's recent mentions, with what each
part found and the found words marked, by the matcher itself (`processors.match.try_mention`,
as `sada query test` explains a match), and a bad query's error as `sada config check` words it,
with a caret under the character where it goes wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch
from markupsafe import Markup, escape

from core.errors import ConfigError, QueryError
from core.events import Author, Mention
from core.query import Node, parse
from core.text import normalize, tokenize
from processors.match import Matcher, Trial, compile_query, try_mention
from sinks.elasticsearch import client_alias

RECENT, MOST = 200, 1000  # mentions tried by default, at most
_CHUNKS = re.compile(r"(\s+)")


@dataclass(frozen=True)
class Problem:
    message: str
    position: int | None  # 0-based character of the query, where a caret points


def compile_or_problem(query: str) -> tuple[Node, Matcher] | Problem:
    """The compiled query, or what is wrong with it (and where, when it is a syntax error)."""
    try:
        return compile_query(query)
    except ConfigError as exc:
        try:
            parse(query)
            position = None  # parsed, but refused as a whole (e.g. nothing but NOT)
        except QueryError as error:
            position = error.position
        return Problem(str(exc), position)


def highlight(text: str, words: set[str]) -> Markup:
    """`text`, escaped, with each whitespace-separated piece holding a found word in <mark>."""
    pieces = []
    for piece in _CHUNKS.split(text):
        found = piece.strip() and words & set(tokenize(normalize(piece, fold_ta_marbuta=True)))
        pieces.append(Markup("<mark>{}</mark>").format(piece) if found else escape(piece))
    return Markup("").join(pieces)


def mention_of(doc: dict[str, Any]) -> Mention:
    """The mention an indexed document was made from, enough of it for the matcher."""
    author = doc.get("author") or {}
    return Mention.model_construct(  # as stored: already validated when it was indexed
        uid=doc["uid"], source=doc.get("source", ""), source_id="", url=doc.get("url"),
        author=Author.model_construct(handle=author.get("handle", ""), name=author.get("name"),
                                      followers=author.get("followers")),
        text=doc.get("text", ""), created_at=datetime.fromisoformat(doc["created_at"]),
        fetched_at=datetime.fromisoformat(doc.get("fetched_at") or doc["created_at"]),
    )  # fmt: skip


def recent_request(size: int) -> dict[str, Any]:
    """The newest `size` mentions (one document per mention, whichever brands it concerns)."""
    return {
        "query": {"match_all": {}},
        "sort": [{"created_at": "desc"}],
        "collapse": {"field": "uid"},
        "size": size,
        "ignore_unavailable": True,
        "allow_no_indices": True,
    }


@dataclass(frozen=True)
class Result:
    doc: dict[str, Any]
    trial: Trial
    marked: Markup


@dataclass(frozen=True)
class Preview:
    query: str
    tried: int
    matches: list[Result]
    problem: Problem | None = None


def preview(query: str, compiled: tuple[Node, Matcher], docs: list[dict[str, Any]]) -> Preview:
    """Which of `docs` the compiled query matches, and why."""
    node, matcher = compiled
    matches = []
    for doc in docs:
        trial = try_mention(node, matcher, mention_of(doc))
        if trial.matched:
            words = {w for finding in trial.findings for w in finding.words}
            matches.append(Result(doc, trial, highlight(trial.text, words)))
    return Preview(query, len(docs), matches)


async def load(
    es: AsyncElasticsearch, namespace: str, client: str, query: str, size: int = RECENT
) -> Preview:
    """The query tried on `client`'s newest `size` mentions (a bad query reads none)."""
    compiled = compile_or_problem(query)
    if isinstance(compiled, Problem):
        return Preview(query, 0, [], compiled)
    index = client_alias(namespace, "mentions", client)
    found = await es.search(index=index, **recent_request(size))
    return preview(query, compiled, [hit["_source"] for hit in found["hits"]["hits"]])
