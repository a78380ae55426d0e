"""Near-duplicate mentions (reposts, copy-paste campaigns): linked to the first occurrence.

Duplicates are marked, never dropped, so dashboards can show unique against total and a
campaign shows up as many mentions linked to one first post.

Each text becomes a MinHash signature of its character 5-grams (one-permutation hashing with
densification: one hash per shingle instead of one per shingle and permutation). Signatures are
cut into bands; two texts sharing any band are candidates, confirmed when the share of equal
signature slots (an estimate of Jaccard similarity) reaches the threshold. Only mentions inside
the time window are remembered, and at most `max_entries` of them, in preallocated arrays, so
memory stays bounded (about 320 bytes a mention: ~160 MB at the default 500,000).
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from core.text import normalize, tokenize

_NOISE = re.compile(r"https?://\S+|www\.\S+")
_SHINGLE = 5
_EMPTY = 0xFFFFFFFF
_WAYS = 4  # entries a band bucket holds
_NUMBERS_MAX = 2**31 - 1  # arrival numbers are int32 in the band table: half the memory of int64


def _content(text: str) -> str:
    """What makes two posts the same: words, hashtags and emoji; not handles, links or RT."""
    tokens = tokenize(_NOISE.sub(" ", normalize(text, fold_ta_marbuta=True)))
    return " ".join(t for t in tokens if t[0] != "@" and t != "rt")


def signature(text: str, *, slots: int = 64) -> np.ndarray | None:
    """MinHash signature of a text's 5-gram set, or None when the text is too short to judge."""
    content = _content(text)
    return _minhash(content, slots) if len(content) >= _SHINGLE else None


def _minhash(content: str, slots: int) -> np.ndarray:
    """Each 5-gram hashed with Python's own string hash (salted per process, which is fine:
    signatures are compared within the process that made them), kept in its slot if lowest."""
    mins = [_EMPTY] * slots
    for i in range(len(content) - _SHINGLE + 1):
        value = hash(content[i : i + _SHINGLE]) & 0xFFFFFFFF
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
    return np.array(mins, dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets behind two signatures."""
    return float((a == b).mean())


class Deduper:
    """Remembers recent mentions and links each near-duplicate to its first occurrence.

    Memory is a few hundred bytes per remembered mention, in flat arrays: a ring of
    `max_entries` rows (signature, time, uid) and a band table whose buckets hold `_WAYS`
    entries each, as arrival numbers with a fingerprint of the band key. Nothing is ever deleted
    from the table: a slot counts while its entry is still in the ring (numbered from the ring's
    oldest on), so forgetting entries is moving the ring's start. A full bucket gives the slot
    of its oldest entry to the new one: a campaign of copies keeps its newest copies as
    candidates, and each of them remembers the first occurrence.
    """

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
        self.bands = bands
        self.max_entries = max_entries
        # Signature slots are compared for equality only: their low 16 bits are enough.
        self._signatures = np.zeros((max_entries, slots), dtype=np.uint16)
        self._at = np.zeros(max_entries)
        self._uids = [""] * max_entries
        self._firsts = [""] * max_entries
        self._by_uid: dict[str, int] = {}
        buckets = 1 << max(4, (max_entries * bands // _WAYS - 1).bit_length())
        self._mask = np.uint64(buckets - 1)
        self._table = np.zeros((buckets, _WAYS), dtype=np.int32)  # arrival numbers, 0: empty
        self._prints = np.zeros((buckets, _WAYS), dtype=np.uint16)  # band key fingerprints
        self._band_width = 4 * slots // bands  # bytes of a band's signature slots
        self._band_starts = [(band, band * self._band_width) for band in range(bands)]
        self._oldest = self._next = 1  # the ring holds entries oldest .. next - 1
        self._newest = float("-inf")

    def __len__(self) -> int:
        return self._next - self._oldest

    def check(self, uid: str, text: str, at: datetime) -> str | None:
        """Return the uid of the first occurrence this text repeats, or None if it is new.

        Seeing the same uid again (a replay) gives the same answer as the first time.
        """
        if uid in self._by_uid:
            first = self._firsts[self._by_uid[uid] % self.max_entries]
            return None if first == uid else first
        when = at.timestamp()
        self._expire(max(self._newest, when))
        content = _content(text)
        if len(content) < max(self.min_chars, _SHINGLE):
            return None
        sig = _minhash(content, self.slots)
        buckets, prints = self._band_keys(sig)
        earlier = self._first_similar(sig, buckets, prints, when)
        self._remember(uid, earlier or uid, when, sig, buckets, prints)
        return earlier

    def _band_keys(self, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each band's bucket and a 32-bit fingerprint of its key (Python's hash of the band's
        bytes: salted per process, which is fine for a memory that lives in one process)."""
        raw, width = sig.tobytes(), self._band_width
        keys = np.fromiter(
            (hash((band, raw[start : start + width])) for band, start in self._band_starts),
            dtype=np.int64,
            count=self.bands,
        ).view(np.uint64)
        return (keys & self._mask).astype(np.intp), (keys >> np.uint64(32)).astype(np.uint16)

    def _first_similar(
        self, sig: np.ndarray, buckets: np.ndarray, prints: np.ndarray, when: float
    ) -> str | None:
        """The first occurrence behind the earliest remembered entry similar to `sig`, among
        those in the ring that share one of its band keys."""
        numbers = self._table[buckets]
        same_key = (numbers >= self._oldest) & (self._prints[buckets] == prints[:, None])
        rows = numbers[same_key] % self.max_entries
        if not len(rows):
            return None
        close = np.abs(self._at[rows] - when) <= self.window_seconds
        alike = (self._signatures[rows] == sig.astype(np.uint16)).mean(axis=1) >= self.threshold
        rows = rows[close & alike]
        return self._firsts[int(rows[np.argmin(self._at[rows])])] if len(rows) else None

    def _remember(
        self,
        uid: str,
        first: str,
        when: float,
        sig: np.ndarray,
        buckets: np.ndarray,
        prints: np.ndarray,
    ) -> None:
        if len(self) == self.max_entries:
            self._forget_oldest()
        if self._next >= _NUMBERS_MAX:
            self._renumber()
        number, row = self._next, self._next % self.max_entries
        numbers = self._table[buckets]
        # In each bucket: a free or stale slot first, else the one of its oldest entry.
        way = np.where(numbers >= self._oldest, numbers, 0).argmin(axis=1)
        self._table[buckets, way], self._prints[buckets, way] = number, prints
        self._signatures[row], self._at[row] = sig, when
        self._uids[row], self._firsts[row] = uid, first
        self._by_uid[uid] = number
        self._next += 1
        self._newest = max(self._newest, when)

    def _renumber(self) -> None:
        """Arrival numbers start again near 1 before they overflow the table's int32 (once in
        about two billion mentions): shifted by whole rings, each entry keeps its row."""
        shift = (self._oldest - 1) // self.max_entries * self.max_entries
        live = self._table >= self._oldest
        self._table[live] -= shift
        self._table[~live] = 0
        self._oldest, self._next = self._oldest - shift, self._next - shift
        self._by_uid = {uid: number - shift for uid, number in self._by_uid.items()}

    def _expire(self, now: float) -> None:
        while self._oldest < self._next and (
            self._at[self._oldest % self.max_entries] < now - self.window_seconds
        ):
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        row = self._oldest % self.max_entries
        if self._by_uid.get(self._uids[row]) == self._oldest:
            del self._by_uid[self._uids[row]]
        self._uids[row] = self._firsts[row] = ""
        self._oldest += 1
