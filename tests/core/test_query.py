from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import QueryError
from core.query import (
    MAX_ALTERNATIVES,
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
    search,
    terms,
)


def shape(node: Node) -> object:
    """A compact view of a tree: terms as their words, operators as nested tuples."""
    if isinstance(node, Term):
        return node.marker + " ".join(node.words) + ("*" if node.wildcard else "")
    if isinstance(node, Field):
        return f"{node.name}={node.value}"
    if isinstance(node, Not):
        return ("NOT", shape(node.child))
    if isinstance(node, And | Or):
        return (type(node).__name__.upper(), *map(shape, node.children))
    assert isinstance(node, Near)
    return ("ONEAR" if node.ordered else "NEAR", node.distance, shape(node.left), shape(node.right))


PARSES = [
    ("apple", "apple"),
    ("Apple", "apple"),
    ('"amr diab"', "amr diab"),
    ("coca-cola", "coca cola"),
    ("apple iphone", ("AND", "apple", "iphone")),
    ("apple AND iphone", ("AND", "apple", "iphone")),
    ("apple OR iphone", ("OR", "apple", "iphone")),
    ("a OR b c", ("OR", "a", ("AND", "b", "c"))),
    ("a b OR c", ("OR", ("AND", "a", "b"), "c")),
    ("(a OR b) c", ("AND", ("OR", "a", "b"), "c")),
    ("a NOT b", ("AND", "a", ("NOT", "b"))),
    ("NOT NOT a", ("NOT", ("NOT", "a"))),
    ("a and b", ("AND", "a", "and", "b")),
    ("a NEAR/3 b", ("NEAR", 3, "a", "b")),
    ("a ONEAR/0 b", ("ONEAR", 0, "a", "b")),
    ("a NEAR/2 (b OR c)", ("NEAR", 2, "a", ("OR", "b", "c"))),
    ("a NEAR/2 b NEAR/5 c", ("NEAR", 5, ("NEAR", 2, "a", "b"), "c")),
    ('"amr diab" NEAR/4 concert', ("NEAR", 4, "amr diab", "concert")),
    ("a NEAR/1 b OR c", ("OR", ("NEAR", 1, "a", "b"), "c")),
    ("sams*", "sams*"),
    ("سامسون*", "سامسون*"),
    ("#Samsung", "#samsung"),
    ("#vodafone_egypt", "#vodafone_egypt"),
    ("$AAPL", "$aapl"),
    ("@amr.diab", "@amr diab"),
    ("lang:ar", "lang=ar"),
    ("lang:ARZ", "lang=arz"),
    ("Lang:fr", "lang=fr"),
    ("source:Bluesky", "source=bluesky"),
    ("author:@SamsungEG", "author=samsungeg"),
    ("site:https://www.Example.com/", "site=example.com"),
    ("site:example.com/blog", "site=example.com/blog"),
    ("min_followers:1000", "min_followers=1000"),
    ("apple lang:en", ("AND", "apple", "lang=en")),
    ('"re:invent"', "re invent"),
    ("عمرو دياب", ("AND", "عمرو", "دياب")),
    ("سَامْسُونْج", "سامسونج"),
    ("شركة", "شركه"),
    ("🍎", "🍎"),
]


@pytest.mark.parametrize(("query", "expected"), PARSES)
def test_parse(query: str, expected: object) -> None:
    assert shape(parse(query)) == expected


@pytest.mark.parametrize(
    ("query", "fuzzy"),
    [
        ("3amr", True),
        ('"3amr diab"', True),
        ('"amr diab"', False),
        ('"tamer hosny"~', True),
        ("hosny~", True),
        ("ps5", False),
        ("sa3*", False),
    ],
)
def test_arabizi_terms_are_fuzzy(query: str, fuzzy: bool) -> None:
    node = parse(query)
    assert isinstance(node, Term)
    assert node.fuzzy is fuzzy


@pytest.mark.parametrize(
    ("query", "fuzzy"),
    [
        ("3amr diab", [True, True]),
        ("diab AND 3amr", [True, True]),
        ("amr diab", [False, False]),
        ("3amr #diab sa*", [True, False, False]),
        ("3amr OR diab", [True, False]),
        ("(3amr) diab", [True, True]),
        ("(3amr OR amr) diab", [True, False, False]),
        ("3amr سامسونج", [True, False]),
    ],
)
def test_an_arabizi_word_gives_variants_to_its_and_group(query: str, fuzzy: list[bool]) -> None:
    assert [term.fuzzy for term in terms(parse(query))] == fuzzy


