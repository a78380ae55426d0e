"""Any RSS 2.0, RSS 1.0 or Atom feed, including Google News searches per brand and language.

Feeds are fetched with conditional GET (ETag / Last-Modified) so an unchanged feed costs a 304.
Items are not date-sorted and their dates are unreliable, so the cursor is the set of item ids
already yielded (pruned past `max_item_age_hours`), not a time. Feeds in the wild declare the
wrong encoding, or none, and write dates in their own language: the parser falls back through
the HTTP charset and common encodings, and reads localized month names and digits; an item whose
date still cannot be read is dated when it was fetched rather than dropped. XML is parsed by
the standard library's expat, which since 2.4.1 refuses entity-expansion bombs and never
fetches external entities.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import pyexpat
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree.ElementTree import Element, ParseError, fromstring

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import Rejected
from core.events import Author, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url, html_to_text, parse_feed_date
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

NAME = "rss"
if pyexpat.version_info < (2, 4, 1):  # older expat expands entity bombs ("billion laughs")
    raise ImportError(
        f"the rss source needs expat >= 2.4.1, this Python has {pyexpat.EXPAT_VERSION}"
    )
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")
_WORD = re.compile(r"\w+")
_EMAIL_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")  # RSS <author>: "mail@host (Name)"
# Google News's summary of an item: its title, linked, then its publisher. Read without the
# HTML parser (a fifth of an item's time), to the same text; any other markup takes the parser.
_GOOGLE_NEWS_SUMMARY = re.compile(
    r'<a href="[^"<>]*" target="_blank">([^<&\n]*)</a>&nbsp;&nbsp;'
    r'<font color="#[0-9a-fA-F]{6}">([^<&\n]*)</font>'
)


class GoogleNewsSearch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1, description='Search terms; quote a phrase: "acme bank".')
    language: str = Field(default="en", description="Interface language (hl), e.g. ar, en-GB.")
    country: str = Field(default="US", description="Edition country (gl), e.g. EG, SA, GB.")

    def url(self) -> str:
        base_language = self.language.split("-")[0]
        return "https://news.google.com/rss/search?" + urlencode(
            {
                "q": self.query,
                "hl": self.language,
                "gl": self.country,
                "ceid": f"{self.country}:{base_language}",
            },
            safe=":",
        )


class Config(SourceConfig):
    URL_FIELDS = ("feeds",)

    feeds: list[str] = Field(default=[], description="Feed URLs (RSS or Atom).")
    google_news: list[GoogleNewsSearch] = Field(
        default=[], description="Google News searches, each becoming a feed URL."
    )
    poll_interval_seconds: polling.PollIntervalSeconds = 600.0
    max_item_age_hours: float = Field(
        default=72.0, gt=0, description="Older items are skipped (feeds keep old items listed)."
    )
    max_seen_per_feed: int = Field(
        default=5000, ge=10, description="Item ids remembered per feed to drop repeats."
    )
    http: polling.Politeness = HttpPolicy()

    @model_validator(mode="after")
    def _something_to_poll(self) -> Config:
        if not self.feeds and not self.google_news:
            raise ValueError("nothing to poll: list feeds, or google_news searches")
        return self

    def urls(self) -> list[str]:
        return [*self.feeds, *(search.url() for search in self.google_news)]


@functools.lru_cache(maxsize=256)
def _local(tag: Any) -> str:
    """A tag's name without its namespace: items repeat the same few tags, so made once each."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@functools.lru_cache(maxsize=1024)
def _host(url: str) -> str:
    """A publisher's host (Google News names the same few sources item after item)."""
    return urlsplit(url).netloc


@functools.lru_cache(maxsize=1024)
def _author(handle: str, name: str) -> Author:
    """A publisher or writer: the same on item after item, so made once."""
    return Author(handle=handle.removeprefix("www."), name=name or None)


def _root(payload: bytes, charset: str | None) -> Element:
    """The document root, trying the declared encoding, then the HTTP charset and fallbacks."""
    try:
        return fromstring(payload)
    except (ParseError, LookupError) as first:  # LookupError: an unknown declared encoding
        body = _DECLARATION.sub(b"", payload, count=1)
        for encoding in dict.fromkeys(e for e in (charset, "utf-8", "cp1252") if e):
            try:
                return fromstring(body.decode(encoding))
            except (UnicodeDecodeError, LookupError, ParseError):
                continue
        raise first


def parse(
    payload: bytes | str, *, feed_url: str, fetched_at: datetime, charset: str | None = None
) -> list[Item]:
    """A feed document to mentions; a document that is not a feed is rejected whole."""
    raw = payload.encode() if isinstance(payload, str) else payload
    try:
        root = _root(raw, charset)
    except (ParseError, ValueError, LookupError) as exc:
        return [
            Rejected(
                payload=text_of(payload),
                reason=f"{NAME}: {feed_url}: not a readable XML feed ({exc})",
            )
        ]
    kind = _local(root.tag)
    if kind == "rss":
        channel = next((c for c in root if _local(c.tag) == "channel"), root)
        entries = [c for c in channel if _local(c.tag) == "item"]
        language = _child_text(channel, "language")
    elif kind == "feed":
        entries = [c for c in root if _local(c.tag) == "entry"]
        language = root.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
    elif kind == "RDF":
        entries = [c for c in root if _local(c.tag) == "item"]
        channel = next((c for c in root if _local(c.tag) == "channel"), root)
        language = _child_text(channel, "language")
    else:
        return [
            Rejected(
                payload=text_of(payload),
                reason=f"{NAME}: {feed_url}: root element <{kind}> is not RSS or Atom",
            )
        ]
    hint = (language or "").split("-")[0].strip().lower() or None  # "en-GB" -> "en"
    host = urlsplit(feed_url).netloc or feed_url
    return each(entries, lambda e: _mention(e, hint, host, fetched_at), NAME)


