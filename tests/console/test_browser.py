"""The console in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by Selenium against the console served on a free port, on the real local Elasticsearch
holding the demo's stream as the real processors scored it and the real sinks indexed it.

The console and the platform double run on an event loop of their own thread, so they answer
while a test blocks on the browser. Screenshots go to pytest's tmp dir and, when SADA_SCREENSHOTS
names a directory, there too."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from console.app import create_app
from console.auth import add_user
from core import connect
from core.config import SadaConfig, Settings, load_config
from core.events import Alert, ScoredMention, now
from core.live import LiveConfig
from sada import SAMPLE_CONFIG
from tests.console.conftest import GROUP, PASSWORD, index
from tests.deploy.test_kibana import _stream
from tests.ingest.support import ReplayServer, Reply, serve

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]  # fmt: skip
BOT = "7012345678:AAFakeTokenForTestsOnly_abc"
SEND = f"/bot{BOT}/sendMessage"
WAIT = 20.0
T = TypeVar("T")


def _installed() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def _chromium() -> None:
    """Install Debian's Chromium when missing (as `make browser` does); skip, saying why, only
    when it cannot be installed here. Never a downloaded browser build."""
    if not _installed() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium", "chromium-driver"],
                       capture_output=True, check=False, timeout=900)  # fmt: skip
    if not _installed():
        pytest.skip(f"{CHROMIUM} and {CHROMEDRIVER} are missing and apt-get could not install "
                    "Debian's chromium and chromium-driver (run `make browser` as root)")  # fmt: skip


class Loop:
    """An event loop on a thread of its own, for the servers the browser talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    made = Loop()
    yield made
    made.close()


def _as_telegram(record: ScoredMention, message_id: int) -> ScoredMention:
    """The demo post as if read from the brand's Telegram group: it can be answered there."""
    mention = record.mention.model_copy(
        update={"source": "telegram", "reply_target": f"{GROUP}:{message_id}"}
    )
    return record.model_copy(update={"mention": mention})


def _first(records: list[ScoredMention], **wanted: str) -> ScoredMention:
    return next(r for r in records if all(getattr(r, k) == v for k, v in wanted.items()))


@pytest.fixture
def demo(settings: Settings, loop: Loop) -> tuple[Settings, list[ScoredMention]]:
    """The demo stream and its alerts indexed; one English complaint of Northwind's Skyline Air
    came through Telegram. Users: maha and omar see Northwind, lina Nagham, root everything."""
    scored, alerts = _stream()
    reply_to = _first(scored, client="northwind", brand="skyline-air", triage="complaint",
                      language="en")  # fmt: skip
    records = [_as_telegram(r, 4821) if r is reply_to else r for r in scored]
    loop.run(index(settings, records, alerts))
    with connect.elasticsearch(settings) as es:
        for name, clients, admin in (("maha", ["northwind"], False), ("omar", ["northwind"], False),
                                     ("lina", ["nagham-agency"], False), ("root", [], True)):  # fmt: skip
            add_user(es, settings.namespace, name, clients, admin, PASSWORD)
    return settings, records


@pytest.fixture
def telegram_api(loop: Loop) -> Iterator[ReplayServer]:
    served = serve()
    double = loop.run(served.__aenter__())
    yield double
    loop.run(served.__aexit__(None, None, None))


def _config(telegram_api: str) -> SadaConfig:
    """The demo's clients file, answering Telegram mentions through `telegram_api`."""
    source = {"source": "telegram", "bot_token": BOT, "chats": [str(GROUP)],
              "api_url": telegram_api, "allow_private": True}  # fmt: skip
    return SadaConfig.model_validate(
        {**load_config(SAMPLE_CONFIG).model_dump(), "sources": [source]}
    )


@pytest.fixture
def console(demo: tuple[Settings, list[ScoredMention]], loop: Loop,
            telegram_api: ReplayServer) -> Iterator[str]:  # fmt: skip
    """The console's address, served on a free port, polling for live updates every 0.3 s."""
    app = create_app(demo[0], LiveConfig(_config(telegram_api.url())), poll_seconds=0.3)
    runner = web.AppRunner(app, shutdown_timeout=1.0)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    yield loop.run(start())
    loop.run(runner.cleanup())


