"""Brand matching: which configured brands a mention concerns.

This version matches each include/exclude entry as a plain term or "quoted phrase" on word
boundaries of the normalised text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.config import SadaConfig
from core.events import Mention
from processors.normalize import normalize


@dataclass(frozen=True)
class BrandMatch:
    client: str
    brand: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class _Rule:
    client: str
    brand: str
    include: tuple[tuple[str, re.Pattern[str]], ...]
    exclude: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Matcher:
    rules: tuple[_Rule, ...]


def _pattern(term: str) -> re.Pattern[str]:
    words = normalize(term.strip().strip('"'))
    return re.compile(rf"(?<!\w){re.escape(words)}(?!\w)")


def build_matcher(config: SadaConfig) -> Matcher:
    """Compile every brand's queries once, at start-up."""
    rules = tuple(
        _Rule(
            client=client.id,
            brand=brand.id,
            include=tuple((term, _pattern(term)) for term in brand.include),
            exclude=tuple(_pattern(term) for term in brand.exclude),
        )
        for client in config.clients
        for brand in client.brands
    )
    return Matcher(rules)


def match(mention: Mention, matcher: Matcher) -> list[BrandMatch]:
    """Return one BrandMatch per brand whose include queries hit and no exclude query does."""
    text = normalize(mention.text)
    found = []
    for rule in matcher.rules:
        terms = tuple(term for term, pattern in rule.include if pattern.search(text))
        if terms and not any(pattern.search(text) for pattern in rule.exclude):
            found.append(BrandMatch(rule.client, rule.brand, terms))
    return found
