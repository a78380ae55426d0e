from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
import pytest
from pydantic import ValidationError

from core.errors import Rejected
from core.events import Mention, now
from ingest import rss
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import EVER, ReplayServer, Reply, Sleeps, fixture

GOOGLE_AR = fixture("rss_google_news_ar.xml")
ARABIC_1256 = fixture("rss_arabic_windows1256.xml")
FRENCH_1252 = fixture("rss_french_misdeclared_cp1252.xml")
ATOM = fixture("atom_fintech_weekly.xml")
FAST = HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5)


def mentions(payload: bytes, **kw: object) -> list[Mention]:
    items = rss.parse(payload, feed_url="https://feed.example/rss", fetched_at=now(), **kw)  # type: ignore[arg-type]
    assert all(isinstance(i, Mention) for i in items), items
    return items  # type: ignore[return-value]


def test_google_news_items_keep_the_title_and_credit_the_publisher() -> None:
    first, second, third = mentions(GOOGLE_AR)
    assert first.text == "بنك أكمي يطلق خدمة الدفع الفوري للأفراد - اليوم السابع"
    assert first.author.handle == "youm7.example" and first.author.name == "اليوم السابع"
    assert first.language_hint == "ar"
    assert second.created_at == datetime(2026, 11, 25, 18, 5, tzinfo=UTC)  # not date-sorted
    assert third.url is not None and third.url.startswith("https://news.google.com/rss/articles/")
    assert first.source_id.startswith("CBMi")


@pytest.mark.parametrize(
    ("title", "linked", "publisher", "text"),
    [  # the first two are read without the HTML parser, the last two by it
        ("Acme wins - BBC", "Acme wins", "BBC", "Acme wins - BBC"),  # repeats the title
        ("Acme wins", "Acme wins \xa0 today", "Reuters", "Acme wins\n\nAcme wins today Reuters"),
        ("Acme &amp; Co - BBC", "Acme & Co", "BBC", "Acme & Co - BBC"),
        ("Acme", "Acme\nover two lines", "BBC", "Acme\n\nAcme\nover two lines BBC"),
    ],
)
def test_a_google_news_summary_adds_only_words_the_title_lacks(
    title: str, linked: str, publisher: str, text: str
) -> None:
    summary = (
        f'<a href="https://news.google.com/rss/articles/X?oc=5" target="_blank">{linked}</a>'
        f'&nbsp;&nbsp;<font color="#6f6f6f">{publisher}</font>'
    )
    item = f"<item><title>{title}</title><description>{escape(summary)}</description></item>"
    (mention,) = mentions(f'<rss version="2.0"><channel>{item}</channel></rss>'.encode())
    assert mention.text == text


def test_windows_1256_feed_with_arabic_dates() -> None:
    first, second, undated = mentions(ARABIC_1256)
    assert first.text == (
        "أكمي بنك يرفع رسوم التحويل الدولي\n\n"
        "أعلن أكمي بنك رفع رسوم التحويل الدولي بنسبة 15% اعتباراً من الشهر المقبل."
    )
    assert first.created_at == datetime(2026, 11, 25, 11, 20, tzinfo=UTC)  # +0300
    assert first.author.name == "سارة العتيبي" and first.language_hint == "ar"
    assert second.created_at == datetime(2026, 11, 24, 16, 45, tzinfo=UTC)  # Levantine month
    assert (now() - undated.created_at).total_seconds() < 60  # unreadable: dated when fetched


def test_a_feed_that_lies_about_its_encoding_or_gives_none() -> None:
    enquete, _ = mentions(FRENCH_1252)  # says UTF-8, is Windows-1252
    assert enquete.text.startswith("Acme Bank : frais cachés, notre enquête")
    assert enquete.created_at == datetime(2026, 11, 25, 7, 12, tzinfo=UTC)  # "mer., 25 nov."
    assert enquete.author.name == "Élodie Martin"
    assert enquete.url == "https://blog-conso.example.fr/acme-frais"
    undeclared = re.sub(rb"^<\?xml[^>]*\?>", b"", ARABIC_1256)
    assert mentions(undeclared, charset="windows-1256")[0].text.startswith("أكمي بنك")
    unknown = re.sub(rb"^<\?xml[^>]*\?>", b'<?xml version="1.0" encoding="TTF-8"?>', ARABIC_1256)
    assert mentions(unknown, charset="windows-1256")[0].text.startswith("أكمي بنك")
    (garbled,) = rss.parse(
        b'<?xml version="1.0" encoding="TTF-8"?>\xff\xfe', feed_url="u", fetched_at=now()
    )
    assert isinstance(garbled, Rejected) and "not a readable XML feed" in garbled.reason


