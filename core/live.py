"""The clients file as it is now: re-read while a worker runs, so adding or removing a client,
brand, query, competitor or alert route needs no restart.

Why polling a content hash: every stage (the processors in Faust, the sinks, the console) runs
an asyncio loop, and a small loop that reads the file every SADA_CONFIG_RELOAD_SECONDS works the
same in each, on any file system, with no extra dependency or topic. It compares the file's
SHA-256, not its mtime: a Kubernetes ConfigMap is updated by swapping a symlink (the target's
mtime can go backwards) and an edit within the same second keeps the mtime.

Why the stages pull: a stage does not get called back; it asks `derive(build)` for what it
builds from the configuration (a matcher, a detector, the routes) once at the start of each
batch, and that is rebuilt when the configuration has changed. A batch is therefore handled
with one configuration from start to end, and nothing is swapped under it.

A new file is used only when it passes the checks of `sada config check` (the `check` given);
otherwise the worker logs that command's error, counts the refusal, and keeps the configuration
it has. An edit caught half written is refused the same way, and the finished write (a new hash)
is read again at the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core import metrics
from core.config import SadaConfig, load_config
from core.errors import ConfigError
from core.events import brand_key

log = logging.getLogger(__name__)

T = TypeVar("T")
Check = Callable[[Path], SadaConfig]
"""Read and validate a clients file; raise ConfigError with what is wrong."""


class LiveConfig:
    """The configuration a worker runs with: `config`, replaced by `reload` when the file at
    `path` changes and passes `check`. Without a path (or with `seconds` 0) it never changes."""

    def __init__(
        self,
        config: SadaConfig,
        path: Path | None = None,
        *,
        check: Check = load_config,
        seconds: float = 0.0,
    ) -> None:
        self.config = config
        self.path = path
        self.seconds = seconds
        self._check = check
        self._digest: str | None = None  # the first poll compares by content, then by hash

    def derive(self, build: Callable[[SadaConfig], T]) -> Callable[[], T]:
        """A function giving `build(config)` for the configuration of the moment, built again
        only after it changed. Call it once per batch."""
        built: list[tuple[SadaConfig, T]] = []

        def current() -> T:
            config = self.config
            if not built or built[0][0] is not config:
                built[:] = [(config, build(config))]
            return built[0][1]

        return current

    async def reload(self) -> bool:
        """Read the file once; use it if its content changed and it passes the checks.
        True when the configuration was replaced."""
        assert self.path is not None, "a LiveConfig without a path cannot reload"
        try:
            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as exc:
            digest = f"unreadable: {exc.strerror}"  # a new content, refused by the check
        if digest == self._digest:
            return False
        self._digest = digest
        try:  # compiling every query can take a while: off the event loop
            new = await asyncio.to_thread(self._check, self.path)
        except ConfigError as exc:
            metrics.CONFIG_RELOADS.labels("refused").inc()
            log.error("clients file refused, still running the previous one: %s", exc)
            return False
        if new == self.config:
            return False
        log.warning("clients file reloaded: %s", changes(self.config, new))
        self.config = new
        metrics.CONFIG_RELOADS.labels("applied").inc()
        return True

    async def next_change(self) -> None:
        """Return once the configuration was replaced (never, when there is nothing to follow)."""
        if self.path is None or not self.seconds:
            await asyncio.Event().wait()
        while not await self.reload():
            await asyncio.sleep(self.seconds)

    async def follow(self) -> None:
        """Reload every `seconds`, until cancelled; returns at once when there is nothing to
        follow (no path, or `seconds` 0)."""
        if self.path is None or not self.seconds:
            return
        while True:
            await asyncio.sleep(self.seconds)
            await self.reload()


def changes(old: SadaConfig, new: SadaConfig) -> str:
    """What differs between two configurations, in one line: clients and brands added, removed
    or changed (queries, routes, competitor), detection and sources."""
    parts = []
    for what, before, after in (
        ("clients", _clients(old), _clients(new)),
        ("brands", _brands(old), _brands(new)),
    ):
        added = sorted(after.keys() - before.keys())
        removed = sorted(before.keys() - after.keys())
        changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
        for sign, keys in (("+", added), ("-", removed), ("~", changed)):
            if keys:
                parts.append(f"{what} {sign}{', '.join(keys)}")
    parts += [name for name in ("detection", "sources") if getattr(old, name) != getattr(new, name)]
    return "; ".join(parts) or "no change in use"


def _clients(config: SadaConfig) -> dict[str, object]:
    """Each client by id, without its brands (compared apart): name, routes, retention."""
    return {c.id: c.model_copy(update={"brands": []}) for c in config.clients}


def _brands(config: SadaConfig) -> dict[str, object]:
    return {brand_key(c.id, b.id): b for c in config.clients for b in c.brands}
