"""Near-duplicate mentions (reposts, copy-paste campaigns): linked to the first occurrence.

Duplicates are marked, never dropped, so dashboards can show unique against total and a
campaign shows up as many mentions linked to one first post.

Each text becomes a MinHash signature of its character 5-grams (one-permutation hashing with
densification: one hash per shingle instead of one per shingle and permutation). Signatures are
cut into bands; two texts sharing any band are candidates, confirmed when the share of equal
signature slots (an estimate of Jaccard similarity) reaches the threshold. Only mentions inside
the time window are remembered, and at most `max_entries` of them, so memory stays bounded.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from processors.normalize import normalize, tokenize

_NOISE = re.compile(r"https?://\S+|www\.\S+")
_SHINGLE = 5
_EMPTY = 0xFFFFFFFF


@dataclass(frozen=True)
class _Entry:
    uid: str
    first: str
    at: float
    signature: array[int]
    keys: tuple[int, ...]


def _content(text: str) -> str:
    """What makes two posts the same: words, hashtags and emoji; not handles, links or RT."""
    tokens = tokenize(_NOISE.sub(" ", normalize(text, fold_ta_marbuta=True)))
    return " ".join(t for t in tokens if t[0] != "@" and t != "rt")


def signature(text: str, *, slots: int = 64) -> array[int] | None:
    """MinHash signature of a text's 5-gram set, or None when the text is too short to judge."""
    content = _content(text)
    return _minhash(content, slots) if len(content) >= _SHINGLE else None


def _minhash(content: str, slots: int) -> array[int]:
    mins = array("I", [_EMPTY]) * slots
    for i in range(len(content) - _SHINGLE + 1):
        value = zlib.crc32(content[i : i + _SHINGLE].encode())
        slot, rank = value % slots, value // slots
        if rank < mins[slot]:
            mins[slot] = rank
    for slot in range(slots):  # densify: an empty slot borrows its next filled neighbour's value
        step = 1
        while mins[slot] == _EMPTY:
            borrowed = mins[(slot + step) % slots]
            if borrowed != _EMPTY:
                mins[slot] = (borrowed + step * 0x9E3779B1) & 0x7FFFFFFF
            step += 1
    return mins


def similarity(a: array[int], b: array[int]) -> float:
    """Estimated Jaccard similarity of the two shingle sets behind two signatures."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


class Deduper:
    """Remembers recent mentions and links each near-duplicate to its first occurrence."""

    def __init__(
        self,
        *,
        window_seconds: float = 6 * 3600,
        threshold: float = 0.7,
        min_chars: int = 24,
        slots: int = 64,
        bands: int = 16,
        max_entries: int = 500_000,
    ) -> None:
        if slots % bands:
            raise ValueError(f"slots ({slots}) must be a multiple of bands ({bands})")
        self.window_seconds = window_seconds
        self.threshold = threshold
        self.min_chars = min_chars
        self.slots = slots
        self.rows = slots // bands
        self.max_entries = max_entries
        self._entries: deque[_Entry] = deque()
        self._by_uid: dict[str, _Entry] = {}
        self._buckets: dict[int, _Entry] = {}
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, uid: str, text: str, at: datetime) -> str | None:
        """Return the uid of the first occurrence this text repeats, or None if it is new.

        Seeing the same uid again (a replay) gives the same answer as the first time.
        """
        if uid in self._by_uid:
            first = self._by_uid[uid].first
            return None if first == uid else first
        when = at.timestamp()
        self._expire(max(self._newest, when))
        content = _content(text)
        if len(content) < max(self.min_chars, _SHINGLE):
            return None
        sig = _minhash(content, self.slots)
        keys = tuple(
            hash((band, *sig[start : start + self.rows]))
            for band, start in enumerate(range(0, self.slots, self.rows))
        )
        earlier = self._first_similar(sig, keys, when)
        self._remember(_Entry(uid, earlier.first if earlier else uid, when, sig, keys))
        return earlier.first if earlier else None

    def _first_similar(self, sig: array[int], keys: tuple[int, ...], when: float) -> _Entry | None:
        found = {e.uid: e for key in keys if (e := self._buckets.get(key)) is not None}
        similar = [
            entry
            for entry in found.values()
            if abs(entry.at - when) <= self.window_seconds
            and similarity(sig, entry.signature) >= self.threshold
        ]
        return min(similar, key=lambda entry: entry.at, default=None)

    def _remember(self, entry: _Entry) -> None:
        self._entries.append(entry)
        self._by_uid[entry.uid] = entry
        for key in entry.keys:
            self._buckets.setdefault(key, entry)
        self._newest = max(self._newest, entry.at)
        while len(self._entries) > self.max_entries:
            self._forget(self._entries.popleft())

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0].at < now - self.window_seconds:
            self._forget(self._entries.popleft())

    def _forget(self, entry: _Entry) -> None:
        del self._by_uid[entry.uid]
        for key in entry.keys:
            if self._buckets.get(key) is entry:
                del self._buckets[key]
