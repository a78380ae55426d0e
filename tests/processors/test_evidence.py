"""Alert evidence stays bounded and names what rose."""

from __future__ import annotations

from processors.evidence import TERMS_KEPT, Evidence, describe, note, rising, roll, to_answer


def add(
    ev: Evidence, terms: tuple[str, ...], *, negative: bool = False, reach: int = 0, n: int = 0
) -> None:
    note(
        ev,
        terms=terms,
        negative=negative,
        reach=reach,
        uid=f"u{n}",
        url=f"https://x.test/{n}",
        author=f"a{n}",
        size=3,
    )


def test_terms_are_bounded() -> None:
    ev = Evidence()
    for i in range(1000):
        add(ev, (f"word{i}", "common"))
    assert len(ev.terms) <= 2 * TERMS_KEPT
    assert ev.terms["common"] == 1000


def test_largest_reach_kept_once_per_author() -> None:
    ev = Evidence()
    for n, reach in enumerate([5, 900, 30, 70000, 12, 900]):
        add(ev, (), negative=True, reach=reach, n=n)
    assert [e.reach for e in ev.authors] == [70000, 900, 900]
    assert [e.uid for e in ev.negatives] == ["u3", "u1", "u5"]
    note(ev, terms=(), negative=False, reach=10**6, uid="u9", url=None, author="a3", size=3)
    assert [e.author for e in ev.authors] == ["a3", "a1", "a5"]


def test_rising_terms_against_the_usual_vocabulary() -> None:
    ev = Evidence()
    for _ in range(50):
        add(ev, ("price", "shop"))
    roll(ev, 0.9)
    assert ev.terms == {} and ev.usual["price"] == 50
    for _ in range(10):
        add(ev, ("price", "recall", "fire"))
    assert rising(ev, 2) == ["recall", "fire"] or rising(ev, 2) == ["fire", "recall"]
    assert "price" not in rising(ev, 3)


def test_posts_to_answer_are_counted_per_window() -> None:
    ev = Evidence()
    for n, label in enumerate(["complaint"] * 37 + ["question"] * 12 + ["praise"] * 30 + ["other"]):
        note(
            ev,
            terms=(),
            negative=False,
            reach=0,
            uid=f"u{n}",
            url=None,
            author="",
            size=3,
            triage=label,
        )
    assert to_answer(ev) == "to answer: 37 complaints, 12 questions (of 80 mentions)"
    assert "to answer: 37 complaints" in "\n".join(describe(ev, 3))
    roll(ev, 0.9)
    assert to_answer(ev) is None  # a new window starts from nothing
    note(
        ev,
        terms=(),
        negative=False,
        reach=0,
        uid="u",
        url=None,
        author="",
        size=3,
        triage="question",
    )
    assert to_answer(ev) == "to answer: 1 question (of 1 mention)"


def test_praise_alone_asks_for_no_answer() -> None:
    ev = Evidence()
    note(
        ev, terms=(), negative=False, reach=0, uid="u", url=None, author="", size=3, triage="praise"
    )
    assert to_answer(ev) is None


def test_state_saved_before_triage_counts_reads_with_none() -> None:
    old = [{"recall": 3.0}, {"price": 9.0}, [[10, "u1", None]], [[10, "a", "u1"]]]
    ev = Evidence.from_list(old)
    assert ev.triage == {} and ev.terms == {"recall": 3.0}
    assert Evidence.from_list(ev.to_list()) == ev