def test_atom_entries() -> None:
    review, rules = mentions(ATOM)
    assert review.text == (
        "Acme Bank’s new app, reviewed\n\nFaster transfers, but the support chat still lags."
    )
    assert review.url == "https://fintech-weekly.example.com/2026/11/acme-app-review"
    assert review.author.name == "Priya Raman" and review.language_hint == "en"
    assert review.created_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # published, in UTC
    assert rules.text.endswith("Regulators publish the final text.")


def test_not_a_feed_is_rejected_whole_with_the_reason() -> None:
    (html,) = rss.parse(b"<html><body>Sorry</body></html>", feed_url="u", fetched_at=now())
    assert isinstance(html, Rejected) and "<html> is not RSS or Atom" in html.reason
    laughs = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    bomb_feed = b'<!DOCTYPE r [<!ENTITY l0 "lol">' + laughs + b"]><rss>&l9;</rss>"
    (bomb,) = rss.parse(bomb_feed, feed_url="u", fetched_at=now())
    assert isinstance(bomb, Rejected) and "not a readable XML feed" in bomb.reason


def test_google_news_search_url_and_config_checks() -> None:
    search = rss.GoogleNewsSearch(query='"بنك أكمي"', language="ar", country="EG")
    assert search.url().endswith("&hl=ar&gl=EG&ceid=EG:ar")
    assert (
        rss.GoogleNewsSearch(query="acme", language="en-GB", country="GB")
        .url()
        .endswith("hl=en-GB&gl=GB&ceid=GB:en")
    )
    with pytest.raises(ValidationError, match="nothing to poll"):
        rss.Config()


async def test_conditional_get_new_items_only_and_cut_bodies_retried(
    server: ReplayServer,
    other_server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    etag = '"v1-acme"'
    server.script(
        "/rss/search",
        Reply(200, GOOGLE_AR, {"ETag": etag, "Content-Type": "application/xml"}),
        Reply(304, b""),
    )
    undeclared = re.sub(rb"^<\?xml[^>]*\?>", b"", ARABIC_1256)
    newer = undeclared.replace(
        b"<item>",
        b"<item><title>\xc3\xce\xc8\xc7\xd1 \xc3\xdf\xe3\xed"
        b"</title><guid>new-1</guid><pubDate>Thu, 26 Nov 2026 07:00:00 "
        b"+0300</pubDate></item><item>",
        1,
    )
    headers = {
        "Content-Type": "application/rss+xml; charset=windows-1256",
        "Last-Modified": "Wed, 25 Nov 2026 12:00:00 GMT",
    }
    other_server.script(
        "/feed.xml",
        Reply(200, undeclared, headers, cut=True),
        Reply(200, undeclared, headers),
        Reply(200, newer, headers),
    )
    config = rss.Config(
        feeds=[server.url("/rss/search?q=acme"), other_server.url("/feed.xml")],
        max_item_age_hours=EVER / 3600,
        http=FAST,
        allow_private=True,
    )
    store = CursorStore(tmp_path)
    first = [i async for i in rss.fetch(config, client, cursors=store, sleep=sleeps)]
    assert len(first) == 6 and all(isinstance(i, Mention) for i in first)
    assert len(other_server.seen("/feed.xml")) == 2  # the cut body was fetched again

    second = [
        i async for i in rss.fetch(config, client, cursors=CursorStore(tmp_path), sleep=sleeps)
    ]
    assert [i.text for i in second] == ["أخبار أكمي"]  # type: ignore[union-attr]
    assert server.seen("/rss/search")[-1].headers["If-None-Match"] == etag
    assert other_server.seen("/feed.xml")[-1].headers["If-Modified-Since"] == (
        "Wed, 25 Nov 2026 12:00:00 GMT"
    )


async def test_items_older_than_the_age_limit_are_skipped(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    server.script("/atom.xml", Reply(200, ATOM))
    config = rss.Config(
        feeds=[server.url("/atom.xml")], max_item_age_hours=1, http=FAST, allow_private=True
    )
    assert [i async for i in rss.fetch(config, client, sleep=sleeps)] == []
