"""What every source parser does around its own field mapping: decode, isolate, explain.

A parser maps one payload to a list of `Mention | Rejected`: a page that is not what the source
documents becomes one `Rejected`; an item that cannot be mapped becomes a `Rejected` with the
item and the reason, and its neighbours still parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from core.errors import Rejected
from core.events import Mention, Removal

Item = Mention | Removal | Rejected
T = TypeVar("T")


def text_of(payload: bytes | str) -> str:
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload


def load_json(payload: bytes | str, source: str) -> Any | Rejected:
    """The decoded JSON, or a Rejected saying the payload is not JSON (and what it looks like).

    orjson reads it first (it decodes pages several times faster); what it refuses (a lone
    surrogate in one item's text, an integer beyond 64 bits, NaN) goes to the standard library,
    which reads it as before or says precisely what is wrong."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        text = text_of(payload)
        start = text.lstrip()[:80]
        kind = "HTML" if start[:1] == "<" else "text"
        return Rejected(
            payload=text,
            reason=f"{source}: payload is not JSON ({kind} starting "
            f"{start!r}; {type(exc).__name__}: {exc})",
        )


def field(obj: Any, *path: str | int) -> Any:
    """`obj[a][b]...`, raising a KeyError that names the path when any step is missing."""
    for step in path:
        try:
            obj = obj[step]
        except (KeyError, IndexError, TypeError) as exc:
            raise KeyError(".".join(map(str, path))) from exc
    return obj


def explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
            for e in exc.errors()[:5]
        ]
        return "invalid " + "; ".join(problems)
    if isinstance(exc, KeyError):
        return f"missing or malformed field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def each(raw_items: Iterable[Any], build: Callable[[Any], T | None], source: str) -> list[Item | T]:
    """Map every raw item with `build` (None: not a mention, skip it) isolating failures."""
    out: list[Item | T] = []
    for raw in raw_items:
        try:
            mention = build(raw)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            out.append(Rejected(payload=_dump(raw), reason=f"{source}: {explain(exc)}"))
        else:
            if mention is not None:
                out.append(mention)
    return out


def _dump(raw: Any) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(raw)
