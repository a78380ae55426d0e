"""A searching source asks its platform for the brands' own queries, in the platform's syntax."""

from __future__ import annotations

import yaml

from core.config import SadaConfig
from ingest.terms import MAX_QUERY_CHARS, derive, unknown_brands

CONFIG = SadaConfig.model_validate(
    yaml.safe_load(
        """
clients:
  - id: northwind
    name: Northwind
    brands:
      - id: skyline-air
        name: Skyline Air
        include: ['"Skyline Air" OR @SkylineAir', '"سكاي لاين" NOT وظائف']
      - id: amr
        name: Amr Diab
        include: ['"عمرو دياب" OR "3amr diab"']
"""
    )
)


def test_boolean_platforms_get_one_or_query() -> None:
    derived = derive(CONFIG, [], "boolean")
    assert derived.queries == [
        '"Skyline Air" OR @SkylineAir OR "سكاي لاين" OR "عمرو دياب" OR "3amr diab"'
    ]
    assert derived.after_fetch == [
        "northwind/skyline-air: NOT وظائف",
        "northwind/amr: 3amr diab~ (other Arabizi spellings)",
    ]


def test_plain_platforms_get_a_request_per_alternative_and_hashtags_run_together() -> None:
    assert derive(CONFIG, ["northwind/skyline-air"], "plain").queries == [
        '"Skyline Air"',
        "@SkylineAir",
        '"سكاي لاين"',
    ]
    assert derive(CONFIG, ["northwind/skyline-air"], "hashtags").queries == [
        "SkylineAir",
        "سكايلاين",
    ]


def test_long_boolean_searches_are_split_under_the_platform_limit() -> None:
    many = CONFIG.model_copy(
        update={
            "clients": [
                CONFIG.clients[0].model_copy(
                    update={
                        "brands": [
                            CONFIG.clients[0]
                            .brands[0]
                            .model_copy(
                                update={"include": [" OR ".join(f"brand{i}" for i in range(200))]}
                            )
                        ]
                    }
                )
            ]
        }
    )
    queries = derive(many, [], "boolean").queries
    assert len(queries) > 1 and all(len(q) <= MAX_QUERY_CHARS for q in queries)
    assert sum(q.count("brand") for q in queries) == 200


def test_unknown_brands_are_named() -> None:
    assert unknown_brands(CONFIG, ["northwind/amr", "northwind/nope"]) == ["northwind/nope"]
