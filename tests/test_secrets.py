"""No secret of the clients file ever reaches a log, a dead letter or an index.

The whole pipeline runs as real processes (`sada ingest`, `sada process`, `sada sinks`) on the
real local Kafka and Elasticsearch, with a secret planted in every kind of route (a webhook's
?token=, Slack's and Teams' URL paths, a Telegram bot token, an SMTP password) and every source
credential (an RSS feed key, a Mastodon access token, a Reddit client secret, the push
endpoint's token). Routes fail on purpose: receivers answer 500 (retried, then delivered) or
403 (refused, dead-lettered; one echoes the bot token back), the SMTP server refuses the
login, one route is refused by the outbound address policy, and every source's server answers
401 echoing the request with its credentials. Then every log file, dead letter and document of
the namespace is searched for the secrets.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from core import topics
from core.config import Settings
from sada import SAMPLE_CONFIG
from sada.cli import app
from sada.topics import backlog, ensure_topics
from sada.workers import spawn, stop
from tests.conftest import eventually, pipeline_workers, read_topic
from tests.sinks.support import Answer, Inbox, Scripted, free_port, local_name
from tests.test_end_to_end import _count, _replay_file

WEBHOOK_TOKEN = "whk7Qv9sXb2LmN4pR8t"
SLACK_PATH = "T0SADA1/B0SADA2/slk8Hj3kLmNpQrStUvWx"
TEAMS_SIGNATURE = "tmsSig5f2a9c1e77aaZy9Xw8Vu7"
TELEGRAM_TOKEN = "987654321:AAHtgSx7pQ2mN9vL4kJ8hG3fD6sA1zXc"
SMTP_PASSWORD = "smtpPwKq8Lz2Rt5Xy"
POLICY_TOKEN = "pol3Hs8Kd9Lq2Wm"
RSS_KEY = "rssKeyVb7Nm3Qw9Er"
MASTODON_TOKEN = "mstTokPl0Ok9Ij8Uh7"
REDDIT_SECRET = "rdtSecYg6Tf5Rd4Es3"
PUSH_TOKEN = "pushTokWa2Sd3Fg4Hj5Kl6"
SECRETS = [
    WEBHOOK_TOKEN,
    "slk8Hj3kLmNpQrStUvWx",
    TEAMS_SIGNATURE,
    TELEGRAM_TOKEN,
    TELEGRAM_TOKEN.split(":")[1],
    SMTP_PASSWORD,
    POLICY_TOKEN,
    RSS_KEY,
    MASTODON_TOKEN,
    REDDIT_SECRET,
    PUSH_TOKEN,
]


class Echo:
    """A source's server that refuses everything with 401, echoing the request line and its
    Authorization header back (a hostile body the error messages quote)."""

    def __init__(self) -> None:
        self.requests = 0
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                echo.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = f"unauthorized {self.path} {self.headers.get('Authorization')}".encode()
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _refuse  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _clients_file(
    path: Path,
    replay: Path,
    receivers: dict[str, Scripted],
    smtp_port: int,
    echo: Echo,
    push_port: int,
) -> Path:
    """The sample clients and brands, every brand naming every route below, and sources with
    credentials."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    local = {"allow_private": True}
    routes: dict[str, dict[str, Any]] = {
        "hook": {"url": f"{receivers['hook'].base_url}/alerts?token={WEBHOOK_TOKEN}", **local},
        "slack": {
            "type": "slack",
            "url": f"{receivers['slack'].base_url}/services/{SLACK_PATH}",
            **local,
        },
        "teams": {
            "type": "teams",
            "url": f"{receivers['teams'].base_url}/webhookb2/a@b/IncomingWebhook/c/"
            f"{TEAMS_SIGNATURE}",
            **local,
        },
        "tg": {
            "type": "telegram",
            "bot_token": TELEGRAM_TOKEN,
            "chat_id": "-100123",
            "api_url": receivers["tg"].base_url,
            **local,
        },
        "mail": {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "username": "ops",
            "password": SMTP_PASSWORD,
            "sender": "sada@agency.example",
            "to": ["ops@agency.example"],
            **local,
        },
        "inside": {  # a name of this machine: refused by the policy when sent to
            "url": f"http://{local_name()}:{free_port()}/hook?token={POLICY_TOKEN}",
        },
    }
    for client in data["clients"]:
        client["routes"] = routes
        for brand in client["brands"]:
            if not brand.get("competitor"):  # a competitor is never alerted
                brand["routes"] = list(routes)
    data["sources"] = [
        {"source": "replay", "name": "replay", "path": str(replay)},
        {
            "source": "rss",
            "name": "feeds",
            "feeds": [f"{echo.url}/feed.xml?key={RSS_KEY}"],
            **local,
        },
        {
            "source": "mastodon",
            "name": "toots",
            "instances": [echo.url],
            "hashtags": ["acme"],
            "access_tokens": {echo.url: MASTODON_TOKEN},
            **local,
        },
        {
            "source": "reddit",
            "name": "reddit",
            "client_id": "sada-app",
            "client_secret": REDDIT_SECRET,
            "user_agent": "linux:sada-tests:0.1 (by /u/sada)",
            "queries": ["acme"],
            "token_url": f"{echo.url}/api/v1/access_token",
            "api_url": echo.url,
            **local,
        },
        {"source": "push", "name": "push", "token": PUSH_TOKEN, "port": push_port},
    ]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _smtp_refusing_logins(port: int) -> Controller:
    def refuse(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=port, authenticator=refuse, auth_require_tls=False
    )
    controller.start()
    return controller


