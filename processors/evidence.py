"""What an alert shows so a person can judge it: terms that rose, how many posts ask for an
answer (complaints, questions), negative posts, loud authors.

Everything is bounded so a brand's state stays small in a Faust table: term counts are pruned
to the most frequent, and only the few negative mentions and authors with the largest reach
are kept. Evidence gathers over the current bucket, or over the whole incident while one is
open; between incidents the bucket's terms are folded into the brand's usual vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

TERMS_KEPT = 32  # pruned back to this many terms once twice as many are held


class NegativeMention(NamedTuple):
    reach: int  # the author's followers
    uid: str
    url: str | None


class LoudAuthor(NamedTuple):
    reach: int  # followers
    author: str
    uid: str  # the mention that put the author here


@dataclass(slots=True)
class Evidence:
    terms: dict[str, float] = field(default_factory=dict)  # now: bucket or incident
    usual: dict[str, float] = field(default_factory=dict)  # decayed counts before
    negatives: list[NegativeMention] = field(default_factory=list)  # largest reach first
    authors: list[LoudAuthor] = field(default_factory=list)  # largest reach first
    triage: dict[str, float] = field(default_factory=dict)  # mentions per triage label, now

    def to_list(self) -> list[object]:
        """Plain JSON: each named entry as a list, as the detector always wrote it."""
        negatives, authors = [list(e) for e in self.negatives], [list(e) for e in self.authors]
        return [self.terms, self.usual, negatives, authors, self.triage]

    @classmethod
    def from_list(cls, data: list[Any]) -> Evidence:
        """Also reads state saved before triage counts were kept (four parts): they start at 0."""
        terms, usual, negatives, authors, *rest = data
        triage = rest[0] if rest else {}
        return cls(
            dict(terms),
            dict(usual),
            [NegativeMention(*e) for e in negatives],
            [LoudAuthor(*e) for e in authors],
            dict(triage),
        )


def _prune(counts: dict[str, float]) -> None:
    if len(counts) > 2 * TERMS_KEPT:
        keep = sorted(counts.items(), key=lambda kv: -kv[1])[:TERMS_KEPT]
        counts.clear()
        counts.update(keep)


class _Ranked(Protocol):
    @property
    def reach(self) -> int: ...


R = TypeVar("R", bound=_Ranked)


def _keep_top(ranked: list[R], entry: R, key: Callable[[R], str], size: int) -> None:
    """Insert `entry` into a short list sorted by reach, largest first; one entry per key."""
    if len(ranked) >= size and entry.reach <= ranked[-1].reach:
        return
    ranked[:] = [e for e in ranked if key(e) != key(entry)]
    ranked.append(entry)
    ranked.sort(key=lambda e: -e.reach)
    del ranked[size:]


def note(
    ev: Evidence,
    *,
    terms: tuple[str, ...],
    negative: bool,
    reach: int,
    uid: str,
    url: str | None,
    author: str,
    size: int,
    triage: str | None = None,
) -> None:
    """Record one mention's contribution to the evidence."""
    counts = ev.terms
    for term in terms:
        counts[term] = counts.get(term, 0.0) + 1.0
    _prune(counts)
    if triage:
        ev.triage[triage] = ev.triage.get(triage, 0.0) + 1.0
    if negative and uid:
        _keep_top(ev.negatives, NegativeMention(reach, uid, url), lambda e: e.uid, size)
    if author:
        _keep_top(ev.authors, LoudAuthor(reach, author, uid), lambda e: e.author, size)


def roll(ev: Evidence, decay: float) -> None:
    """Close the evidence window: fold its terms into the usual ones, start afresh."""
    usual = ev.usual
    for term in list(usual):
        usual[term] *= decay
    for term, count in ev.terms.items():
        usual[term] = usual.get(term, 0.0) + count
    _prune(usual)
    ev.terms.clear()
    ev.negatives.clear()
    ev.authors.clear()
    ev.triage.clear()


def rising(ev: Evidence, n: int) -> list[str]:
    """The `n` terms whose share grew most against the usual vocabulary."""
    now_total = sum(ev.terms.values()) or 1.0
    usual_total = sum(ev.usual.values()) or 1.0
    gains = {
        term: count / now_total - ev.usual.get(term, 0.0) / usual_total
        for term, count in ev.terms.items()
        if count >= 2
    }
    return [t for t, gain in sorted(gains.items(), key=lambda kv: -kv[1])[:n] if gain > 0]


def describe(ev: Evidence, n: int) -> list[str]:
    """Lines of an alert's explanation: rising terms, posts to answer, negative mentions
    (links), loudest authors."""
    lines = []
    terms = rising(ev, n)
    if terms:
        lines.append("rising terms: " + ", ".join(terms))
    if answer := to_answer(ev):
        lines.append(answer)
    if ev.negatives:
        lines.append("top negative mentions: " + " ".join(e.url or e.uid for e in ev.negatives))
    if ev.authors:
        lines.append(
            "largest reach: " + ", ".join(f"{e.author} ({e.reach:,} followers)" for e in ev.authors)
        )
    return lines


def to_answer(ev: Evidence) -> str | None:
    """ "to answer: 37 complaints, 12 questions (of 80 mentions)", when any post asks for one."""
    complaints, questions = int(ev.triage.get("complaint", 0)), int(ev.triage.get("question", 0))
    if not complaints and not questions:
        return None
    parts = [_plural(complaints, "complaint"), _plural(questions, "question")]
    total = int(sum(ev.triage.values()))
    return f"to answer: {', '.join(p for p in parts if p)} (of {_plural(total, 'mention')})"


def _plural(count: int, noun: str) -> str:
    return "" if not count else f"{count:,} {noun}" + ("" if count == 1 else "s")


def samples(ev: Evidence, n: int) -> list[str]:
    """Uids of the mentions an alert points at: negative ones first, then the loudest authors'."""
    uids = [e.uid for e in ev.negatives] + [e.uid for e in ev.authors if e.uid]
    return list(dict.fromkeys(uids))[:n]
