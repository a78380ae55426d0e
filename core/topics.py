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
    config: tuple[tuple[str, str], ...] = ()  # topic configs it is created with

    def name(self, namespace: str) -> str:
        return f"{namespace}.{self.suffix}"


RAW = Topic("mentions.raw", 4, "mention uid")
SCORED = Topic("mentions.scored", 4, "client/brand")
ALERTS = Topic("alerts", 4, "client/brand")
DEADLETTER = Topic("deadletter", 1, "none")
REMOVALS = Topic("mentions.removed", 1, "mention uid")
# which dead letters `sada deadletter replay` sent back: one record per letter, kept for good
REPLAYED = Topic(
    "deadletter.replayed", 1, "dead letter id (partition:offset)", (("cleanup.policy", "compact"),)
)

ALL = (RAW, SCORED, ALERTS, DEADLETTER, REMOVALS, REPLAYED)


@dataclass(frozen=True)
class Changelog:
    """The changelog of one of the detect stage's tables (`<detect app id>-<table>-changelog`).

    Created with the topics above rather than left to Faust: a detect worker killed in its first
    seconds on a new namespace left them half-declared, and its successor saw them with no
    partitions and stopped (PartitionsMismatch) for good. The settings are Faust's own.
    """

    table: str
    config: tuple[tuple[str, str], ...]


COUNTS_EXPIRES_SECONDS = 3600  # event time: minutes this far behind a watermark are closed
DETECTOR_STATE = Changelog("detector-state", (("cleanup.policy", "compact"),))
MENTION_COUNTS = Changelog(
    "mention-counts",
    (("cleanup.policy", "compact,delete"), ("retention.ms", str(COUNTS_EXPIRES_SECONDS * 1000))),
)
CHANGELOGS = (DETECTOR_STATE, MENTION_COUNTS)  # partitions: SCORED's, as their keys
