"""Every metric Sada exports, declared once. Each stage counts received, sent and errors by kind."""

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
