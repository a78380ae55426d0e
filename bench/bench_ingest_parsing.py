"""Parse throughput of each ingest source, on one core, from the committed test fixtures.

Each fixture is grown to a page of the size the source really sends (100 HN hits, 40 Mastodon
statuses, 250 GDELT articles...) so per-page costs weigh as they do in production, then parsed
repeatedly for `--seconds`. Prints mentions/s per source; the target for parse + produce is
20,000 mentions/s on one core, so parsing alone should stay well above it.

    python -m bench.bench_ingest_parsing [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.events import Mention
from tests.ingest.support import FIXTURES, OWN_FIXTURES, PARSERS

TARGET = 20_000


def _grow_json(name: str, size: int, path: Callable[[Any], list[Any]]) -> bytes:
    document = json.loads((FIXTURES / name).read_bytes())
    items = path(document)
    template = list(items)
    items[:] = [copy.deepcopy(template[i % len(template)]) for i in range(size)]
    return json.dumps(document, ensure_ascii=False).encode()


def _grow_xml(name: str, size: int) -> bytes:
    text = (FIXTURES / name).read_bytes()
    items = re.findall(rb"<item>.*?</item>", text, flags=re.S)
    start, end = text.index(items[0]), text.rindex(items[-1]) + len(items[-1])
    return text[:start] + b"".join(items[i % len(items)] for i in range(size)) + text[end:]


def _grow_lines(name: str, size: int) -> bytes:
    lines = (FIXTURES / name).read_bytes().splitlines()
    return b"\n".join(lines[i % len(lines)] for i in range(size))


def _grow_telegram_preview(name: str, size: int) -> bytes:
    text = (FIXTURES / name).read_bytes()
    posts = re.findall(rb'<div class="tgme_widget_message_wrap.*?</div></div>\n', text, flags=re.S)
    start, end = text.index(posts[0]), text.rindex(posts[-1]) + len(posts[-1])
    return text[:start] + b"".join(posts[i % len(posts)] for i in range(size)) + text[end:]


def pages() -> dict[str, bytes]:
    """One realistic page (or stream chunk) per source."""
    return {
        "bluesky": _grow_lines(OWN_FIXTURES["bluesky"][0], 1000),
        "mastodon": _grow_json(OWN_FIXTURES["mastodon"][0], 40, lambda d: d),
        "hackernews": _grow_json(OWN_FIXTURES["hackernews"][0], 100, lambda d: d["hits"]),
        "facebook": _grow_json(OWN_FIXTURES["facebook"][0], 100, lambda d: d["data"]),  # limit
        "instagram": _grow_json(OWN_FIXTURES["instagram"][0], 50, lambda d: d["data"]),
        "rss": _grow_xml("rss_google_news_ar.xml", 100),
        "appstore": _grow_json(OWN_FIXTURES["appstore"][0], 50, lambda d: d["feed"]["entry"]),
        "googleplay": _grow_json(OWN_FIXTURES["googleplay"][0], 100, lambda d: d["reviews"]),
        "reddit": _grow_json(OWN_FIXTURES["reddit"][0], 100, lambda d: d["data"]["children"]),
        "gdelt": _grow_json(OWN_FIXTURES["gdelt"][0], 250, lambda d: d["articles"]),
        "push": _grow_json(OWN_FIXTURES["push"][0], 1000, lambda d: d),
        "telegram": _grow_json(OWN_FIXTURES["telegram"][0], 100, lambda d: d["result"]),  # limit
        "telegram_preview": _grow_telegram_preview(OWN_FIXTURES["telegram_preview"][0], 20),
        "youtube": _grow_json(OWN_FIXTURES["youtube"][0], 100, lambda d: d["items"]),  # threads
        # a delivery batches up to 1000 changes; the feed fixture's first entry has a
        # reaction and the Page's own reply among them, skipped as in production
        "meta_webhook": _grow_json(
            OWN_FIXTURES["meta_webhook"][0], 1000, lambda d: d["entry"][0]["changes"]
        ),
        "x": _grow_json(OWN_FIXTURES["x"][0], 100, lambda d: d["data"]),  # max_results=100
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
    print(f"{'source':<12}{'mentions/s':>12}{'MB/s':>8}  vs target {TARGET:,}/s")
    for source, page in pages().items():
        rate, megabytes = measure(PARSERS[source], page, args.seconds)
        verdict = "ok" if rate >= TARGET else "BELOW"
        print(f"{source:<12}{rate:>12,.0f}{megabytes:>8.1f}  {verdict}")


if __name__ == "__main__":
    main()
