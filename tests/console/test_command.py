"""`sada console` as the demo starts it: a child process serving on its port, reading the
clients file and Elasticsearch from its environment."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from console.auth import add_user
from core import connect
from core.config import Settings
from sada import SAMPLE_CONFIG
from sada.workers import spawn, stop
from tests.conftest import eventually
from tests.ports import free_port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_sada_console_serves_logins_and_the_inbox(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"config_path": SAMPLE_CONFIG})
    with connect.elasticsearch(settings) as es:
        add_user(es, settings.namespace, "demo", [], True, "demo password")
    port = free_port()
    process = spawn("console", settings, tmp_path, "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: _answers(f"{base}/login"), timeout=60, what="the console",
                   state=lambda: list(tmp_path.glob("*.log"))[0].read_text())  # fmt: skip
        with httpx.Client(base_url=base) as browser:
            page = browser.get("/login").text
            token = re.search(r'name="login_token" value="([^"]+)"', page)
            assert token, page
            form = {"name": "demo", "password": "demo password", "login_token": token.group(1)}
            assert browser.post("/login", data=form).status_code == 303
            inbox = browser.get("/")
            assert inbox.status_code == 200 and 'data-testid="inbox-table"' in inbox.text
            assert (
                "Northwind Retail / " in inbox.text
            )  # the brand filter lists the clients file's brands
    finally:
        stop([process])
