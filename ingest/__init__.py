"""Ingest: one module per source, each yielding Mentions; a shared runner produces them to Kafka."""