def _notify_refusals(settings: Settings) -> set[str]:
    """Routes named in the notify stage's dead letters."""
    return {
        route.split("'")[1]
        for letter in (json.loads(m.value) for m in read_topic(settings, topics.DEADLETTER))
        if letter["stage"] == "notify"
        for route in letter["reason"].split("; route ")
    }


def _indexed(settings: Settings) -> str:
    """Every document of every index of the namespace, as Elasticsearch returns them."""
    names = httpx.get(f"{settings.es_url}/_cat/indices/{settings.namespace}-*?format=json").json()
    found = [i["index"] for i in names]  # each client's monthly indices behind the aliases
    for alias in (settings.mentions_index, settings.alerts_index):
        assert any(name.startswith(f"{alias}-") for name in found), (alias, found)
    return "".join(
        httpx.get(
            f"{settings.es_url}/{index['index']}/_search", params={"size": 10000}, timeout=30
        ).text
        for index in names
    )


def test_no_secret_reaches_a_log_a_dead_letter_or_an_index(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SADA_STATE_DIR", str(tmp_path / "state"))
    receivers = {
        "hook": Scripted(Answer(500, "try later"), Answer(200, "ok")),
        "slack": Scripted(Answer(403, "invalid_token")),
        "teams": Scripted(Answer(500, "busy"), Answer(202, "")),
        "tg": Scripted(
            Answer(403, json.dumps({"ok": False, "description": f"bot{TELEGRAM_TOKEN} blocked"}))
        ),
    }
    echo, smtp_port, push_port = Echo(), free_port(), free_port()
    smtp = _smtp_refusing_logins(smtp_port)
    replay, expected_docs, _ = _replay_file(tmp_path / "mentions.jsonl")
    config = _clients_file(tmp_path / "clients.yaml", replay, receivers, smtp_port, echo, push_port)
    settings = settings.model_copy(update={"config_path": config})
    ensure_topics(settings)
    try:
        with pipeline_workers(settings, tmp_path):
            ingest = spawn("ingest", settings, tmp_path)
            try:
                eventually(
                    lambda: _count(settings) == expected_docs and backlog(settings) == 0,
                    what=f"{expected_docs} documents indexed and every stage caught up",
                )
                eventually(
                    lambda: (
                        len(receivers["hook"].posted) >= 2 and len(receivers["teams"].posted) >= 2
                    ),
                    timeout=60,
                    what="the alert retried, then delivered, at the webhook and Teams",
                )
                eventually(
                    lambda: _notify_refusals(settings) >= {"slack", "tg", "mail", "inside"},
                    timeout=60,
                    what="the refused routes dead-lettered",
                    state=lambda: _notify_refusals(settings),
                )
                pushed = httpx.post(
                    f"http://127.0.0.1:{push_port}/v1/mentions",
                    headers={"Authorization": f"Bearer {PUSH_TOKEN}"},
                    content=b'[{"origin": "x", "token": "' + PUSH_TOKEN.encode() + b'"}]',
                    timeout=10,
                )
                assert pushed.status_code < 500, pushed.text
                eventually(lambda: echo.requests >= 3, timeout=30, what="every source tried")
            finally:
                stop([ingest])
    finally:
        smtp.stop()
        echo.close()
        for receiver in receivers.values():
            receiver.close()

    logs = {path.name: path.read_text(errors="replace") for path in tmp_path.glob("*.log")}
    assert set(logs) >= {"ingest.log", "process-stage-all.log", "sinks.log"}
    letters = b"".join(m.value for m in read_topic(settings, topics.DEADLETTER)).decode(
        errors="replace"
    )
    indexed = _indexed(settings)
    found = [
        (secret, where)
        for where, text in {**logs, "dead letters": letters, "indices": indexed}.items()
        for secret in SECRETS
        if secret in text
    ]
    assert found == []
    # The failures really were logged (redacted), so the search above looked at them.
    sinks_log = logs["sinks.log"]
    assert "retrying" in sinks_log and "token=***" in sinks_log  # the webhook's 500
    assert "refused the alert: 403" in sinks_log
    assert "allow_private: true" in letters
    assert "535" in letters  # the refused SMTP login
    assert all(f"{source}: " in logs["ingest.log"] for source in ("rss", "mastodon", "reddit"))
    assert "401" in logs["ingest.log"]


def test_config_check_output_is_redacted(tmp_path: Path) -> None:
    """`sada config check` quotes a bad URL back (with a password in it) and explains a refused
    feed: neither shows a secret."""
    path = tmp_path / "clients.yaml"
    path.write_text(
        f"""
clients:
  - id: northwind
    name: Northwind
    routes:
      hook: {{url: "https://hooks.example/in?token={WEBHOOK_TOKEN}"}}
      tg: {{type: telegram, bot_token: "{TELEGRAM_TOKEN}", chat_id: "1"}}
    brands: [{{id: skyline-air, name: Skyline Air, include: [skyline], routes: [hook, tg]}}]
sources:
  - {{source: rss, feeds: ["http://10.0.0.5/feed?key={RSS_KEY}"]}}
  - {{source: bluesky, terms: [acme], profiles_url: "ftp://sada:{REDDIT_SECRET}@appview.example/"}}
  - {{source: push, token: "{PUSH_TOKEN}", port: -1}}
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "10.0.0.5 is a private address" in result.output
    assert "is not an http(s) URL" in result.output and "ftp://***@appview.example" in result.output
    assert [secret for secret in SECRETS if secret in result.output] == []