@pytest.fixture
def browser(console: str, tmp_path: Path) -> Iterator[Callable[[], WebDriver]]:
    """Open headless Chromiums (each its own profile, so its own session); all quit at the end."""
    _chromium()
    opened: list[WebDriver] = []

    def open_one() -> WebDriver:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in [*FLAGS, f"--user-data-dir={tmp_path / f'profile-{len(opened)}'}"]:
            options.add_argument(flag)
        opened.append(webdriver.Chrome(options=options, service=Service(CHROMEDRIVER)))
        return opened[-1]

    yield open_one
    for driver in opened:
        driver.quit()


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[WebDriver, str], Path]:
    """Save a screenshot as NAME.png under the test's tmp dir (and SADA_SCREENSHOTS, if set)."""

    def save(driver: WebDriver, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        driver.save_screenshot(str(path))
        if target := os.environ.get("SADA_SCREENSHOTS"):
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    return save


def by_id(driver: WebDriver | WebElement, testid: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")


def all_by_id(driver: WebDriver | WebElement, testid: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"[data-testid={testid}]")


def wait(driver: WebDriver, check: Callable[[WebDriver], object], what: str) -> None:
    # a check that reads an element of the page being left (after a form's POST) fails once
    WebDriverWait(driver, WAIT, poll_frequency=0.2, ignored_exceptions=(WebDriverException,)).until(
        check, message=f"waited for {what}"
    )


def log_in(driver: WebDriver, base: str, name: str, path: str = "/") -> None:
    driver.get(f"{base}{path}")  # to the login page, which brings the browser back to `path`
    by_id(driver, "login-name").send_keys(name)
    by_id(driver, "login-password").send_keys(PASSWORD)
    by_id(driver, "login-submit").click()
    wait(driver, lambda d: not all_by_id(d, "page-login"), f"{name}'s login")


def page_id(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").get_attribute("data-testid"))


def rows(driver: WebDriver) -> list[WebElement]:
    return all_by_id(driver, "inbox-row")


def direction(driver: WebDriver, element: WebElement) -> str:
    return str(driver.execute_script("return getComputedStyle(arguments[0]).direction", element))


def test_log_in_see_the_inbox_and_filter_it(browser: Callable[[], WebDriver], console: str,
                                             shot: Callable[[WebDriver, str], Path]) -> None:  # fmt: skip
    maha = browser()
    log_in(maha, console, "maha")
    assert page_id(maha) == "page-inbox"
    assert by_id(maha, "user-name").text == "maha"
    shown = rows(maha)
    assert shown and {r.get_attribute("data-brand").split("/")[0] for r in shown} == {"northwind"}  # type: ignore[union-attr]
    shot(maha, "inbox")
    triage = Select(by_id(maha, "filter-triage"))  # complaints and questions by default
    triage.deselect_all()
    triage.select_by_value("complaint")
    Select(by_id(maha, "filter-brand")).select_by_value("northwind/skyline-air")
    by_id(maha, "filter-apply").click()
    wait(maha, lambda d: "triage=complaint" in d.current_url, "the filtered view")
    assert "brand=northwind%2Fskyline-air" in maha.current_url
    filtered = rows(maha)
    assert filtered and {r.get_attribute("data-brand") for r in filtered} == {
        "northwind/skyline-air"
    }
    assert {r.find_elements(By.TAG_NAME, "td")[3].text for r in filtered} == {"Complaint"}
    shot(maha, "inbox-filtered")


def test_arabic_rows_run_right_to_left_and_english_ones_left_to_right(
    browser: Callable[[], WebDriver], console: str, shot: Callable[[WebDriver, str], Path]
) -> None:
    root = browser()
    log_in(
        root,
        console,
        "root",
        "/?language=ar&triage=complaint&triage=question&triage=praise&triage=other",
    )
    arabic = by_id(root, "mention-text")
    assert direction(root, arabic) == "rtl", arabic.text
    # Laid out from the right: the text's first word is right of its last one.
    words = root.execute_script(
        "const r = document.createRange(), t = arguments[0].firstChild, s = t.textContent.trimEnd();"
        "r.setStart(t, 0); r.setEnd(t, 1); const first = r.getBoundingClientRect().right;"
        "r.setStart(t, s.length - 1); r.setEnd(t, s.length); return [first, r.getBoundingClientRect().left];",
        arabic,
    )  # fmt: skip
    assert words[0] > words[1], words
    root.get(f"{console}/?language=en")
    english = by_id(root, "mention-text")
    assert direction(root, english) == "ltr", english.text
    by_id(root, "lang-switch").click()  # the interface in Arabic
    wait(root, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl",
         "the Arabic interface")  # fmt: skip
    assert direction(root, by_id(root, "inbox-table")) == "rtl"
    shot(root, "inbox-arabic-interface")


def test_a_mention_handled_by_one_manager_leaves_the_other_managers_inbox(
    browser: Callable[[], WebDriver], console: str
) -> None:
    maha, omar = browser(), browser()
    log_in(maha, console, "maha")
    log_in(omar, console, "omar")
    first = rows(maha)[0]
    doc_id = first.get_attribute("data-id")
    assert doc_id in {r.get_attribute("data-id") for r in rows(omar)}
    by_id(first, "mention-link").click()
    by_id(maha, "action-handle").click()
    wait(maha, lambda d: by_id(d, "mention-status").text == "Handled", "the mention handled")
    omar.refresh()
    assert page_id(omar) == "page-inbox"
    assert doc_id not in {r.get_attribute("data-id") for r in rows(omar)}
    omar.get(f"{console}/?status=handled")
    assert [r.get_attribute("data-id") for r in rows(omar)] == [doc_id]
    assert by_id(omar, "row-status").text == "Handled"


def test_a_reply_goes_to_the_platform_from_the_browser(
    browser: Callable[[], WebDriver], console: str, telegram_api: ReplayServer,
    demo: tuple[Settings, list[ScoredMention]], shot: Callable[[WebDriver, str], Path],
) -> None:  # fmt: skip
    sent = {"ok": True, "result": {"message_id": 4830, "chat": {"id": GROUP}, "date": 1795603000}}
    telegram_api.script(SEND, Reply(200, json.dumps(sent)))
    target = next(r for r in demo[1] if r.mention.source == "telegram")
    maha = browser()
    log_in(maha, console, "maha", f"/mention/{target.doc_id}")
    assert not all_by_id(maha, "reply-off")
    answer = "Sorry about that: a seat on tomorrow's flight is booked for you."
    by_id(maha, "reply-input").send_keys(answer)
    by_id(maha, "action-reply").click()
    wait(maha, lambda d: by_id(d, "mention-status").text == "Handled", "the reply recorded")
    (request,) = telegram_api.seen(SEND)
    assert json.loads(request.body) == {
        "chat_id": GROUP,
        "text": answer,
        "reply_parameters": {"message_id": 4821},
    }
    assert f"{GROUP}:4830: {answer}" in by_id(maha, "history").text
    shot(maha, "mention-replied")


def test_a_new_mention_and_a_new_incident_appear_without_a_reload(
    browser: Callable[[], WebDriver], console: str, loop: Loop,
    demo: tuple[Settings, list[ScoredMention]], shot: Callable[[WebDriver, str], Path],
) -> None:  # fmt: skip
    settings, records = demo
    maha = browser()
    log_in(maha, console, "maha")
    maha.execute_script("document.body.dataset.sameDocument = 'yes'")  # gone if it reloads
    fresh = _first(records, client="northwind", brand="qahwa-house", triage="complaint")
    fresh = fresh.model_copy(update={"mention": fresh.mention.model_copy(
        update={"uid": "live-1", "source_id": "live-1", "created_at": now()})})  # fmt: skip
    at = now() - timedelta(minutes=1)
    incident = Alert(
        id="northwind-qahwa-house-live",
        status="open",
        client="northwind",
        brand="qahwa-house",
        kind="negative_share_spike",
        window_start=at,
        window_end=at,
        observed=0.7,
        expected=0.1,
        score=8.0,
        severity="critical",
        sample_uids=["live-1"],
        explanation="negative share 70% for qahwa-house, 10% usual",
        raised_at=at,
    )
    loop.run(index(settings, [fresh], [incident]))
    wait(maha, lambda d: any(r.get_attribute("data-id") == fresh.doc_id for r in rows(d)),
         "the new mention's row")  # fmt: skip
    wait(maha, lambda d: "qahwa-house" in " ".join(a.text for a in all_by_id(d, "live-alert")),
         "the new incident's note")  # fmt: skip
    assert maha.execute_script("return document.body.dataset.sameDocument") == "yes"
    assert rows(maha)[0].get_attribute("data-id") == fresh.doc_id
    shot(maha, "inbox-live")
    by_id(maha, "live-alert").find_element(By.TAG_NAME, "a").click()
    wait(maha, lambda d: page_id(d) == "page-incidents", "the incidents page")
    assert "northwind-qahwa-house-live" in {
        i.get_attribute("data-id") for i in all_by_id(maha, "incident")
    }


def test_a_user_gets_nothing_of_another_clients_brand(
    browser: Callable[[], WebDriver], console: str, demo: tuple[Settings, list[ScoredMention]]
) -> None:
    lina = browser()
    log_in(lina, console, "lina")
    assert {r.get_attribute("data-brand").split("/")[0] for r in rows(lina)} == {"nagham-agency"}  # type: ignore[union-attr]
    options = [o.get_attribute("value") for o in Select(by_id(lina, "filter-brand")).options]
    assert options and not [o for o in options if o and o.startswith("northwind/")]
    lina.get(f"{console}/?brand=northwind/skyline-air")
    assert (
        page_id(lina) == "page-error" and "not one of your clients" in by_id(lina, "message").text
    )
    assert not rows(lina)
    northwind = _first(demo[1], client="northwind")
    lina.get(f"{console}/mention/{northwind.doc_id}")
    assert page_id(lina) == "page-error" and northwind.mention.text not in lina.page_source
