"""Property tests: no payload, however garbled, makes a parser raise.

A parser facing garbage returns `Rejected` items with a reason naming the source (they go to
the dead-letter topic) and goes on; it never crashes the worker.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import Rejected
from ingest.parsing import Item
from tests.ingest.support import FIXTURES, OWN_FIXTURES, PARSERS

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCES = sorted(PARSERS)
JSON_SOURCES = [s for s in SOURCES if OWN_FIXTURES[s][0].endswith(".json")]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def assert_survives(source: str, payload: bytes) -> None:
    items = PARSERS[source](payload)
    for item in items:
        assert isinstance(item, Item)
        if isinstance(item, Rejected):
            assert item.reason.startswith(f"{source}: ") and len(item.reason) > len(source) + 4


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """The value with one randomly chosen node, at a random depth, replaced by random JSON."""
    children = (
        list(value.keys())
        if isinstance(value, dict)
        else list(range(len(value)))
        if isinstance(value, list)
        else []
    )
    if not children or depth > 6 or data.draw(st.integers(0, 4)) == 0:
        return data.draw(json_values)
    key = data.draw(st.sampled_from(children))
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = mutate(value[key], data, depth + 1)
    return copy


@SETTINGS
@given(source=st.sampled_from(SOURCES), payload=st.binary(max_size=300))
def test_random_bytes_never_crash_a_parser(source: str, payload: bytes) -> None:
    assert_survives(source, payload)


@SETTINGS
@given(source=st.sampled_from(SOURCES), data=st.data())
def test_truncated_or_corrupted_fixtures_never_crash_a_parser(
    source: str, data: st.DataObject
) -> None:
    payload = (FIXTURES / data.draw(st.sampled_from(OWN_FIXTURES[source]))).read_bytes()
    cut = data.draw(st.integers(0, len(payload)))
    flip = data.draw(st.integers(0, max(0, len(payload) - 1)))
    garbled = bytearray(payload[:cut])
    if garbled and flip < len(garbled):
        garbled[flip] ^= data.draw(st.integers(1, 255))
    assert_survives(source, bytes(garbled))


@SETTINGS
@given(source=st.sampled_from(JSON_SOURCES), data=st.data())
def test_fixtures_with_a_field_replaced_by_random_json_never_crash(
    source: str, data: st.DataObject
) -> None:
    document = json.loads((FIXTURES / OWN_FIXTURES[source][0]).read_bytes())
    assert_survives(source, json.dumps(mutate(document, data)).encode())


@SETTINGS
@given(data=st.data())
def test_jetstream_events_with_a_field_replaced_never_crash(data: st.DataObject) -> None:
    lines = (FIXTURES / OWN_FIXTURES["bluesky"][0]).read_text().splitlines()
    event = json.loads(data.draw(st.sampled_from(lines)))
    assert_survives("bluesky", json.dumps(mutate(event, data)).encode())
