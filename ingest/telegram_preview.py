"""Public Telegram channel posts from the `https://t.me/s/<channel>` preview pages (no bot, no
account): the page Telegram serves to browsers for a public channel with previews on.

Telegram documents no API for these pages, so the parser reads the markup they have long had
(the embeddable post widget): each post is a `tgme_widget_message` with
`data-post="<channel>/<id>"`, its text in the bubble's `tgme_widget_message_text` (a reply's
quote sits in `tgme_widget_message_reply`, a caption after its media), its time in
`<time datetime=...>`, a signature in `tgme_widget_message_from_author`. A page shows the
newest posts; `?before=<id>` the ones before that id. Each poll reads back to the cursor (the
newest id yielded), at most `max_pages_per_poll` pages; a first poll reads one page. A page
without the channel history, or with posts that no longer say their id, is not what this
parser knows: it is refused with the reason and the cursor stays (a changed layout is loud,
never silent). Posts with no text (a photo, a sticker) and service messages are skipped.
The pages tell neither edits (with a time) nor deletions, so neither is produced; reading a
channel's discussion and answering there is the `telegram` (Bot API) source's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
from pydantic import Field, field_validator

from core.errors import Rejected, RetryLater, SourceError
from core.events import Author, Mention, make_uid, now
from ingest import polling
from ingest.convert import from_iso, html_to_text
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, explain, text_of
from ingest.polling import each_target, observe
from ingest.source import Source

NAME = "telegram_preview"
_CHANNEL = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
_HISTORY = "tgme_channel_history"
_WRAP = 'class="tgme_widget_message_wrap'
_POST = re.compile(
    r'<div class="tgme_widget_message\b(?P<classes>[^"]*)"[^>]*?'
    r'\sdata-post="(?P<channel>[A-Za-z0-9_]+)/(?P<id>\d+)"'
)
_REPLY = '<a class="tgme_widget_message_reply'
_TEXT = re.compile(
    r'<div class="tgme_widget_message_text\b[^>]*+>([^<]*+(?:<(?!/div>)[^<]*+)*+)</div>'
)
_TIME = re.compile(r'<time\b[^>]*?\bdatetime="([^"]+)"')  # lazy: Telegram writes datetime first
_OWNER = re.compile(r'class="tgme_widget_message_owner_name"[^>]*>(.*?)</a>', re.S)
_SIGNED = re.compile(r'class="tgme_widget_message_from_author"[^>]*>(.*?)</span>', re.S)
_MEDIA = re.compile(
    r"tgme_widget_message_(?:photo|video|roundvideo|voice|document|sticker|tgsticker|"
    r"videosticker|poll|location|venue|contact|grouped)|message_media_not_supported"
)

log = logging.getLogger(__name__)


class Config(SourceConfig):
    URL_FIELDS = ("base_url",)

    channels: list[str] = Field(
        min_length=1, description="Public channels' usernames (with or without @)."
    )
    base_url: str = Field(default="https://t.me", description="Where the preview pages are.")
    max_pages_per_poll: polling.MaxPagesPerPoll = Field(
        default=5, description="Pages read back towards the cursor in one poll (20 posts each)."
    )
    poll_interval_seconds: polling.PollIntervalSeconds = 300.0
    http: polling.Politeness = HttpPolicy(requests_per_second_per_host=0.5)

    @field_validator("channels")
    @classmethod
    def _usernames(cls, value: list[str]) -> list[str]:
        names = [_CHANNEL.match(c.strip()) for c in value]
        bad = [c for c, m in zip(value, names, strict=True) if m is None]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: write a public channel's @username")
        return [m.group(1).lower() for m in names if m]


Post = tuple[int, Mention | Rejected | None]  # its id, and what it became (None: skipped)


def posts(payload: bytes | str, *, fetched_at: datetime) -> list[Post] | Rejected:
    """Every post of a preview page with its id, or a Rejected saying why the page is not one."""
    page = text_of(payload)
    starts = list(_POST.finditer(page))
    problem = None
    if _HISTORY not in page:
        problem = "no channel history in the page (an empty answer, or not a channel preview)"
    elif len(starts) != page.count(_WRAP):
        problem = f'{page.count(_WRAP)} posts but {len(starts)} with data-post="<channel>/<id>"'
    if problem:
        return Rejected(
            payload=page, reason=f"{NAME}: {problem}: has t.me changed its preview page layout?"
        )
    if not starts:
        return []  # a channel with no posts (yet)
    ends = [m.start() for m in starts[1:]] + [len(page)]
    return [
        _post(m, page[m.start() : end], fetched_at) for m, end in zip(starts, ends, strict=True)
    ]


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A preview page to mentions (tests and the benchmark)."""
    found = posts(payload, fetched_at=fetched_at)
    if isinstance(found, Rejected):
        return [found]
    return [item for _, item in found if item is not None]


