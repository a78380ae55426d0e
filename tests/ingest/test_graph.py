"""The Graph client both Meta sources share: usage pacing, error objects, proof, ids.

Header and error shapes follow Meta's Graph API docs: "Rate Limits" (X-App-Usage and
X-Business-Use-Case-Usage: call_count, total_cputime, total_time in percent,
estimated_time_to_regain_access in minutes) and "Handling Errors" (the `error` object with
message, type, code, error_subcode, fbtrace_id; codes 190, 10, 200-299, 4, 17, 32, 613).
The error bodies from ../shared are real recorded answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.errors import RetryLater, SourceError
from ingest.graph import (
    MAX_DELAY,
    Graph,
    GraphConfig,
    appsecret_proof,
    graph_error,
    graph_time,
    node_path,
    usage_delay,
)
from tests.ingest.support import SHARED


def app(**usage: int) -> dict[str, str]:
    return {"x-app-usage": json.dumps(usage)}


def buc(**usage: int) -> dict[str, str]:
    entry = {"type": "pages", "call_count": 0, "total_cputime": 0, "total_time": 0, **usage}
    return {"x-business-use-case-usage": json.dumps({"104828591234567": [entry]})}


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({}, 0.0),
        (app(call_count=28, total_time=25, total_cputime=25), 0.0),
        (app(call_count=50, total_time=10, total_cputime=10), 0.0),
        (app(call_count=75, total_time=10, total_cputime=10), 10.0),
        (app(call_count=10, total_time=90, total_cputime=10), 40.0),  # the highest counts
        (buc(total_cputime=99), 490.0),
        (buc(call_count=100), MAX_DELAY),
        (buc(call_count=100, estimated_time_to_regain_access=7), 420.0),  # minutes
        (buc(call_count=20, estimated_time_to_regain_access=90), MAX_DELAY),
        ({**app(call_count=20), **buc(call_count=75)}, 10.0),  # either budget slows down
        ({"x-app-usage": "{not json"}, 0.0),  # unreadable: no usage, ingestion goes on
        ({"x-business-use-case-usage": '{"1": "x", "2": [3]}'}, 0.0),
    ],
)
def test_usage_slows_calls_down_as_it_nears_the_limit(
    headers: dict[str, str], delay: float
) -> None:
    assert usage_delay(headers, step_seconds=10.0) == pytest.approx(delay)


def test_usage_delay_grows_with_usage() -> None:
    delays = [usage_delay(app(call_count=p), step_seconds=10.0) for p in range(0, 101, 5)]
    assert delays == sorted(delays) and delays[-1] == MAX_DELAY


def error(code: int, message: str = "m", **extra: object) -> str:
    return json.dumps(
        {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}
    )


def test_graph_errors_become_clear_source_errors_or_retry_later() -> None:
    kw = {"what": "facebook: GET /1/feed", "renew": "the Page token", "needs": "pages_x"}
    expired = graph_error(error(190, "Session has expired", error_subcode=463), **kw)
    assert isinstance(expired, SourceError)
    assert str(expired).startswith("facebook: GET /1/feed: the access token was refused")
    assert "190/463" in str(expired) and "renew the Page token" in str(expired)
    denied = graph_error(
        error(10, "(#10) This endpoint requires the 'pages_read_user_content' permission"), **kw
    )
    assert isinstance(denied, SourceError) and "grant pages_read_user_content to the app" in str(
        denied
    )
    unnamed = graph_error(error(200, "(#200) Permissions error"), **kw)
    assert isinstance(unnamed, SourceError) and "grant pages_x" in str(unnamed)
    for code in (4, 17, 32, 613, 80001, 80002):
        assert isinstance(graph_error(error(code), **kw), RetryLater), code
    assert isinstance(graph_error(error(2, is_transient=True), **kw), RetryLater)
    other = graph_error(error(803, "(#803) Some of the aliases you requested do not exist"), **kw)
    assert isinstance(other, SourceError) and "check the ids" in str(other)
    for body in ("", "<html>", '{"data": []}', "[1]", '{"error": "x"}'):
        assert graph_error(body, **kw) is None


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
def test_real_graph_error_bodies_are_explained() -> None:
    kw = {"what": "facebook: GET /1/feed", "renew": "t", "needs": "pages_x"}
    missing = (SHARED / "meta_graph_error_100_oauthexception.json").read_text()
    error_100 = graph_error(missing, **kw)
    assert isinstance(error_100, SourceError) and "grant pages_read_engagement to" in str(error_100)
    proof = (SHARED / "meta_graph_error_100_app_secret_proof.json").read_text()
    needs_proof = graph_error(proof, **kw)
    assert isinstance(needs_proof, SourceError) and "requires either app secret proof" in str(
        needs_proof
    )


def test_appsecret_proof_is_the_hmac_of_the_token() -> None:
    expected = hmac.new(b"app-secret", b"EAAtoken", hashlib.sha256).hexdigest()
    assert appsecret_proof("EAAtoken", "app-secret") == expected


def test_graph_times_and_ids() -> None:
    assert graph_time("2021-08-10T18:45:03+0000").isoformat() == "2021-08-10T18:45:03+00:00"
    assert graph_time(1628621103).isoformat() == "2021-08-10T18:45:03+00:00"  # webhooks
    assert node_path("881234567890123_1200000000000001", "comments", "facebook") == (
        "/881234567890123_1200000000000001/comments"
    )
    for bad in ("../me", "1/feed", "", "12?x=1"):
        with pytest.raises(SourceError, match="not a Graph object id"):
            node_path(bad, "comments", "facebook")


async def dry_run(source: str, sets: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    """`sada ingest --source SOURCE --once --dry-run --set ...` against a local double (a
    lookback reaching the 2026 fixtures): the records printed, and what went to stderr."""
    sets = {"allow_private": "true", "initial_lookback_seconds": str(20 * 365 * 86400), **sets}
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sada", "ingest", "--source", source, "--once", "--dry-run"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SADA_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")], err.decode()


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real payloads not present at {SHARED}")
async def test_the_real_paging_next_is_followed_without_its_token() -> None:
    async with httpx.AsyncClient() as client:
        config = GraphConfig(access_token=SecretStr("t"))
        graph = Graph(config, client, source="instagram", renew="t")
        for name, path, cursor in [
            (
                "instagram_hashtag_recent_media_p1.json",
                "/v4.0/17843826142012701/top_media",
                "after",
            ),
            ("meta_graph_feed_fields_id4.json", "/v10.0/4/posts", "__paging_token"),
        ]:
            answer = httpx.Response(200, content=(SHARED / name).read_bytes())
            following = graph.next_page(answer)
            assert following is not None
            url, query = following
            assert url == f"https://graph.facebook.com{path}" and cursor in query
            assert "access_token" not in query
        elsewhere = httpx.Response(
            200, json={"data": [], "paging": {"next": "https://evil.example/x"}}
        )
        assert graph.next_page(elsewhere) is None
        assert graph.next_page(httpx.Response(200, json={"data": [], "paging": {}})) is None
