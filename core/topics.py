"""Topic names and partition counts: each topic is a contract between two stages.

Names carry a namespace (default `sada`) so several deployments, or test runs, can share one
Kafka cluster without reading each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    suffix: str
    partitions: int
    key: str  # what the records are keyed by, for readers of this file

    def name(self, namespace: str) -> str:
        return f"{namespace}.{self.suffix}"


RAW = Topic("mentions.raw", 4, "mention uid")
SCORED = Topic("mentions.scored", 4, "client/brand")
ALERTS = Topic("alerts", 4, "client/brand")
DEADLETTER = Topic("deadletter", 1, "none")

ALL = (RAW, SCORED, ALERTS, DEADLETTER)
