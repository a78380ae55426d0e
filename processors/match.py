"""Brand matching: which configured brands a mention concerns, and through which query terms.

Every brand's include and exclude queries compile into one token index: the first word of each
query term (with its Arabic clitic forms, its wildcard prefix or its Arabizi key) points at the
term. A mention's tokens are looked up once each, so the cost grows with the text, not with the
number of brands; only brands with a term found are then evaluated (boolean, NEAR, fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from core.config import SadaConfig
from core.errors import ConfigError, QueryError
from core.events import Author, Mention
from core.query import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Term,
    anchored,
    leaves,
    parse,
    terms,
)
from core.text import arabizi_key, normalize, tokenize
from processors.language import detect_language

_MARKERS = "#@$"
_PROCLITICS = ("و", "ف", "ب", "ك", "ل", "وب", "فب", "وك", "فك", "ول", "فل")
# the article after each proclitic; ل + ال is written لل
_WITH_ARTICLE = (
    *(p + "ال" for p in ("", "و", "ف", "ب", "ك", "وب", "فب", "وك", "فك")),
    "لل",
    "ولل",
    "فلل",
)
_CLITICS = frozenset((*_PROCLITICS, *_WITH_ARTICLE))
# a Latin word written straight after Arabic letters: بالiphone
_GLUED = re.compile("([\u0600-\u06ff]+)([a-z0-9]+)")
_CACHE_SIZE = 200_000
_UNANCHORED = "expected a term outside NOT: field filters and NOT alone would match every post"

Span = tuple[int, int]


@dataclass(frozen=True)
class BrandMatch:
    client: str
    brand: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class _Rule:
    client: str
    brand: str
    include: tuple[Node, ...]
    exclude: tuple[Node, ...]


@dataclass(frozen=True)
class _Atom:
    """One distinct query term: the marker its first token needs, the words that must follow."""

    marker: str
    rest: tuple[str, ...]
    fuzzy: bool
    rules: list[int] = field(default_factory=list, compare=False)


@dataclass
class Matcher:
    """All brands' queries, compiled once at start-up; reuse it for every mention."""

    rules: tuple[_Rule, ...]
    atoms: list[_Atom]
    atom_of: dict[Term, int]
    exact: dict[str, list[int]]
    prefixes: dict[str, list[int]]
    prefix_lengths: tuple[int, ...]
    fuzzy: dict[str, list[int]]
    cache: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _is_arabic(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"


def clitic_forms(word: str) -> set[str]:
    """The word and the forms it takes after و ف ب ك ل and the article ال, alone or combined."""
    if not _is_arabic(word):
        return {word}
    forms = {word, *(p + word for p in _PROCLITICS)}
    if word.startswith("ال"):
        forms -= {"ل" + word, "ول" + word, "فل" + word}
        forms |= {"لل" + word[2:], "ولل" + word[2:], "فلل" + word[2:]}
    else:
        forms |= {a + word for a in _WITH_ARTICLE}
    return forms


def _checked(query: str, kind: str) -> Node | str:
    """The parsed query, or what is wrong with it: the position and what was expected there."""
    try:
        node = parse(query)
    except QueryError as exc:
        return str(exc)
    return _UNANCHORED if kind == "include" and not anchored(node) else node


def _parse_all(config: SadaConfig) -> tuple[list[_Rule], list[str]]:
    rules, errors = [], []
    for client in config.clients:
        for brand in client.brands:
            parsed: dict[str, list[Node]] = {"include": [], "exclude": []}
            for kind, queries in (("include", brand.include), ("exclude", brand.exclude)):
                for index, query in enumerate(queries):
                    found = _checked(query, kind)
                    if isinstance(found, str):
                        where = f"client {client.id!r}, brand {brand.id!r}, {kind}[{index}]"
                        errors.append(f"{where} {query!r}: {found}")
                    else:
                        parsed[kind].append(found)
            rules.append(
                _Rule(client.id, brand.id, tuple(parsed["include"]), tuple(parsed["exclude"]))
            )
    return rules, errors


def check_queries(config: SadaConfig) -> list[str]:
    """Every query error of the config at once, each naming client, brand, field and position."""
    return _parse_all(config)[1]


def _compile(rules: list[_Rule]) -> Matcher:
    matcher = Matcher(tuple(rules), [], {}, {}, {}, (), {})
    by_signature: dict[tuple[object, ...], int] = {}
    for rule_id, rule in enumerate(rules):
        for term in (t for q in rule.include + rule.exclude for t in terms(q)):
            fuzzy = term.fuzzy and all(w.isascii() for w in term.words)
            signature = (term.words, term.marker, term.wildcard, fuzzy)
            if signature not in by_signature:
                by_signature[signature] = len(matcher.atoms)
                _index(matcher, term, fuzzy, len(matcher.atoms))
            atom_id = by_signature[signature]
            matcher.atom_of[term] = atom_id
            if rule_id not in matcher.atoms[atom_id].rules:
                matcher.atoms[atom_id].rules.append(rule_id)
    matcher.prefix_lengths = tuple(sorted({len(key) for key in matcher.prefixes}))
    return matcher


def _index(matcher: Matcher, term: Term, fuzzy: bool, atom_id: int) -> None:
    first, rest = term.words[0], term.words[1:]
    if fuzzy:
        matcher.atoms.append(_Atom(term.marker, tuple(arabizi_key(w) for w in rest), True))
        matcher.fuzzy.setdefault(arabizi_key(first), []).append(atom_id)
        return
    matcher.atoms.append(_Atom(term.marker, rest, False))
    table = matcher.prefixes if term.wildcard else matcher.exact
    for form in clitic_forms(first) if not term.marker else {first}:
        table.setdefault(form, []).append(atom_id)


def build_matcher(config: SadaConfig) -> Matcher:
    """Compile every brand's queries once, at start-up; raise ConfigError listing bad queries."""
    rules, errors = _parse_all(config)
    if errors:
        raise ConfigError(
            f"{len(errors)} invalid quer{'y' if len(errors) == 1 else 'ies'}:\n  "
            + "\n  ".join(errors)
        )
    return _compile(rules)


def _candidates(matcher: Matcher, word: str) -> tuple[int, ...]:
    """Atoms whose first word can be this token (without its marker); cached per word."""
    hits = list(matcher.exact.get(word, ()))
    for length in matcher.prefix_lengths:
        if length > len(word):
            break
        hits.extend(matcher.prefixes.get(word[:length], ()))
    if matcher.fuzzy and word.isascii():
        hits.extend(matcher.fuzzy.get(arabizi_key(word), ()))
    glued = _GLUED.fullmatch(word) if _is_arabic(word) and word[-1].isascii() else None
    if glued and glued.group(1) in _CLITICS:  # بالiphone, والiphone: a Latin word after a clitic
        rest = _lookup(matcher, glued.group(2))
        hits.extend(atom_id for atom_id in rest if not matcher.atoms[atom_id].marker)
    if len(matcher.cache) >= _CACHE_SIZE:
        matcher.cache.clear()
    found = matcher.cache[word] = tuple(dict.fromkeys(hits))
    return found


def _lookup(matcher: Matcher, word: str) -> tuple[int, ...]:
    found = matcher.cache.get(word)
    return _candidates(matcher, word) if found is None else found


def _follows(atom: _Atom, following: list[str]) -> bool:
    """True when the words after the first are the atom's other words (Arabizi keys if fuzzy)."""
    if atom.fuzzy:
        following = [arabizi_key(w) for w in following]
    return tuple(following) == atom.rest


def _scan(matcher: Matcher, tokens: list[str]) -> dict[int, list[Span]]:
    """Where each query term occurs in the tokens, as (start, end) token spans."""
    hits: dict[int, list[Span]] = {}
    bare: list[str] | None = None
    for i, token in enumerate(tokens):
        marker = token[0] if token[0] in _MARKERS else ""
        word = token[1:] if marker else token
        found = matcher.cache.get(word)
        for atom_id in _candidates(matcher, word) if found is None else found:
            atom = matcher.atoms[atom_id]
            if atom.marker and atom.marker != marker:
                continue
            end = i + 1 + len(atom.rest)
            if atom.rest:
                if end > len(tokens):
                    continue
                bare = bare or [t.lstrip(_MARKERS) for t in tokens]
                if not _follows(atom, bare[i + 1 : end]):
                    continue
            hits.setdefault(atom_id, []).append((i, end))
        if marker == "#" and "_" in word:
            _scan_hashtag(matcher, word, i, hits)
    return hits


def _scan_hashtag(matcher: Matcher, tag: str, at: int, hits: dict[int, list[Span]]) -> None:
    """Plain terms among the words of a hashtag joined by underscores (#Samsung_Egypt,
    #نانسي_عجرم): whole words only, a phrase wholly inside the tag; the span is the tag's."""
    parts = [part for part in tag.split("_") if part]
    for j, part in enumerate(parts):
        for atom_id in _lookup(matcher, part):
            atom = matcher.atoms[atom_id]
            end = j + 1 + len(atom.rest)
            if atom.marker or end > len(parts) or not _follows(atom, parts[j + 1 : end]):
                continue
            spans = hits.setdefault(atom_id, [])
            if (at, at + 1) not in spans:
                spans.append((at, at + 1))


class _Context:
    """What a query is evaluated against: the term spans and, lazily, the mention's fields."""

    def __init__(self, matcher: Matcher, hits: dict[int, list[Span]], mention: Mention) -> None:
        self.matcher = matcher
        self.hits = hits
        self.mention = mention
        self._language: str | None = None

    def spans(self, node: Node) -> list[Span]:
        if isinstance(node, Term):
            return self.hits.get(self.matcher.atom_of[node], [])
        if isinstance(node, Or):
            return [span for child in node.children for span in self.spans(child)]
        assert isinstance(node, Near)
        found = []
        for a_start, a_end in self.spans(node.left):
            for b_start, b_end in self.spans(node.right):
                gap = b_start - a_end if node.ordered else max(b_start - a_end, a_start - b_end)
                if 0 <= gap <= node.distance:
                    found.append((min(a_start, b_start), max(a_end, b_end)))
        return found

    def holds(self, node: Node) -> bool:
        if isinstance(node, Term):
            return self.matcher.atom_of[node] in self.hits
        if isinstance(node, And):
            return all(self.holds(child) for child in node.children)
        if isinstance(node, Or):
            return any(self.holds(child) for child in node.children)
        if isinstance(node, Not):
            return not self.holds(node.child)
        if isinstance(node, Near):
            return bool(self.spans(node))
        return self.field(node)

    def field(self, node: Field) -> bool:
        mention = self.mention
        if node.name == "lang":
            if self._language is None:
                self._language = detect_language(mention.text)
            return self._language == node.value
        if node.name == "source":
            return mention.source.lower() == node.value
        if node.name == "author":
            return mention.author.handle.lower().lstrip("@") == node.value
        if node.name == "min_followers":
            return (mention.author.followers or 0) >= int(node.value)
        return _on_site(mention.url, node.value)

    def hit_terms(self, node: Node) -> list[str]:
        """Terms of a matching query that were found, NOT branches left out."""
        if isinstance(node, Term):
            found = self.matcher.atom_of[node] in self.hits
            return [node.text.strip('"~')] if found else []
        if isinstance(node, Near):
            return self.hit_terms(node.left) + self.hit_terms(node.right)
        if isinstance(node, And | Or):
            return [t for child in node.children for t in self.hit_terms(child)]
        return []


def _on_site(url: str | None, site: str) -> bool:
    if not url:
        return False
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").removeprefix("www.")
    domain, _, path = site.partition("/")
    on_host = host == domain or host.endswith("." + domain)
    under = parts.path.strip("/")
    return on_host and (not path or under == path or under.startswith(path + "/"))


def match(mention: Mention, matcher: Matcher) -> list[BrandMatch]:
    """Return one BrandMatch per brand whose include queries hit and no exclude query does."""
    tokens = tokenize(normalize(mention.text, fold_ta_marbuta=True))
    hits = _scan(matcher, tokens)
    if not hits:
        return []
    candidates = sorted({r for atom_id in hits for r in matcher.atoms[atom_id].rules})
    context = _Context(matcher, hits, mention)
    found = []
    for rule_id in candidates:
        rule = matcher.rules[rule_id]
        matched = [query for query in rule.include if context.holds(query)]
        if matched and not any(context.holds(query) for query in rule.exclude):
            hit = dict.fromkeys(t for query in matched for t in context.hit_terms(query))
            found.append(BrandMatch(rule.client, rule.brand, tuple(hit)))
    return found


@dataclass(frozen=True)
class Finding:
    """One term or field filter of a tried query: whether the text has it, and how or why not."""

    part: str
    present: bool
    detail: str
    words: tuple[str, ...] = ()  # the text's tokens it found (none for a NOT part), to highlight


@dataclass(frozen=True)
class Trial:
    text: str
    matched: bool
    findings: tuple[Finding, ...]


def compile_query(query: str) -> tuple[Node, Matcher]:
    """One include query alone, as `sada query test` tries it; ConfigError worded as config
    check's, with the character where the problem is."""
    found = _checked(query, "include")
    if isinstance(found, str):
        raise ConfigError(f"query {query!r}: {found}")
    return found, _compile([_Rule("", "", (found,), ())])


def _how(term: Term, fuzzy: bool, found: list[str]) -> str:
    first = found[0]
    word = first.lstrip(_MARKERS)
    if first[0] == "#" and not term.marker and "_" in word:
        return "inside a hashtag"
    if term.wildcard:
        return "by its prefix"
    if fuzzy and [w.lstrip(_MARKERS) for w in found] != list(term.words):
        return "an Arabizi spelling"
    if word != term.words[0]:
        return "after an Arabic clitic"
    if first[0] in _MARKERS and not term.marker:
        return "as a hashtag, handle or cashtag"
    return "as written"


def _finding(context: _Context, tokens: list[str], leaf: Term | Field, negated: bool) -> Finding:
    part = ("NOT " if negated else "") + (
        f"{leaf.name}:{leaf.value}" if isinstance(leaf, Field) else leaf.text
    )
    if isinstance(leaf, Field):
        holds = context.field(leaf)
        post = context.mention
        why = {
            "lang": f"the text's language is {detect_language(post.text)}",
            "source": f"its source is {post.source}",
            "author": f"its author is {post.author.handle}",
            "min_followers": f"its author has {post.author.followers or 0} followers",
        }.get(leaf.name, f"its URL is {post.url}")
        return Finding(part, holds, f"{'holds' if holds else 'does not hold'}: {why}")
    spans = context.spans(leaf)
    if not spans:
        return Finding(part, False, "not found")
    found = tokens[spans[0][0] : spans[0][1]]
    how = _how(leaf, context.matcher.atoms[context.matcher.atom_of[leaf]].fuzzy, found)
    return Finding(part, True, f"found {' '.join(found)!r}, {how}", () if negated else tuple(found))


def try_query(query: Node, matcher: Matcher, text: str) -> Trial:
    """Whether a query from compile_query matches `text`, and what each term and filter found
    there; NOT parts are marked, since a NOT term found is what rules a text out."""
    at = datetime.now(UTC)
    post = Mention.model_construct(  # unvalidated: a text to try may be of any length
        uid="query-test",
        source="query-test",
        source_id="0",
        author=Author(handle="query-test"),
        text=text,
        created_at=at,
        fetched_at=at,
    )
    return try_mention(query, matcher, post)


def try_mention(query: Node, matcher: Matcher, mention: Mention) -> Trial:
    """`try_query` on a mention, its source, author, URL and followers included."""
    tokens = tokenize(normalize(mention.text, fold_ta_marbuta=True))
    context = _Context(matcher, _scan(matcher, tokens), mention)
    findings = tuple(_finding(context, tokens, leaf, neg) for leaf, neg in leaves(query))
    return Trial(mention.text, context.holds(query), findings)


def describe(trial: Trial) -> list[str]:
    """What `sada query test` prints for one text: the verdict, then each part, indented."""
    verdict = "match" if trial.matched else "no match"
    return [f"{verdict}: {trial.text}", *(f"  {f.part}: {f.detail}" for f in trial.findings)]
