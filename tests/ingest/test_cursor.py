from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from core.errors import CursorError
from ingest.cursor import (
    CursorStore,
    Progress,
    Window,
    config_digest,
    default_store,
    set_default_store,
)


class Conf(BaseModel):
    terms: list[str]
    token: SecretStr | None = None


def test_a_restarted_store_resumes_from_the_saved_cursor(tmp_path: Path) -> None:
    config = Conf(terms=["acme"])
    CursorStore(tmp_path).save("demo", config, {"after": 42, "seen": {"a": 1.0}})
    assert CursorStore(tmp_path).load("demo", config) == {"after": 42, "seen": {"a": 1.0}}
    assert [p.name for p in tmp_path.iterdir()] == [f"demo-{config_digest(config)}.json"]


def test_each_config_has_its_own_cursor_and_secrets_stay_out(tmp_path: Path) -> None:
    store = CursorStore(tmp_path)
    store.save("demo", Conf(terms=["acme"], token=SecretStr("s3cret")), {"after": 1})
    assert store.load("demo", Conf(terms=["other"])) == {}
    assert all("s3cret" not in p.read_text() for p in tmp_path.iterdir())


class Grown(Conf):
    """The same source in a newer Sada: one more field, with a default."""

    timeout_seconds: float = 5.0


def test_a_field_added_with_a_default_keeps_the_cursor(tmp_path: Path) -> None:
    CursorStore(tmp_path).save("demo", Conf(terms=["acme"]), {"after": 7})
    assert CursorStore(tmp_path).load("demo", Grown(terms=["acme"])) == {"after": 7}
    assert CursorStore(tmp_path).load("demo", Grown(terms=["acme"], timeout_seconds=9)) == {}


def test_a_cursor_saved_under_the_earlier_digest_is_found_and_carried_on(tmp_path: Path) -> None:
    config = Conf(terms=["acme"])
    earlier = tmp_path / f"demo-{config_digest(config, every_field=True)}.json"
    earlier.write_text('{"source": "demo", "cursor": {"after": 3}}', encoding="utf-8")
    store = CursorStore(tmp_path)
    assert store.load("demo", config) == {"after": 3}
    store.save("demo", config, {"after": 4})
    assert CursorStore(tmp_path).load("demo", config) == {"after": 4}
    assert (tmp_path / f"demo-{config_digest(config)}.json").exists()


def test_memory_store_keeps_cursors_without_a_directory() -> None:
    store = CursorStore()
    store.save("demo", Conf(terms=["a"]), {"n": 1})
    loaded = store.load("demo", Conf(terms=["a"]))
    loaded["n"] = 2  # a caller's edits do not leak into the store
    assert store.load("demo", Conf(terms=["a"])) == {"n": 1}


def test_barrier_runs_before_the_cursor_is_written(tmp_path: Path) -> None:
    order: list[str] = []
    store = CursorStore(
        tmp_path,
        barrier=lambda: order.append("flush" if not list(tmp_path.glob("*.json")) else "late"),
    )
    store.save("demo", Conf(terms=["a"]), {"n": 1})
    assert order == ["flush"]


def test_a_failed_write_keeps_the_previous_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CursorStore(tmp_path)
    config = Conf(terms=["a"])
    store.save("demo", config, {"n": 1})

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken)
    with pytest.raises(OSError):
        store.save("demo", config, {"n": 2})
    monkeypatch.undo()
    assert CursorStore(tmp_path).load("demo", config) == {"n": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_unreadable_cursor_says_which_file_and_how_to_recover(tmp_path: Path) -> None:
    config = Conf(terms=["a"])
    store = CursorStore(tmp_path)
    path = store.path("demo", config)
    assert path is not None
    path.write_text("{not json")
    with pytest.raises(CursorError, match=r"demo-.*\.json: unreadable cursor.*delete the file"):
        store.load("demo", config)


def test_window_reaches_back_by_the_overlap_and_drops_what_it_yielded() -> None:
    window = Window(None, now=1000.0, lookback_seconds=100, overlap_seconds=10)
    assert window.since == 890.0
    assert window.admit("a", 950.0) and window.admit("b", 990.0)
    assert not window.admit("a", 950.0)  # already yielded
    assert not window.admit("old", 880.0)  # before the window
    state = window.state()
    assert state == {"newest": 990.0, "seen": {"b": 990.0}}  # "a" can no longer come back
    again = Window(state, now=2000.0, lookback_seconds=100, overlap_seconds=10)
    assert again.since == 980.0 and not again.admit("b", 990.0) and again.admit("c", 985.0)


def test_window_keeps_at_most_the_newest_ids() -> None:
    window = Window(None, now=0.0, lookback_seconds=0, overlap_seconds=100, keep_at_most=2)
    for i in range(5):
        window.admit(str(i), float(i + 1))
    assert window.state()["seen"] == {"3": 4.0, "4": 5.0}


class Windowed(BaseModel):
    terms: list[str]
    initial_lookback_seconds: int = 3600
    overlap_seconds: int = 600


def test_progress_saves_each_target_into_the_one_cursor_of_the_source(tmp_path: Path) -> None:
    config = Windowed(terms=["acme"])
    progress = Progress("demo", config, cursors=CursorStore(tmp_path))
    assert progress.get("a") is None and progress.get("a", {"seen": {}}) == {"seen": {}}
    progress.save("a", 1)
    progress.save("b", {"etag": "x"})
    assert CursorStore(tmp_path).load("demo", config) == {"a": 1, "b": {"etag": "x"}}
    assert Progress("demo", config, cursors=CursorStore(tmp_path)).get("b") == {"etag": "x"}


def test_progress_windows_start_at_the_lookback_then_at_the_saved_state() -> None:
    config = Windowed(terms=["acme"])
    progress = Progress("demo", config, cursors=CursorStore())
    first = progress.window("q", config)
    start = first.newest
    assert time.time() - 3600 - 5 < start <= time.time() - 3600  # the lookback: an hour ago
    assert first.since == start - 600
    assert first.admit("x", start + 1)
    progress.save("q", first.state())
    again = progress.window("q", config)
    assert again.since == start + 1 - 600 and not again.admit("x", start + 1)


def test_progress_uses_the_default_store_without_one(tmp_path: Path) -> None:
    set_default_store(CursorStore(tmp_path))
    Progress("demo", Conf(terms=["a"]), cursors=None).save("k", 7)
    assert CursorStore(tmp_path).load("demo", Conf(terms=["a"])) == {"k": 7}


def test_sources_use_the_store_the_runner_set(tmp_path: Path) -> None:
    store = CursorStore(tmp_path)
    set_default_store(store)
    assert default_store() is store
