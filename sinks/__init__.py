"""Sinks: Elasticsearch for dashboards, alert routes for people. Each is start/write/close/check."""