ERRORS = [
    ("", 0, "a term"),
    ("   ", 3, "a term"),
    ("apple AND", 9, "a term"),
    ("AND apple", 0, "a term"),
    ("OR", 0, "a term"),
    ("apple OR OR b", 9, "a term"),
    ("(apple", 6, '")" to close the "(" at character 1'),
    ("(a OR (b c)", 11, '")" to close the "(" at character 1'),
    ("apple)", 5, "an operator or the end"),
    ("()", 1, "a term"),
    ('"unterminated', 13, 'a closing "'),
    ('a "b', 4, "phrase opened at character 3"),
    ('""', 0, "at least one letter"),
    ("!!!", 0, "at least one letter"),
    ("a NEAR b", 6, "a distance in words"),
    ("a NEAR/ b", 6, "a distance in words"),
    ("a ONEAR/x b", 7, "a distance in words"),
    ("NOT a NEAR/2 b", 0, "before NEAR/2"),
    ("a NEAR/2 NOT b", 9, "after NEAR/2"),
    ("a NEAR/2 lang:ar", 9, "after NEAR/2"),
    ("(a AND b) NEAR/2 c", 0, "before NEAR/2"),
    ("foo:bar", 0, "a field among"),
    ("lang:de", 5, "one of ar, arz, en, fr, und"),
    ("lang:", 5, "a value after lang:"),
    ("min_followers:lots", 14, "a whole number"),
    ("s*", 0, "at least two letters before *"),
    ("sa*ng", 2, "* only at the end"),
    ('"samsung gal*"', 12, "a phrase without *"),
    ("sam*~", 0, "at least two letters before *"),
    ("(" * 40 + "a" + ")" * 40, 32, "at most 32 nested"),
]


@pytest.mark.parametrize(("query", "position", "expected"), ERRORS)
def test_errors_say_where_and_what(query: str, position: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert caught.value.position == position, str(caught.value)
    assert expected in caught.value.expected
    assert f"at character {position + 1}" in str(caught.value)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a", True),
        ("NOT a", False),
        ("lang:ar", False),
        ("a lang:ar", True),
        ("a OR lang:ar", False),
        ("a OR b", True),
        ("a NOT b", True),
        ("a NEAR/2 b", True),
        ("(a OR b) NOT c", True),
        ("NOT a AND min_followers:10", False),
    ],
)
def test_anchored(query: str, expected: bool) -> None:
    assert anchored(parse(query)) is expected


def test_leaves_say_which_parts_are_under_not() -> None:
    found = leaves(parse("a NOT (b OR NOT c) lang:ar"))
    assert [(getattr(leaf, "text", "lang"), negated) for leaf, negated in found] == [
        ("a", False),
        ("b", True),
        ("c", False),
        ("lang", False),
    ]


def test_terms_in_reading_order() -> None:
    found = terms(parse('(a OR "b c") NOT d e NEAR/2 f lang:ar'))
    assert [t.text for t in found] == ["a", '"b c"', "d", "e", "f"]


_PIECES = [*'ab "()*~#@$:/0123456789', " AND ", " OR ", " NOT ", "NEAR/", "ONEAR/", "lang:"]
_PIECES += ["site:", "min_followers:", "سا", "🍎"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES)).map("".join))
def test_any_string_parses_or_fails_with_a_position(query: str) -> None:
    try:
        parse(query)
    except QueryError as exc:
        assert 0 <= exc.position <= len(query)


def test_a_search_asks_for_every_alternative_and_lists_what_it_cannot_say() -> None:
    found = search(parse('(samsung OR سامسونج) ("Galaxy S25" OR هاتف) NOT إعلان lang:ar'))
    assert found.alternatives == (
        ("samsung", '"Galaxy S25"'),
        ("samsung", "هاتف"),
        ("سامسونج", '"Galaxy S25"'),
        ("سامسونج", "هاتف"),
    )
    assert found.after_fetch == ("NOT إعلان", "lang:ar")


def test_a_search_keeps_the_spelling_the_user_wrote() -> None:
    """Platforms search the real text: the matcher's normalised form (أ -> ا) would miss."""
    found = search(parse('"أرامكو السعودية" OR @Aramco OR #نانسي_عجرم OR iphone* OR 3amr~'))
    assert found.alternatives == (
        ('"أرامكو السعودية"',),
        ("@Aramco",),
        ("#نانسي_عجرم",),
        ("iphone",),
        ("3amr",),
    )
    assert found.after_fetch == ("iphone* (searched as iphone)", "3amr~ (other Arabizi spellings)")


def test_near_is_searched_as_and_and_combinations_are_bounded() -> None:
    assert search(parse("bank NEAR/3 fees")).alternatives == (("bank", "fees"),)
    wide = search(parse(" ".join(f"(a{i} OR b{i})" for i in range(8))))  # 256 combinations
    assert len(wide.alternatives) == MAX_ALTERNATIVES
    assert f"only {MAX_ALTERNATIVES} of the" in wide.after_fetch[-1]
