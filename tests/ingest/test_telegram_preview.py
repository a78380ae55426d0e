"""Public channel posts from t.me/s/<channel> pages, against a local double of t.me.

Fixture provenance: tests/ingest/fixtures/telegram_preview_channel.html (the newest page) and
telegram_preview_channel_before.html (`?before=305`) are written by the project. Telegram
documents no schema for these pages; their shape follows the embeddable post widget's markup as
public readers of these pages select it (RSSHub's lib/routes/telegram/channel.ts:
`.tgme_widget_message_wrap`, `data-post`, `.tgme_widget_message_bubble >
.tgme_widget_message_text`, `.tgme_widget_message_reply`, `.tgme_widget_message_date time
[datetime]`, `.tgme_widget_message_from_author`, `.service_message`, `<i class="emoji">`, the
`tme_messages_more` link with `data-before`) and the widget text quoted in
kunkkaharden/telegram-get-public-post's README (`<br/>`, links with target/rel). The Arabic,
Arabizi, emoji and bidi marks are ours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import Rejected
from core.events import Author, Mention, make_uid, now
from ingest import telegram_preview
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import ReplayServer, Reply, Sleeps, fixture

NEWEST = fixture("telegram_preview_channel.html")
OLDER = fixture("telegram_preview_channel_before.html")


def config(server: ReplayServer, **kw: object) -> telegram_preview.Config:
    values: dict[str, object] = {
        "channels": ["@AcmeBank"],
        "base_url": server.url(),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=2),
        "allow_private": True,  # the local server
    }
    return telegram_preview.Config.model_validate({**values, **kw})


def test_parse_maps_text_authors_times_and_skips_media_and_service_posts() -> None:
    fetched = now()
    offer, arabizi, caption, undated, release = telegram_preview.parse(NEWEST, fetched_at=fetched)
    assert offer == Mention(
        uid=make_uid("telegram_preview", "acmebank/306"),
        source="telegram_preview",
        source_id="acmebank/306",
        url="https://t.me/AcmeBank/306",
        author=Author(handle="acmebank", name="Acme Bank | أكمي بنك"),
        text="عروض نهاية العام 🎉\n\nحوّل رواتبك إلى أكمي بنك واحصل على استرداد ٥٪ 💳\n"
        "التفاصيل: acme.example/offers #أكمي_بنك",
        created_at=datetime(2026, 11, 25, 9, 15, tzinfo=UTC),
        fetched_at=fetched,
        parent_id="@acmebank",
    )
    assert isinstance(arabizi, Mention)  # the quoted post it answers is not its text
    assert arabizi.text == 'Yalla, el 3ard sari 7atta 31 December 😉 — "Acme Pay" & the app'
    assert arabizi.author.name == "Acme Bank | أكمي بنك · Omar H."
    assert isinstance(caption, Mention) and caption.source_id == "acmebank/309"
    assert (
        caption.text
        == "\u200fتنبيه: صيانة مجدولة لخدمة \u2066Acme Pay\u2069 من ٢ إلى ٤ فجراً \u200f🛠"
    )
    assert isinstance(undated, Rejected)
    assert (
        undated.reason == "telegram_preview: post AcmeBank/310: ValueError: no <time datetime=...>"
    )
    assert isinstance(release, Mention) and release.text == (
        "Acme Bank app 5.2 is out 🚀\nالتحديث الجديد يصلح مشكلة تسجيل الدخول"
    )
    assert release.reply_target is None and release.edited_at is None


def test_a_reply_quoting_with_the_text_class_still_yields_the_reply_own_text() -> None:
    # The quoted post's snippet is `metatext` today; were it marked up as a message text, the
    # reply's own text after the quote must still be the one read.
    quoted = NEWEST.replace(
        b'tgme_widget_message_metatext js-message_reply_text" dir="auto">',
        b'tgme_widget_message_metatext js-message_reply_text" dir="auto">'
        b'<div class="tgme_widget_message_text">the quoted offer</div>',
    )
    assert quoted != NEWEST
    _, arabizi, *_ = telegram_preview.parse(quoted, fetched_at=now())
    assert isinstance(arabizi, Mention) and arabizi.text.startswith("Yalla, el 3ard sari")


@pytest.mark.parametrize(
    ("page", "says"),
    [
        (b"", "no channel history in the page"),
        (b"<html><body>Please wait...</body></html>", "no channel history in the page"),
        (
            NEWEST.replace(b'data-post="AcmeBank/307"', b'data-msg="AcmeBank/307"'),
            '7 posts but 6 with data-post="<channel>/<id>"',
        ),
    ],
)
def test_a_page_it_does_not_know_is_refused_with_the_reason(page: bytes, says: str) -> None:
    (refused,) = telegram_preview.parse(page, fetched_at=now())
    assert isinstance(refused, Rejected) and says in refused.reason
    assert "has t.me changed its preview page layout?" in refused.reason


def test_a_post_without_text_or_known_media_is_rejected_alone() -> None:
    page = NEWEST.replace(b"tgme_widget_message_photo", b"tgme_widget_message_hologram")
    items = telegram_preview.parse(page, fetched_at=now())
    reasons = [i.reason for i in items if isinstance(i, Rejected)]
    assert reasons[0] == (
        "telegram_preview: post AcmeBank/308: ValueError: neither text nor known media"
    )
    assert sum(isinstance(i, Mention) for i in items) == 4


async def test_fetch_reads_back_to_the_cursor_oldest_first(
    server: ReplayServer, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    server.script("/s/acmebank", Reply(200, NEWEST))
    cfg = config(server)
    first = [
        i
        async for i in telegram_preview.fetch(
            cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps
        )
    ]
    assert len(first) == 5 and len(server.seen("/s/acmebank")) == 1  # a first poll: one page
    assert server.seen("/s/acmebank")[0].query == {}

    newer = NEWEST.replace(b"AcmeBank/311", b"AcmeBank/312")
    server.script("/s/acmebank", Reply(200, newer))
    again = [
        i
        async for i in telegram_preview.fetch(
            cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps
        )
    ]
    assert [i.source_id for i in again] == ["acmebank/312"]  # type: ignore[union-attr]

    # A long gap: the cursor (312) is far behind the newest page, which is read back to it.
    server.requests.clear()
    shifted = NEWEST
    for old in range(311, 304, -1):
        shifted = shifted.replace(f"AcmeBank/{old}".encode(), f"AcmeBank/{old + 20}".encode())
    page_two = OLDER.replace(b"AcmeBank/301", b"AcmeBank/312").replace(
        b"AcmeBank/303", b"AcmeBank/313"
    )
    server.script("/s/acmebank", Reply(200, shifted), Reply(200, page_two))
    caught_up = [
        i
        async for i in telegram_preview.fetch(
            cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps
        )
    ]
    assert [s.query for s in server.seen("/s/acmebank")] == [{}, {"before": "325"}]
    ids = [i.source_id for i in caught_up if isinstance(i, Mention)]
    assert ids == ["acmebank/313", "acmebank/326", "acmebank/327", "acmebank/329", "acmebank/331"]


async def test_a_missing_channel_is_named(
    server: ReplayServer,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script("/s/nosuchchannel", Reply(302, "", {"Location": "https://t.me/nosuchchannel"}))
    server.script("/s/gonechannel", Reply(404, "Not Found"))
    server.script("/s/acmebank", Reply(200, b"<html>maintenance</html>"))
    cfg = config(server, channels=["nosuchchannel", "gonechannel", "acmebank"])
    assert [i async for i in telegram_preview.fetch(cfg, client, sleep=sleeps)] == []
    assert (
        "t.me shows no preview of @nosuchchannel (HTTP 302 to https://t.me/nosuchchannel)"
        in caplog.text
    )
    assert "no channel @gonechannel" in caplog.text
    assert "no channel history in the page" in caplog.text and "the cursor stays" in caplog.text


def test_config_wants_usernames() -> None:
    assert telegram_preview.Config(channels=["@AcmeBank", "acme_news"]).channels == [
        "acmebank",
        "acme_news",
    ]
    with pytest.raises(ValueError, match="'https://t.me/acme': write a public channel's @username"):
        telegram_preview.Config(channels=["https://t.me/acme"])