def _post(start: re.Match[str], html: str, fetched_at: datetime) -> Post:
    post_id = int(start["id"])
    if "service_message" in start["classes"]:
        return post_id, None
    try:
        return post_id, _mention(start["channel"], post_id, html, fetched_at)
    except (KeyError, ValueError) as exc:
        return post_id, Rejected(
            payload=html, reason=f"{NAME}: post {start['channel']}/{post_id}: {explain(exc)}"
        )


def _mention(channel: str, post_id: int, html: str, fetched_at: datetime) -> Mention | None:
    """The bubble's text; the author's heading before it, the signature and time after it (in
    the footer), so each search reads only its part of the post."""
    text = _TEXT.search(html)
    if text and (quote := html.find(_REPLY, 0, text.start())) >= 0:  # a reply's quoted text
        text = _TEXT.search(html, html.find("</a>", quote))
    if text is None:
        if _MEDIA.search(html):
            return None  # media without a caption
        raise ValueError("neither text nor known media")
    when = _TIME.search(html, text.end())
    if when is None:
        raise ValueError("no <time datetime=...>")
    body = html_to_text(text.group(1))
    if not body:
        return None
    owner = _OWNER.search(html, 0, text.start())
    signed = _SIGNED.search(html, text.end(), when.start())
    source_id = f"{channel.lower()}/{post_id}"
    return Mention(
        uid=make_uid(NAME, source_id),
        source=NAME,
        source_id=source_id,
        url=f"https://t.me/{channel}/{post_id}",
        author=_author(channel, owner and owner.group(1), signed and signed.group(1)),
        text=body,
        created_at=from_iso(when.group(1)),
        fetched_at=fetched_at,
        parent_id=f"@{channel.lower()}",
    )


@functools.lru_cache(maxsize=1024)
def _author(channel: str, owner: str | None, signer: str | None) -> Author:
    """The channel, its title and the post's signer: the same on post after post, so made once."""
    name = " · ".join(html_to_text(markup) for markup in (owner, signer) if markup)
    return Author(handle=channel.lower(), name=name or None)


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: each channel's posts newer than its cursor, oldest first."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, allow_private=config.allow_private, sleep=sleep
    )

    async def run(channel: str) -> AsyncIterator[Item]:
        last: int | None = progress.get(channel)
        fresh: list[Post] = []
        newest, before = last or 0, None
        for _ in range(config.max_pages_per_poll if last is not None else 1):
            page = await _page(polite, config, channel, before)
            if not page:
                break
            fresh += [p for p in page if last is None or p[0] > last]
            newest = max(newest, *(i for i, _ in page))
            before = min(i for i, _ in page)
            if last is None or before <= last + 1:
                break
        else:
            log.warning(
                "%s: @%s: more new posts than %d pages; older ones skipped",
                NAME,
                channel,
                config.max_pages_per_poll,
            )
        items: list[Item] = [i for _, i in sorted(fresh, key=lambda p: p[0]) if i is not None]
        for item in observe(NAME, items):
            yield item
        if newest != (last or 0):
            progress.save(channel, newest)

    async for item in each_target(NAME, config.channels, run):
        yield item


async def _page(polite: Polite, config: Config, channel: str, before: int | None) -> list[Post]:
    url = f"{config.base_url.rstrip('/')}/s/{channel}"
    params = {"before": str(before)} if before else {}
    try:
        response = await polite.get(url, params=params, follow_redirects=False)
    except SourceError as exc:
        if exc.status == 404:
            raise SourceError(
                f"{NAME}: no channel @{channel} on {url} (HTTP 404)", status=404
            ) from exc
        raise
    if response.is_redirect:
        raise SourceError(
            f"{NAME}: t.me shows no preview of @{channel} (HTTP {response.status_code} to "
            f"{response.headers.get('location')}): check the username; it must be a public "
            "channel (groups and private channels have no preview page)",
            status=response.status_code,
        )
    found = posts(response.content, fetched_at=now())
    if isinstance(found, Rejected):
        raise RetryLater(f"{found.reason} (from {url}); the cursor stays, read again next round")
    return found


SOURCE = Source(NAME, Config, fetch, "polling")
