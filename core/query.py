"""The brand query language: parse a query string into a small tree the matcher compiles.

    query    := or
    or       := and ("OR" and)*
    and      := near (["AND"] near)*          adjacent operands mean AND
    near     := unary (("NEAR/n" | "ONEAR/n") unary)*
    unary    := "NOT" unary | "(" or ")" | term | "phrase" | field:value

Operators are upper case; lower-case and/or/not are ordinary words. A term may carry a marker
(#hashtag, $cashtag, @handle), end in `*` (prefix wildcard) or `~` (Arabizi spelling variants).
Errors carry the character position and what was expected there, so a config check can point
at the exact spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.errors import QueryError
from core.text import is_arabizi_word, normalize, tokenize, words

LANGUAGES = ("ar", "arz", "en", "fr", "und")
FIELDS = ("lang", "source", "author", "site", "min_followers")
MAX_DEPTH = 32
_PRIMARY = 'a term, a "phrase", a field filter such as lang:ar, or "("'
_NEAR = re.compile(r"(O?NEAR)(?:/(.*))?")
_FIELD = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)


@dataclass(frozen=True)
class Term:
    """Words that must appear in order; `marker` (#, $, @) applies to the first word."""

    text: str
    words: tuple[str, ...]
    marker: str = ""
    wildcard: bool = False
    fuzzy: bool = False
    position: int = 0


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    position: int = 0


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int
    ordered: bool


Node = Term | Field | Not | And | Or | Near


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "op", "phrase", "word", "end"
    value: str
    position: int

    def describe(self) -> str:
        return "the end of the query" if self.kind == "end" else repr(self.value)


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(
                    len(query),
                    f'a closing " for the phrase opened at character {i + 1}',
                    "the end of the query",
                )
            stop = end + 2 if query[end + 1 : end + 2] == "~" else end + 1
            tokens.append(_Token("phrase", query[i:stop], i))
            i = stop
        else:
            start = i
            while i < len(query) and not query[i].isspace() and query[i] not in '()"':
                i += 1
            word = query[start:i]
            kind = "op" if word in ("AND", "OR", "NOT") or _NEAR.fullmatch(word) else "word"
            tokens.append(_Token(kind, word, start))
    tokens.append(_Token("end", "", len(query)))
    return tokens


def _term(raw: str, position: int, *, quoted: bool) -> Term:
    body, fuzzy = (raw[:-1], True) if raw.endswith("~") else (raw, False)
    if quoted:
        body = body[1:-1]
    marker = body[0] if body[:1] in ("#", "$", "@") and not quoted else ""
    body = body[len(marker) :]
    wildcard = not quoted and body.endswith("*")
    body = body.rstrip("*") if wildcard else body
    if "*" in body:
        expected = (
            "a phrase without * (wildcards end single unquoted terms)"
            if quoted
            else "* only at the end of a term"
        )
        raise QueryError(position + raw.index("*"), expected, repr(raw))
    text = normalize(body, fold_ta_marbuta=True)
    if marker:
        tokens = tokenize(marker + text)
        found = (tokens[0][1:], *tokens[1:]) if tokens and tokens[0][0] == marker else ()
    else:
        found = tuple(words(text))
    if not found:
        raise QueryError(position, "a term with at least one letter, digit or emoji", repr(raw))
    if wildcard and (len(found) > 1 or len(found[0]) < 2 or fuzzy):
        raise QueryError(
            position, "at least two letters before * in a single-word term without ~", repr(raw)
        )
    fuzzy = fuzzy or (not wildcard and any(is_arabizi_word(w) for w in found))
    return Term(raw, found, marker, wildcard, fuzzy, position)


def _field(name: str, value: str, position: int) -> Field:
    value = value.strip().lower()
    if name == "author":
        value = value.lstrip("@")
    if name == "site":
        value = re.sub(r"^[a-z]+://", "", value).removeprefix("www.").rstrip("/")
    if not value:
        raise QueryError(position + len(name) + 1, f"a value after {name}:", "nothing")
    if name == "lang" and value not in LANGUAGES:
        raise QueryError(position + len(name) + 1, f"one of {', '.join(LANGUAGES)}", repr(value))
    if name == "min_followers" and not value.isdigit():
        raise QueryError(position + len(name) + 1, "a whole number of followers", repr(value))
    return Field(name, value, position)


def _arabizi_siblings(children: list[Node]) -> tuple[Node, ...]:
    """Give Arabizi variants to every plain Latin term of an AND group that has an Arabizi word.

    `3amr diab` is written in Arabizi as a whole, so `diab` varies (`dyab`) as `3amr` does.
    """
    plain = [
        c
        for c in children
        if isinstance(c, Term) and not c.marker and not c.wildcard and c.text.isascii()
    ]
    if not any(term.fuzzy for term in plain):
        return tuple(children)
    return tuple(replace(c, fuzzy=True) if c in plain else c for c in children)


def _positional(node: Node) -> bool:
    if isinstance(node, Or):
        return all(_positional(child) for child in node.children)
    return isinstance(node, Term | Near)


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _lex(query)
        self.at = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_()
        token = self.peek()
        if token.kind != "end":
            raise QueryError(
                token.position, "an operator or the end of the query", token.describe()
            )
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while self.peek().value == "OR" and self.peek().kind == "op":
            self.take()
            children.append(self.and_())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self) -> Node:
        children = [self.near()]
        while True:
            token = self.peek()
            if token.kind == "op" and token.value == "AND":
                self.take()
            elif not (token.kind in ("word", "phrase", "(") or token.value == "NOT"):
                break
            children.append(self.near())
        return children[0] if len(children) == 1 else And(_arabizi_siblings(children))

    def near(self) -> Node:
        start = self.peek()
        node = self.unary()
        while self.peek().kind == "op" and (found := _NEAR.fullmatch(self.peek().value)):
            operator = self.take()
            if not (found.group(2) or "").isdigit():
                raise QueryError(
                    operator.position + len(found.group(1)),
                    f"a distance in words, as in {found.group(1)}/3",
                    repr(operator.value),
                )
            if not _positional(node):
                raise QueryError(
                    start.position,
                    f"a term, phrase or OR group before {operator.value}",
                    "a NOT, AND or field filter",
                )
            right_start = self.peek()
            right = self.unary()
            if not _positional(right):
                raise QueryError(
                    right_start.position,
                    f"a term, phrase or OR group after {operator.value}",
                    "a NOT, AND or field filter",
                )
            ordered = found.group(1) == "ONEAR"
            node = Near(node, right, int(found.group(2)), ordered)
        return node

    def unary(self) -> Node:
        token = self.take()
        if token.kind == "op" and token.value == "NOT":
            return Not(self.unary())
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(token.position, f"at most {MAX_DEPTH} nested parentheses", "more")
            node = self.or_()
            closing = self.take()
            if closing.kind != ")":
                raise QueryError(
                    closing.position,
                    f'")" to close the "(" at character {token.position + 1}',
                    closing.describe(),
                )
            self.depth -= 1
            return node
        if token.kind == "phrase":
            return _term(token.value, token.position, quoted=True)
        if token.kind == "word":
            field = _FIELD.fullmatch(token.value)
            if field and field.group(1).lower() in FIELDS:
                return _field(field.group(1).lower(), field.group(2), token.position)
            if field and field.group(2):
                raise QueryError(
                    token.position,
                    f"a field among {', '.join(FIELDS)} (quote a term that contains a colon)",
                    repr(field.group(1)),
                )
            return _term(token.value, token.position, quoted=False)
        raise QueryError(token.position, _PRIMARY, token.describe())


