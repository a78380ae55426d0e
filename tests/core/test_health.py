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


def test_metrics_say_whether_the_process_is_ready() -> None:
    ready = {"value": True}
    server = health.serve(0, lambda: ready["value"])
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        assert "\nsada_ready 1.0\n" in httpx.get(url).text
        health.waiting("notify", "delivering: a route answered 503")
        assert "\nsada_ready 0.0\n" in httpx.get(url).text
        health.recovered("notify")
        ready["value"] = False
        assert "\nsada_ready 0.0\n" in httpx.get(url).text
    finally:
        health.recovered("notify")
        server.shutdown()


def test_the_server_listens_on_the_host_it_is_given() -> None:
    server = health.serve(0, lambda: True, host="0.0.0.0")  # noqa: S104 - what a pod needs
    try:
        assert server.server_address[0] == "0.0.0.0"
        port = server.server_address[1]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        server.shutdown()
