from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from core.errors import Rejected
from core.events import Author, Mention, make_uid, now
from ingest.parsing import each, explain, field, load_json


def test_load_json_says_what_came_instead() -> None:
    assert load_json(b'{"a": 1}', "src") == {"a": 1}
    html = load_json(b"  <!DOCTYPE html><p>Bad gateway</p>", "src")
    assert isinstance(html, Rejected)
    assert html.reason.startswith("src: payload is not JSON (HTML starting '<!DOCTYPE html>")
    text = load_json("Rate limited", "src")
    assert isinstance(text, Rejected) and "(text starting 'Rate limited'" in text.reason
    deep = load_json("[" * 100_000, "src")
    assert isinstance(deep, Rejected)


def test_load_json_reads_what_the_fast_decoder_refuses_as_the_standard_library_does() -> None:
    # One item's broken emoji (a lone surrogate escape) must not refuse its whole page; a
    # 100-bit integer and NaN are JSON as Python reads it.
    page = load_json(b'[{"text": "ok"}, {"text": "broken \\ud83d emoji"}]', "src")
    assert page == [{"text": "ok"}, {"text": "broken \ud83d emoji"}]
    assert load_json(b'{"id": 1267650600228229401496703205376}', "src") == {"id": 2**100}
    nan = load_json(b"[NaN]", "src")
    assert isinstance(nan, list) and nan[0] != nan[0]
    broken = load_json(b'{"a": \xff}', "src")
    assert isinstance(broken, Rejected) and "payload is not JSON" in broken.reason


def test_field_names_the_whole_path() -> None:
    assert field({"a": [{"b": 1}]}, "a", 0, "b") == 1
    with pytest.raises(KeyError) as info:
        field({"a": [{"b": 1}]}, "a", 0, "c")
    assert explain(info.value) == "missing or malformed field 'a.0.c'"


def test_explain_lists_validation_problems_by_field() -> None:
    class Model(BaseModel):
        x: int
        y: str

    with pytest.raises(ValidationError) as info:
        Model.model_validate({"x": "no"})
    assert explain(info.value) == (
        "invalid x: Input should be a valid integer, unable to parse "
        "string as an integer; y: Field required"
    )


def test_each_isolates_a_bad_item_and_skips_non_mentions() -> None:
    def build(raw: Any) -> Mention | None:
        if raw == "skip":
            return None
        return Mention(
            uid=make_uid("src", raw["id"]),
            source="src",
            source_id=raw["id"],
            author=Author(handle="h"),
            text="t",
            created_at=now(),
            fetched_at=now(),
        )

    items = each([{"id": "1"}, "skip", {"nope": 1}, {"id": "2"}], build, "src")
    assert [type(i).__name__ for i in items] == ["Mention", "Rejected", "Mention"]
    rejected = items[1]
    assert isinstance(rejected, Rejected)
    assert rejected.payload == '{"nope": 1}' and rejected.reason == (
        "src: missing or malformed field 'id'"
    )