def parse(query: str) -> Node:
    """Parse one query; raise QueryError at the first problem."""
    return _Parser(query).parse()


def anchored(node: Node) -> bool:
    """True when the query can only match a post containing one of its terms.

    An include query needs this: `NOT x` or `lang:ar` alone would match every post, which the
    term index, by design, never looks at.
    """
    if isinstance(node, And):
        return any(anchored(child) for child in node.children)
    if isinstance(node, Or):
        return all(anchored(child) for child in node.children)
    return isinstance(node, Term | Near)


def leaves(node: Node, negated: bool = False) -> list[tuple[Term | Field, bool]]:
    """Every term and field filter in reading order, each with whether an odd number of NOTs
    stands over it (it then rules a post out instead of in)."""
    if isinstance(node, Term | Field):
        return [(node, negated)]
    if isinstance(node, Not):
        return leaves(node.child, not negated)
    if isinstance(node, Near):
        return leaves(node.left, negated) + leaves(node.right, negated)
    return [leaf for child in node.children for leaf in leaves(child, negated)]


def terms(node: Node) -> list[Term]:
    """Every term of the query, NOT branches included, in reading order."""
    return [leaf for leaf, _ in leaves(node) if isinstance(leaf, Term)]


MAX_ALTERNATIVES = 64  # combinations of ANDed ORs a search asks for


@dataclass(frozen=True)
class Search:
    """What a keyword search can ask for a query: alternatives, each a list of words and
    "quoted phrases" that must all appear (any alternative will do), and what of the query a
    search cannot say, which the matcher applies to what comes back."""

    alternatives: tuple[tuple[str, ...], ...]
    after_fetch: tuple[str, ...]


def search(node: Node) -> Search:
    """The query as a keyword search asks for it: wide enough never to miss a post the query
    matches (the matcher then decides precisely), as narrow as a search can say."""
    notes: list[str] = []
    alternatives = _alternatives(node, notes)
    return Search(tuple(alternatives), tuple(dict.fromkeys(notes)))


def _alternatives(node: Node, notes: list[str]) -> list[tuple[str, ...]]:
    """Disjunctive form over the positive terms; [] means the node adds no condition."""
    if isinstance(node, Term):
        return [(_searchable(node, notes),)]
    if isinstance(node, Field):
        notes.append(f"{node.name}:{node.value}")
        return []
    if isinstance(node, Not):
        notes.append(f"NOT {' '.join(t.text for t in terms(node.child)) or '...'}")
        return []
    if isinstance(node, Near):
        notes.append(f"NEAR/{node.distance} (searched as AND)")
        return _alternatives(And((node.left, node.right)), notes)
    if isinstance(node, Or):
        return [a for child in node.children for a in _alternatives(child, notes)]
    combined: list[tuple[str, ...]] = [()]
    for child in node.children:
        options = _alternatives(child, notes)
        if options:
            combined = [left + right for left in combined for right in options]
            if len(combined) > MAX_ALTERNATIVES:  # ANDed ORs multiply: search the first ones
                notes.append(f"only {MAX_ALTERNATIVES} of the {len(combined)} combinations of AND")
                combined = combined[:MAX_ALTERNATIVES]
    return [c for c in combined if c]


def _searchable(term: Term, notes: list[str]) -> str:
    """The term as the user wrote it (searches want the real spelling, not the matcher's
    normalised one), less its operators; a phrase stays quoted."""
    text = term.text.removesuffix("~").strip('"').removesuffix("*")
    if term.wildcard:
        notes.append(f"{text}* (searched as {text})")
    if term.fuzzy:
        notes.append(f"{text}~ (other Arabizi spellings)")
    return f'"{text}"' if len(term.words) > 1 and not term.marker else text
