from __future__ import annotations

import httpx

from core import health, metrics


def test_metrics_health_and_readiness_are_served() -> None:
    ready = {"value": False}
    server = health.serve(0, lambda: ready["value"])
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        metrics.RECEIVED.labels("test").inc()
        assert "sada_records_received_total" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503
        ready["value"] = True
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.shutdown()


def test_a_readiness_check_that_raises_means_not_ready() -> None:
    def broken() -> bool:
        raise ConnectionError("no broker")

    server = health.serve(0, broken)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
        assert httpx.get(url).status_code == 503
    finally:
        server.shutdown()


def test_a_stage_that_waits_makes_the_process_not_ready_and_says_why() -> None:
    server = health.serve(0, lambda: True)
    url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
    try:
        health.waiting("index-mentions", "committing offsets: KafkaConnectionError")
        response = httpx.get(url)
        assert response.status_code == 503
        assert "index-mentions: committing offsets: KafkaConnectionError" in response.text
        assert httpx.get(url.replace("readyz", "healthz")).status_code == 200  # alive all along
        health.recovered("index-mentions")
        assert httpx.get(url).status_code == 200
    finally:
        health.recovered("index-mentions")
        server.shutdown()
