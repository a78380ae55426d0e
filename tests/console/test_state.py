"""Work state: the actions' effects (pure), and optimistic concurrency in the real index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import state
from core import connect
from core.config import Settings

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_actions_change_the_state_and_keep_history() -> None:
    doc = state.fresh("mention", "acme", "acme/widget")
    doc = state.apply(doc, "assign", "alice", "bob", T0)
    doc = state.apply(doc, "note", "bob", "calling them", T0)
    doc = state.apply(doc, "reply", "bob", "-100:7: sorry", T0 + timedelta(minutes=3),
                      created_at=T0 - timedelta(minutes=7))  # fmt: skip
    assert doc["status"] == "handled" and doc["assignee"] == "bob"
    assert doc["first_response_at"] == (T0 + timedelta(minutes=3)).isoformat()
    assert doc["response_seconds"] == 600.0 and doc["updated_by"] == "bob"
    assert [h["action"] for h in doc["history"]] == ["assign", "note", "reply"]
    assert doc["notes"] == [{"at": T0.isoformat(), "user": "bob", "text": "calling them"}]
    again = state.apply(doc, "reply", "bob", "-100:8: more", T0 + timedelta(hours=1))
    assert again["first_response_at"] == doc["first_response_at"]  # the first one stays
    assert state.apply(doc, "reopen", "alice", "", T0)["status"] == "open"


@pytest.mark.parametrize(
    ("kind", "action", "detail", "error"),
    [
        ("mention", "resolve", "", "action 'resolve' does not apply to mentions"),
        ("alert", "handle", "", "action 'handle' does not apply to alerts"),
        ("mention", "note", "  ", "note: write something to note"),
        ("mention", "delete", "", "unknown action 'delete'"),
    ],
)
def test_actions_that_do_not_apply_are_refused(
    kind: str, action: str, detail: str, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        state.apply(state.fresh(kind, "acme", "acme/widget"), action, "alice", detail, T0)


async def test_a_write_from_a_stale_version_is_a_conflict_naming_who(settings: Settings) -> None:
    es = connect.async_elasticsearch(settings)
    try:
        await state.ensure_index(es, settings.namespace)
        doc = state.fresh("mention", "acme", "acme/widget")
        assert (
            await state.write(
                es, settings.namespace, "m1", "", state.apply(doc, "handle", "alice", "", T0)
            )
            is None
        )
        assert await state.write(
            es, settings.namespace, "m1", "", state.apply(doc, "ignore", "bob", "", T0)
        ) == state.Conflict("alice")
        stored = await state.load(es, settings.namespace, ["m1", "none"])
        assert list(stored) == ["m1"] and stored["m1"].doc["status"] == "handled"
        version = stored["m1"].version
        changed = state.apply(stored["m1"].doc, "reopen", "bob", "", T0)
        assert await state.write(es, settings.namespace, "m1", version, changed) is None
        assert await state.write(es, settings.namespace, "m1", version, changed) == state.Conflict(
            "bob"
        )
        assert await state.closed_ids(es, settings.namespace, ["acme"], ("handled",)) == []
        posted = state.fresh("mention", "acme", "acme/widget", T0.isoformat())
        await state.write(
            es, settings.namespace, "m2", "", state.apply(posted, "handle", "bob", "", T0)
        )
        await state.ensure_index(es, settings.namespace)  # again: the mapping is kept

        async def closed(**narrow: object) -> list[str]:
            return await state.closed_ids(es, settings.namespace, ["acme"], ("handled",), **narrow)  # type: ignore[arg-type]

        assert await closed() == ["m2"] and await closed(since=T0 - timedelta(hours=1)) == ["m2"]
        assert await closed(since=T0 + timedelta(hours=1)) == []
        assert await closed(brand_keys=("acme/gadget",)) == []
        assert await state.closed_ids(es, settings.namespace, ["globex"], ("handled",)) == []
    finally:
        await es.close()
