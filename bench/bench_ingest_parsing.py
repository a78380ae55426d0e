"""Parse throughput of each ingest source, on one core, from the committed test fixtures.

Each fixture is grown to a page of the size the source really sends (100 HN hits, 40 Mastodon
statuses, 250 GDELT articles...) so per-page costs weigh as they do in production, then parsed
repeatedly for `--seconds`. Prints mentions/s per source; the target for parse + produce is
20,000 mentions/s on one core, so parsing alone should stay well above it.

    python -m bench.bench_ingest_parsing [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.events import Mention
from sada.cli import quiet_gc
from tests.ingest.support import FIXTURES, OWN_FIXTURES, PARSERS

TARGET = 20_000


def _grow(
    source: str, size: int, template: list[Any], render: Callable[[list[Any]], bytes]
) -> bytes:
    """`size` items cycled from `template`, rendered as one page. Only items that become
    mentions are cycled: the fixtures mix in skipped and malformed items on purpose, a real
    page is nearly all mentions, and the rate counts mentions."""
    parse = PARSERS[source]
    kept = [t for t in template if any(isinstance(i, Mention) for i in parse(render([t])))]
    return render([kept[i % len(kept)] for i in range(size)])


def _grow_json(source: str, size: int, path: Callable[[Any], list[Any]]) -> bytes:
    document = json.loads((FIXTURES / OWN_FIXTURES[source][0]).read_bytes())
    items = path(document)

    def render(chosen: list[Any]) -> bytes:
        items[:] = chosen
        return json.dumps(document, ensure_ascii=False).encode()

    return _grow(source, size, list(items), render)


def _grow_between(source: str, size: int, item: bytes) -> bytes:
    """A page of markup whose items match the pattern `item` (RSS items, preview posts)."""
    text = (FIXTURES / OWN_FIXTURES[source][0]).read_bytes()
    items = re.findall(item, text, flags=re.S)
    start, end = text.index(items[0]), text.rindex(items[-1]) + len(items[-1])
    return _grow(source, size, items, lambda chosen: text[:start] + b"".join(chosen) + text[end:])


def _grow_lines(source: str, size: int) -> bytes:
    lines = (FIXTURES / OWN_FIXTURES[source][0]).read_bytes().splitlines()
    return _grow(source, size, lines, b"\n".join)


def pages() -> dict[str, bytes]:
    """One realistic page (or stream chunk) per source."""
    return {
        "bluesky": _grow_lines("bluesky", 1000),
        "mastodon": _grow_json("mastodon", 40, lambda d: d),
        "hackernews": _grow_json("hackernews", 100, lambda d: d["hits"]),
        "facebook": _grow_json("facebook", 100, lambda d: d["data"]),  # limit
        "instagram": _grow_json("instagram", 50, lambda d: d["data"]),
        "rss": _grow_between("rss", 100, rb"<item>.*?</item>"),
        "appstore": _grow_json("appstore", 50, lambda d: d["feed"]["entry"]),
        "googleplay": _grow_json("googleplay", 100, lambda d: d["reviews"]),
        "reddit": _grow_json("reddit", 100, lambda d: d["data"]["children"]),
        "gdelt": _grow_json("gdelt", 250, lambda d: d["articles"]),
        "push": _grow_json("push", 1000, lambda d: d),
        "telegram": _grow_json("telegram", 100, lambda d: d["result"]),  # limit
        "telegram_preview": _grow_between(
            "telegram_preview", 20, rb'<div class="tgme_widget_message_wrap.*?</div></div>\n'
        ),
        "youtube": _grow_json("youtube", 100, lambda d: d["items"]),  # threads
        # a delivery batches up to 1000 changes
        "meta_webhook": _grow_json("meta_webhook", 1000, lambda d: d["entry"][0]["changes"]),
        "x": _grow_json("x", 100, lambda d: d["data"]),  # max_results=100
    }


def measure(
    parse: Callable[[bytes], Sequence[object]], page: bytes, seconds: float
) -> tuple[float, float]:
    """(mentions per second, megabytes per second) of `parse` over `page`."""
    mentions = rounds = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or rounds == 0:
        mentions += sum(isinstance(i, Mention) for i in parse(page))
        rounds += 1
    return mentions / elapsed, rounds * len(page) / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per source")
    args = parser.parse_args()
    quiet_gc()  # as `sada ingest` runs its sources
    print(f"{'source':<12}{'mentions/s':>12}{'MB/s':>8}  vs target {TARGET:,}/s")
    for source, page in pages().items():
        rate, megabytes = measure(PARSERS[source], page, args.seconds)
        verdict = "ok" if rate >= TARGET else "BELOW"
        print(f"{source:<12}{rate:>12,.0f}{megabytes:>8.1f}  {verdict}")


if __name__ == "__main__":
    main()