def _child_text(element: Element, name: str) -> str:
    found = next((c for c in element if _local(c.tag) == name), None)
    return (found.text or "").strip() if found is not None else ""


def _mention(
    entry: Element, language: str | None, feed_host: str, fetched_at: datetime
) -> Mention | None:
    fields: dict[str, Element] = {}
    link = ""
    for child in entry:
        name = _local(child.tag)
        fields.setdefault(name, child)
        if name == "link" and not link:
            href = child.get("href")
            if href is None:
                link = (child.text or "").strip()  # RSS: <link>url</link>
            elif child.get("rel") in (None, "alternate"):
                link = href  # Atom: <link rel="alternate" href="url"/>
    title = _text(fields, _TITLE)
    summary = _summary(fields)
    source = fields.get("source")
    publisher = (source.text or "").strip() if source is not None else ""
    body = _join(title, summary, publisher)
    if not body:
        return None  # nothing to match a brand in
    guid = _text(fields, _GUID) or link
    when = _text(fields, _DATE)
    try:
        created = parse_feed_date(when) if when else fetched_at
    except ValueError:
        created = fetched_at  # unreadable date: dated when seen rather than lost
    author_name = _EMAIL_NAME.sub(r"\1", _text(fields, _AUTHOR)) or publisher
    if "author" in fields and (name := _child_text(fields["author"], "name")):
        author_name = name
    handle = (_host(source.get("url") or "") if source is not None else "") or feed_host
    source_id = guid or hashlib.sha256(f"{title}\x00{when}".encode()).hexdigest()[:32]
    return Mention(
        uid=make_uid(NAME, source_id),
        source=NAME,
        source_id=source_id,
        url=canonical_url(link),
        author=_author(handle, author_name),
        text=body,
        language_hint=language,
        created_at=created,
        fetched_at=fetched_at,
    )


# Where RSS 2.0, RSS 1.0 (Dublin Core) and Atom keep each part of an item, first found wins.
_TITLE = ("title",)
_SUMMARY = ("description", "summary", "encoded", "content")
_GUID = ("guid", "id")
_DATE = ("pubDate", "published", "updated", "date", "issued", "modified")
_AUTHOR = ("creator", "author")


def _summary(fields: dict[str, Element]) -> str:
    """Plain text of the item's summary; Google News's read without the HTML parser."""
    element = fields.get("description")
    google = (
        _GOOGLE_NEWS_SUMMARY.fullmatch(element.text)
        if element is not None and element.text and len(element) == 0
        else None
    )
    if google:
        return " ".join(f"{google[1]} {google[2]}".split())  # as html_to_text reads it
    return _text(fields, _SUMMARY)


def _text(fields: dict[str, Element], names: tuple[str, ...]) -> str:
    """Plain text of the first of `names` the item has with any text."""
    for name in names:
        if (element := fields.get(name)) is not None:
            value = element.text if len(element) == 0 else "".join(element.itertext())
            if value and (value := value.strip()):
                return html_to_text(value) if "<" in value or "&" in value else value
    return ""


def _join(title: str, summary: str, publisher: str) -> str:
    """Title and summary, without a summary that only repeats the title (Google News does)."""
    if not summary:
        return title
    told, known = summary.casefold(), f"{title} {publisher}".casefold()
    if set(told.split()) <= set(known.split()):  # each piece repeated, so each word too
        return title or summary
    extra = set(_WORD.findall(told)) - set(_WORD.findall(known))
    return f"{title}\n\n{summary}" if title and extra else title or summary


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: every feed, yielding the items not seen before."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, sleep=sleep, allow_private=config.allow_private
    )
    max_age = config.max_item_age_hours * 3600

    async def run(url: str) -> AsyncIterator[Item]:
        state = progress.get(url, {"seen": {}})
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        response = await polite.get(url, headers=headers)
        if response.status_code == 304:
            return
        items = accept_page(
            NAME,
            url,
            parse(
                response.content,
                feed_url=url,
                fetched_at=now(),
                charset=response.charset_encoding,
            ),
            response.content,
        )
        seen: dict[str, float] = state["seen"]
        oldest = time.time() - max_age
        for item in items:
            if not isinstance(item, Mention):
                yield item
            elif item.source_id not in seen and item.created_at.timestamp() >= oldest:
                seen[item.source_id] = item.created_at.timestamp()
                yield item
        kept = sorted(((k, v) for k, v in seen.items() if v >= oldest), key=lambda kv: kv[1])
        progress.save(
            url,
            {
                "etag": response.headers.get("etag"),
                "last_modified": response.headers.get("last-modified"),
                "seen": dict(kept[-config.max_seen_per_feed :]),
            },
        )

    async for item in each_target(NAME, config.urls(), run):
        yield item


SOURCE = Source(NAME, Config, fetch, "polling")
