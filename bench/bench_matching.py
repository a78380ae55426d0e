"""Matching throughput on one core with 10, 1,000 and 10,000 brand queries.

    python bench/bench_matching.py [--mentions N] [--queries 10,1000,10000]

Queries and posts are synthetic but shaped like real ones: Latin, Arabic and Arabizi brand names;
plain terms, phrases, wildcards, NEAR, exclusions and a few lang: filters; posts of 8 to 40 words
drawn from a Zipf-like vocabulary in four languages, with unseen words (names, numbers) mixed in
so the per-word cache does not flatter the figure, and about one post in ten naming a brand.
The time counted is match() alone (normalise, tokenise, index look-ups, evaluation), in CPU
seconds of this process, so other work on the machine does not distort it.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from datetime import UTC, datetime

from core.config import SadaConfig
from core.events import Author, Mention
from processors.match import build_matcher, match


def _wordlist(text: str) -> list[str]:
    return text.split()


LATIN = list("bcdfghklmnprstvz")
VOWELS = list("aeiou")
ARABIC = list("بتثجحخدذرزسشصضطظعغفقكلمنهوي")
COMMON = _wordlist(
    "the and is my to a of in it for this not with so very phone service network new "
    "le la les est pas je très avec pour une réseau téléphone "
    "في من على و ما لا هذا الشبكة الخدمة والله جدا مش عايز ليه "
    "ana msh 3ayez ya3ni wallah el awi keda 7elw"
)


def _name(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "".join(rng.choice(ARABIC) for _ in range(rng.randint(4, 7)))
    syllables = rng.randint(2, 4)
    return "".join(rng.choice(LATIN) + rng.choice(VOWELS) for _ in range(syllables))


def _word(rng: random.Random) -> str:
    """An ordinary word: ends in a consonant, so it is never exactly a brand name."""
    syllables = rng.randint(1, 3)
    stem = "".join(rng.choice(LATIN) + rng.choice(VOWELS) for _ in range(syllables))
    return stem + rng.choice(LATIN)


def _arabizi(rng: random.Random) -> str:
    word = _name(rng) if rng.random() < 0.5 else "ma" + _name(rng)
    word = word if word.isascii() else "sa" + "".join(rng.choice(VOWELS) for _ in range(3))
    cut = rng.randint(1, len(word) - 1)
    return word[:cut] + rng.choice("3725") + word[cut:]


def _query(rng: random.Random, name: str) -> str:
    kind = rng.random()
    other = _name(rng)
    if kind < 0.45:
        return name
    if kind < 0.60:
        return f'"{name} {other}"'
    if kind < 0.70:
        return f"{name} NOT ({other} OR {_name(rng)})"
    if kind < 0.78:
        return f"{name} NEAR/3 ({other} OR {_name(rng)})"
    if kind < 0.86:
        return f"{name[: max(4, len(name) - 2)]}*"
    if kind < 0.94:
        return f'"{_arabizi(rng)} {other}"'
    if kind < 0.97:
        return f"(#{name} OR @{name}) {other}"
    return f"{name} lang:{rng.choice(['ar', 'en', 'fr', 'arz'])}"


def make_config(queries: int, rng: random.Random) -> tuple[SadaConfig, list[str]]:
    """Brands with 1-3 queries each, 100 brands per client, `queries` queries in all."""
    names: list[str] = []
    brands: list[dict[str, object]] = []
    made = 0
    while made < queries:
        name = _name(rng)
        names.append(name)
        count = min(rng.randint(1, 3), queries - made)
        include = [_query(rng, name) for _ in range(count)]
        exclude = [f"{name} NEAR/2 {_name(rng)}"] if rng.random() < 0.2 else []
        brands.append(
            {"id": f"b{len(brands)}", "name": name, "include": include, "exclude": exclude}
        )
        made += count + len(exclude)
    clients = [
        {"id": f"c{i}", "name": f"Client {i}", "brands": brands[i * 100 : (i + 1) * 100]}
        for i in range(0, (len(brands) + 99) // 100)
    ]
    return SadaConfig.model_validate({"clients": clients}), names


def make_mentions(count: int, names: list[str], rng: random.Random) -> list[Mention]:
    vocabulary = COMMON + [_word(rng) for _ in range(20_000)]
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    mentions = []
    for i in range(count):
        words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(8, 40))
        words += [f"{rng.choice(LATIN)}{rng.randint(0, 10**6)}" for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.1:
            words.insert(
                rng.randrange(len(words)), rng.choice(["ال", "و", "#", ""]) + rng.choice(names)
            )
        if rng.random() < 0.2:
            words.append(rng.choice(["🔥", "😡", "❤️", "https://t.co/x"]))
        mentions.append(
            Mention(
                uid=f"m{i}",
                source="bench",
                source_id=str(i),
                author=Author(handle=f"user{i % 977}", followers=i % 5000),
                text=" ".join(words),
                created_at=at,
                fetched_at=at,
            )
        )
    return mentions


def run(queries: int, mentions: int, seed: int = 7) -> tuple[float, float, int]:
    """Return (mentions per CPU second, seconds to compile, brand hits) for one query count."""
    rng = random.Random(seed)
    config, names = make_config(queries, rng)
    started = time.process_time()
    matcher = build_matcher(config)
    compile_seconds = time.process_time() - started
    posts = make_mentions(mentions, names, rng)
    for post in posts[:1000]:  # warm up the word cache as a running processor would
        match(post, matcher)
    started = time.process_time()
    hits = sum(len(match(post, matcher)) for post in posts)
    return mentions / (time.process_time() - started), compile_seconds, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--queries", default="10,1000,10000")
    args = parser.parse_args()
    print(f"{'queries':>8} {'mentions/s':>11} {'compile s':>10} {'brand hits':>11}")
    for queries in (int(q) for q in args.queries.split(",")):
        rate, compile_seconds, hits = run(queries, args.mentions)
        print(f"{queries:>8,} {rate:>11,.0f} {compile_seconds:>10.2f} {hits:>11,}")


if __name__ == "__main__":
    main()
