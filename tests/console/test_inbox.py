"""The inbox's pure logic: filters from GET parameters, their query, urgency and grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multidict import MultiDict

from console import inbox

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def doc(
    uid: str,
    *,
    hours: float = 1.0,
    followers: int = 0,
    label: str = "neutral",
    probability: float = 0.9,
    brand_key: str = "acme/widget",
    duplicate_of: str | None = None,
) -> dict[str, Any]:
    return {"_id": f"{uid}.{brand_key.replace('/', '.')}", "_source": {
        "uid": uid, "brand_key": brand_key, "duplicate_of": duplicate_of,
        "author": {"handle": "a", "followers": followers},
        "sentiment": {"label": label, "probability": probability},
        "created_at": (NOW - timedelta(hours=hours)).isoformat()}}  # fmt: skip


def test_filters_default_to_open_complaints_and_questions_of_the_last_week() -> None:
    filters = inbox.parse_filters(MultiDict())
    assert filters == inbox.Filters()
    assert filters.triage == ("complaint", "question") and filters.status == "open"
    assert filters.since == "7d" and filters.page == 1


def test_filters_read_repeated_parameters_and_give_them_back() -> None:
    query = MultiDict([("brand", "acme/widget"), ("brand", "acme/gadget"), ("triage", "complaint"),
                       ("sentiment", "negative"), ("q", " late "), ("page", "2")])  # fmt: skip
    filters = inbox.parse_filters(query)
    assert filters.brands == ("acme/widget", "acme/gadget") and filters.clients() == {"acme"}
    assert filters.triage == ("complaint",) and filters.q == "late" and filters.page == 2
    assert inbox.parse_filters(MultiDict(filters.params())) == filters
    assert ("page", "3") in filters.params(page=3)


def test_an_empty_triage_parameter_means_every_kind_and_stays_so_in_links() -> None:
    every_kind = inbox.parse_filters(MultiDict([("triage", "")]))
    assert every_kind.triage == ()
    assert inbox.parse_filters(MultiDict(every_kind.params(page=2))).triage == ()
    form = MultiDict([("triage", "praise"), ("triage", "")])  # the form's hidden empty value
    assert inbox.parse_filters(form).triage == ("praise",)


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        ([("triage", "rant")], "triage: unknown 'rant'; one of complaint, question, praise, other"),
        ([("sentiment", "angry")], "sentiment: unknown 'angry'"),
        ([("since", "2y")], "since: unknown '2y'; one of 1h, 24h, 7d, 30d, all"),
        ([("status", "done")], "status: unknown 'done'"),
        ([("page", "0")], "page: '0' is not a page number"),
        ([("page", "x")], "page: 'x' is not a page number"),
        ([("brand", "widget")], "brand: 'widget' is not client/brand"),
    ],
)
def test_bad_filters_say_which_parameter_and_what_is_allowed(
    pairs: list[tuple[str, str]], error: str
) -> None:
    with pytest.raises(inbox.FilterError) as raised:
        inbox.parse_filters(MultiDict(pairs))
    assert str(raised.value).startswith(error)


def test_the_query_has_one_clause_per_filter() -> None:
    filters = inbox.Filters(brands=("acme/widget",), sentiment=("negative",), language=("ar",),
                            source=("telegram",), since="24h", q="تأخير")  # fmt: skip
    query = inbox.to_query(filters, NOW, closed_ids=["x.acme.widget"])["bool"]
    assert {"terms": {"brand_key": ["acme/widget"]}} in query["filter"]
    assert {"terms": {"triage": ["complaint", "question"]}} in query["filter"]
    assert {"terms": {"sentiment.label": ["negative"]}} in query["filter"]
    assert {"terms": {"language": ["ar"]}} in query["filter"]
    assert {"terms": {"source": ["telegram"]}} in query["filter"]
    assert {"range": {"created_at": {"gte": "2026-05-31T12:00:00+00:00"}}} in query["filter"]
    assert {"match": {"text": {"query": "تأخير", "operator": "and"}}} in query["filter"]
    assert query["must_not"] == [{"ids": {"values": ["x.acme.widget"]}}]


def test_the_handled_view_shows_only_the_given_ids_and_all_time_has_no_range() -> None:
    filters = inbox.Filters(status="handled", since="all", triage=())
    query = inbox.to_query(filters, NOW, only_ids=["a"])["bool"]
    assert query["filter"] == [{"ids": {"values": ["a"]}}] and "must_not" not in query


def test_competitors_are_never_in_the_inbox() -> None:
    rival = {"terms": {"brand_key": ["acme/rival"]}}
    query = inbox.to_query(inbox.Filters(), NOW, ["x"], hidden_brands=frozenset({"acme/rival"}))
    assert query["bool"]["must_not"] == [{"ids": {"values": ["x"]}}, rival]
    every = inbox.to_query(inbox.Filters(status="all"), NOW, hidden_brands=["acme/rival"])
    assert every["bool"]["must_not"] == [rival]


def test_urgency_parts() -> None:
    fresh_angry = inbox.urgency(
        doc("a", hours=0, followers=1_000_000, label="negative", probability=0.8)["_source"],
        NOW,
        {"acme/widget"},
    )
    assert fresh_angry.parts == {"reach": 1.0, "negativity": 0.8, "recency": 1.0,
                                 "incident": 1.0, "waiting": 0.0}  # fmt: skip
    assert fresh_angry.score == 2 + 3 * 0.8 + 2 + 3
    old_calm = inbox.urgency(doc("b", hours=24, label="positive")["_source"], NOW, set())
    assert old_calm.parts == {"reach": 0.0, "negativity": 0.0, "recency": 0.0625,
                              "incident": 0.0, "waiting": 1.0}  # fmt: skip
    assert "reach 1.00×2" in fresh_angry.explain()


def test_rank_puts_the_most_urgent_first_and_near_duplicates_in_one_row() -> None:
    hits = [
        doc("calm", hours=30),
        doc("first", hours=2, label="negative"),
        doc("copy1", hours=1, label="negative", duplicate_of="first", followers=5000),
        doc("copy2", hours=1, label="negative", duplicate_of="first"),
        doc("other-brand-copy", hours=1, duplicate_of="first", brand_key="acme/gadget"),
    ]
    rows = inbox.rank(hits, NOW, set())
    assert [(r.doc["uid"], r.copies) for r in rows] == [
        ("copy1", 3), ("other-brand-copy", 1), ("calm", 1)]  # fmt: skip
    assert sorted(rows[0].copy_ids) == sorted(h["_id"] for h in hits[1:4])


def test_rank_breaks_ties_newest_first_and_pages() -> None:
    rows = inbox.rank([doc("old", hours=48), doc("new", hours=30)], NOW, set())
    # both: recency ~0, waiting 1 -> equal scores but for the tiny recency term
    assert [r.doc["uid"] for r in rows] == ["new", "old"]
    assert inbox.page(rows, 2, size=1)[0].doc["uid"] == "old" and inbox.page(rows, 3, size=1) == []


def test_novelty_is_what_was_not_there_at_the_last_look() -> None:
    novelty = inbox.Novelty(keep=3)
    assert novelty.new(["a", "b"]) == []  # the baseline
    assert novelty.new(["c", "a", "b"]) == ["c"]
    assert novelty.new(["c", "a", "b"]) == []
    assert novelty.new(["d", "e"]) == ["d", "e"] and list(novelty.seen or {}) == ["c", "d", "e"]
