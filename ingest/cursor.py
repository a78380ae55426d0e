"""Where each source stopped, kept on disk so a restart resumes with no gap.

One small JSON file per source and configuration (`<state_dir>/<source>-<digest>.json`), written
atomically (temporary file, fsync, rename), so a crash leaves either the old cursor or the new
one. The digest covers the config, so changing a source's queries starts a fresh cursor instead
of applying one to searches it was not made for. It covers only the fields set away from their
defaults, so a newer Sada that adds a field to a source keeps that source's cursors; a cursor
saved under the earlier digest (of every field) is still found, and saved under the new one
from then on.

At-least-once: before a cursor is written the store calls `barrier` — the runner passes its
producer's flush — so a cursor never runs ahead of what Kafka acknowledged. A crash in between
replays a little; the stable `uid` makes that harmless downstream.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from core.errors import CursorError

Cursor = dict[str, Any]


def config_digest(config: BaseModel, *, every_field: bool = False) -> str:
    """Stable digest of a config's non-default fields (`every_field`: the earlier digest);
    secrets are not in it (SecretStr dumps masked)."""
    fields = config.model_dump(mode="json", exclude_defaults=not every_field)
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CursorStore:
    """Loads and saves cursors; with `directory=None` it only remembers them in memory."""

    def __init__(
        self, directory: Path | str | None = None, *, barrier: Callable[[], None] | None = None
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.barrier = barrier
        self._memory: dict[str, Cursor] = {}

    def path(self, source: str, config: BaseModel, *, earlier: bool = False) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{source}-{config_digest(config, every_field=earlier)}.json"

    def load(self, source: str, config: BaseModel) -> Cursor:
        """The saved cursor, or `{}` when this source and config never saved one."""
        key = f"{source}-{config_digest(config)}"
        if key in self._memory:
            return json.loads(json.dumps(self._memory[key]))
        path = self.path(source, config)
        if path is not None and not path.exists():
            path = self.path(source, config, earlier=True)
        if path is None or not path.exists():
            return {}
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            cursor = document["cursor"]
            if not isinstance(cursor, dict):
                raise TypeError("cursor is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CursorError(
                f"{path}: unreadable cursor ({exc}); delete the file to restart this source "
                "from its configured lookback"
            ) from exc
        return cursor

    def save(self, source: str, config: BaseModel, cursor: Cursor) -> None:
        """Persist the cursor atomically, after the barrier (producer flush) returned."""
        if self.barrier is not None:
            self.barrier()
        key = f"{source}-{config_digest(config)}"
        self._memory[key] = json.loads(json.dumps(cursor))
        path = self.path(source, config)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"source": source, "config_digest": key.rsplit("-", 1)[1], "cursor": cursor}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, ensure_ascii=False, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


class Window:
    """Bookkeeping for sources polled by time: what to ask for, and what was already yielded.

    Search indexes and feeds deliver late or out of order, so each poll reaches back
    `overlap_seconds` before the newest time seen and drops ids it already yielded (the seen
    map lives in the cursor). `state()` is what to save once every page of the poll was yielded.
    """

    def __init__(
        self,
        state: Cursor | None,
        *,
        now: float,
        lookback_seconds: float,
        overlap_seconds: float,
        keep_at_most: int = 10_000,
    ) -> None:
        state = state or {"newest": now - lookback_seconds, "seen": {}}
        self.newest: float = state["newest"]
        self.seen: dict[str, float] = dict(state["seen"])
        self.overlap_seconds = overlap_seconds
        self.since = self.newest - overlap_seconds
        self.keep_at_most = keep_at_most

    def admit(self, item_id: str, at: float) -> bool:
        """True the first time an item newer than `since` is offered; records it."""
        if at <= self.since or item_id in self.seen:
            return False
        self.seen[item_id] = at
        self.newest = max(self.newest, at)
        return True

    def state(self) -> Cursor:
        horizon = self.newest - self.overlap_seconds  # the next poll's `since`
        kept = {k: v for k, v in self.seen.items() if v > horizon}
        if len(kept) > self.keep_at_most:
            kept = dict(sorted(kept.items(), key=lambda kv: kv[1])[-self.keep_at_most :])
        return {"newest": self.newest, "seen": kept}


class TimeWindowed(Protocol):
    """A config polled by time: where its first poll starts, how far each poll reaches back."""

    @property
    def initial_lookback_seconds(self) -> int: ...

    @property
    def overlap_seconds(self) -> int: ...


class Progress:
    """Where each target (query, feed, timeline) of one source stopped, for one round.

    Loaded from the store when the round starts (`cursors`, else the default store); `save`
    records one target's new state and writes the whole cursor, after the store's barrier.
    """

    def __init__(self, source: str, config: BaseModel, *, cursors: CursorStore | None) -> None:
        self.source = source
        self.config = config
        self.store = cursors or default_store()
        self.cursor = self.store.load(source, config)

    def get(self, key: str, default: Any = None) -> Any:
        """The state `key` saved last, or `default` when it never saved one."""
        return self.cursor.get(key, default)

    def window(self, key: str, config: TimeWindowed) -> Window:
        """`key`'s time window for this poll, from its saved state or the initial lookback."""
        return Window(
            self.cursor.get(key),
            now=time.time(),
            lookback_seconds=config.initial_lookback_seconds,
            overlap_seconds=config.overlap_seconds,
        )

    def save(self, key: str, state: Any) -> None:
        """Record where `key` stopped and write the source's whole cursor."""
        self.cursor[key] = state
        self.store.save(self.source, self.config, self.cursor)


_default = CursorStore()


def set_default_store(store: CursorStore) -> None:
    """Where sources keep cursors when `fetch` is not given a store.

    The runner calls this once at start with the state directory and its producer's flush as
    the barrier. Until then cursors live in memory: rounds of one process resume, a restart
    does not (right for `--dry-run`).
    """
    global _default
    _default = store


def default_store() -> CursorStore:
    return _default
