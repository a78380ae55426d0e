"""Every metric Sada exports, declared once. Each stage counts received, sent and errors by kind.

deploy/grafana and deploy/prometheus use these names (tests/deploy/test_observability.py checks
that each one they use is declared here and moves in an end-to-end run)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("sada_records_received_total", "Records a stage took in.", ["stage"])
SENT = Counter("sada_records_sent_total", "Records a stage passed on.", ["stage"])
ERRORS = Counter("sada_errors_total", "Failures by stage and kind.", ["stage", "kind"])
DEADLETTERED = Counter("sada_deadletter_total", "Records sent to the dead-letter topic.", ["stage"])
ALERTS = Counter("sada_alerts_total", "Alerts raised, by kind.", ["kind"])
NOTIFIED = Counter(
    "sada_notifications_total", "Alert deliveries by route type.", ["route", "outcome"]
)
FELL_BEHIND = Counter(
    "sada_sentiment_fallback_total",
    "Mentions the linear model scored because the slow sentiment backend fell behind.",
)
INDEXED = Counter("sada_documents_indexed_total", "Documents accepted by Elasticsearch.")
REMOVED = Counter(
    "sada_documents_removed_total", "Documents deleted because their platform deleted the post."
)
BULK_SECONDS = Histogram("sada_bulk_seconds", "Duration of Elasticsearch bulk requests.")
NEWEST_LAG = Gauge(
    "sada_newest_item_lag_seconds", "Age of the newest item a source fetched.", ["source"]
)
SOURCE_LAST_ITEM = Gauge(
    "sada_source_last_item_timestamp_seconds",
    "When a source last yielded anything (a mention, a removal, a rejected item), Unix time: "
    "how long it has been silent. No value until its first item since the process started.",
    ["source"],
)
CONSUMER_LAG = Gauge(
    "sada_consumer_lag",
    "Records of a partition its consumer group has not committed yet. Every worker of a group "
    "reports the whole group's partitions: take max by (group, topic, partition).",
    ["group", "topic", "partition"],
)
# Seconds from a few tenths (the pipeline keeping up) to an hour (a stage down for a while).
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
INDEXED_DELAY = Histogram(
    "sada_mention_indexed_delay_seconds",
    "From a mention's fetched_at (when ingest took it in) to Elasticsearch acknowledging its "
    "bulk: Sada's own delay. Not from created_at, which adds the platform's and the source's "
    "delay (polling, a late feed; see sada_newest_item_lag_seconds). A replay keeps its "
    "fetched_at and counts as late.",
    buckets=DELAY_BUCKETS,
)
DELIVERED_DELAY = Histogram(
    "sada_alert_delivered_delay_seconds",
    "From an alert's raised_at (the detector) to a route acknowledging its delivery, by route type.",
    ["route"],
    buckets=DELAY_BUCKETS,
)
READY = Gauge(
    "sada_ready", "1 when the process is ready (what /readyz answers, at scrape time), else 0."
)
CONFIG_RELOADS = Counter(
    "sada_config_reloads_total",
    "Changed clients files a worker read while running: applied, or refused (what `sada config "
    "check` would say is logged; the worker keeps its configuration).",
    ["outcome"],
)
