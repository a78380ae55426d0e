"""Who wrote a Bluesky post: handle, display name and follower count, from the public AppView.

Jetstream names a post's author by DID only, so without a look-up the `author:` and
`min_followers:` filters and an alert's "largest reach" are blind for Bluesky.
`app.bsky.actor.getProfiles` answers up to 25 DIDs per request, without auth. The stream holds
its matching posts for a moment (`profile_wait_seconds`) so their authors share requests, and
profiles are cached (reach changes slowly). A look-up is never retried in place and never loses
or holds back a post for long: when the AppView fails, the posts go on with their DIDs as
handles, and look-ups pause for what the server asked (or a minute), counted in
`sada_errors_total{stage="ingest:bluesky"}`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from core.errors import RetryLater, SourceError
from core.events import Author, Mention
from core.metrics import ERRORS
from ingest.http import USER_AGENT, Polite
from ingest.parsing import Item

BATCH = 25  # the most actors getProfiles takes in one request
INVALID_HANDLE = "handle.invalid"  # what the AppView says when a handle no longer resolves
PAUSE_AFTER_FAILURE_SECONDS = 60.0
CACHE_ENTRIES = 100_000

log = logging.getLogger(__name__)


def parse_profiles(payload: bytes) -> dict[str, Author]:
    """A getProfiles response to the author of each DID in it; malformed entries are skipped.

    Raises ValueError when the body is not a getProfiles response at all.
    """
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"getProfiles answered something that is not JSON ({exc})") from None
    profiles = body.get("profiles") if isinstance(body, dict) else None
    if not isinstance(profiles, list):
        raise ValueError("getProfiles answered JSON without a 'profiles' list")
    return {
        p["did"]: author
        for p in profiles
        if isinstance(p, dict) and (author := _author(p)) is not None
    }


def _author(profile: dict[str, Any]) -> Author | None:
    did, handle = profile.get("did"), profile.get("handle")
    if not isinstance(did, str) or not did.startswith("did:"):
        return None
    name, followers = profile.get("displayName"), profile.get("followersCount")
    try:
        return Author(
            handle=handle
            if isinstance(handle, str) and handle and handle != INVALID_HANDLE
            else did,
            name=(name.strip() or None) if isinstance(name, str) else None,
            followers=followers if isinstance(followers, int) and followers >= 0 else None,
        )
    except ValidationError:  # out of the contract's bounds (a 40 KB name, 2^70 followers)
        return None


class Profiles:
    """Authors by DID: a bounded cache in front of the AppView, which is asked in batches."""

    def __init__(
        self,
        polite: Polite,
        url: str,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.polite = polite
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._known: OrderedDict[str, tuple[float, Author]] = OrderedDict()
        self._paused_until = 0.0

    def author(self, did: str) -> Author:
        """The cached author of `did`, or one known only by the DID."""
        return self._fresh(did) or Author(handle=did)

    def unknown(self, dids: Iterable[str]) -> list[str]:
        """The DIDs, once each, that have no fresh cached author."""
        return [did for did in dict.fromkeys(dids) if self._fresh(did) is None]

    def _fresh(self, did: str) -> Author | None:
        entry = self._known.get(did)
        return entry[1] if entry is not None and entry[0] > self.clock() else None

    async def resolve(self, dids: Iterable[str]) -> None:
        """Look up the DIDs not cached, BATCH per request, unless look-ups are paused."""
        missing = self.unknown(dids)
        for start in range(0, len(missing), BATCH):
            if self.clock() < self._paused_until:
                return
            await self._ask(missing[start : start + BATCH])

    async def _ask(self, dids: list[str]) -> None:
        try:
            response = await self.polite.get(
                self.url, params=[("actors", d) for d in dids], headers={"User-Agent": USER_AGENT}
            )
            found = parse_profiles(response.content)
        except (RetryLater, SourceError, ValueError) as exc:
            wait = getattr(exc, "after_seconds", None) or PAUSE_AFTER_FAILURE_SECONDS
            self._paused_until = self.clock() + wait
            ERRORS.labels(stage="ingest:bluesky", kind="profiles").inc()
            log.warning(
                "bluesky: author look-up failed (%s); posts keep their DIDs as "
                "handles for the next %.0fs",
                exc,
                wait,
            )
            return
        expires = self.clock() + self.ttl_seconds
        for did in dids:  # one the AppView does not know (deleted, taken down) stays a DID
            self._known[did] = (expires, found.get(did) or Author(handle=did))
            self._known.move_to_end(did)
        while len(self._known) > CACHE_ENTRIES:
            self._known.popitem(last=False)


class Holding:
    """Matching posts waiting for their authors, in arrival order, with the event time of each.

    Without `profiles` nothing waits. The saved cursor must not pass a held post: a crash
    would otherwise skip it on resume, so `cursor` is just before the oldest one held.
    """

    def __init__(
        self,
        profiles: Profiles | None,
        wait_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profiles = profiles
        self.wait_seconds = wait_seconds
        self.clock = clock
        self._held: list[tuple[int, Item]] = []
        self._since = 0.0

    def hold(self, time_us: int, items: Iterable[Item]) -> None:
        if not self._held:
            self._since = self.clock()
        self._held.extend((time_us, item) for item in items)

    def due(self) -> bool:
        """Release now: nothing to look up, a full batch to look up, or the oldest waited enough."""
        if not self._held:
            return False
        if self.profiles is None or self.clock() - self._since >= self.wait_seconds:
            return True
        return len(self.profiles.unknown(_dids(self._held))) >= BATCH

    async def release(self) -> list[Item]:
        """Everything held, authors filled in where the AppView knew them."""
        held, self._held = self._held, []
        if self.profiles is None:
            return [item for _, item in held]
        await self.profiles.resolve(_dids(held))
        return [_with_author(item, self.profiles) for _, item in held]

    def cursor(self, last: int | None) -> int | None:
        return min(last, self._held[0][0] - 1) if self._held and last is not None else last


def _dids(held: list[tuple[int, Item]]) -> list[str]:
    return [item.author.handle for _, item in held if isinstance(item, Mention)]


def _with_author(item: Item, profiles: Profiles) -> Item:
    if not isinstance(item, Mention):
        return item
    return item.model_copy(update={"author": profiles.author(item.author.handle)})
