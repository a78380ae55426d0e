"""Facebook Page comments, visitor posts and posts that tag the Page, through the Graph API.

Customers speak in the Page's own space: under its posts and on its feed. Each round reads
the Page's feed for the last `recent_posts_days` (`/{page-id}/feed`), and for every post that
changed since the last round (its `updated_time` moves when a comment is added; the cursor
keeps each post's) its comments
and replies newest first (`/{post-id}/comments?filter=stream&order=reverse_chronological`)
back to the cursor; then the posts that tag the Page (`/{page-id}/tagged`). The Page's own
posts and comments are its voice, not mentions, and are skipped, as are those without text.

A Page replies to a comment with `POST /{comment-id}/comments` and comments on a post with
`POST /{post-id}/comments`: that id is each mention's `reply_target`. Edits and deletes reach
Sada through the Page's `feed` webhook (ingest/meta_webhook.py), which maps comments with
`comment_mention` below.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field

from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url
from ingest.cursor import CursorStore, Progress, Window
from ingest.graph import HIDDEN, AccountId, Graph, GraphConfig, graph_time, parse_list
from ingest.http import Sleep
from ingest.parsing import Item, field
from ingest.polling import accept_page, each_target
from ingest.source import Source

NAME = "facebook"
RENEW = (
    "the Page access token (access_token): a long-lived Page token from a user who manages "
    "the Page, with pages_read_engagement, pages_read_user_content and pages_manage_engagement"
)
READ = "pages_read_engagement and pages_read_user_content"
POST_FIELDS = "id,from{id,name},message,created_time,updated_time,permalink_url"
COMMENT_FIELDS = (
    "id,from{id,name},message,created_time,parent{id},permalink_url,like_count,comment_count"
)


class Config(GraphConfig):
    page_id: AccountId = Field(description="The Page's numeric id.")
    recent_posts_days: int = Field(
        default=7, ge=1, le=90, description="Comments are read on the feed's posts of this age."
    )
    tagged: bool = Field(default=True, description="Also read posts that tag the Page.")
    poll_interval_seconds: polling.PollIntervalSeconds = 300.0


def _author(obj: dict[str, Any]) -> Author:
    """`from` is the person or Page; Graph leaves it out without Page-level access."""
    who = obj.get("from")
    if not isinstance(who, dict):
        return Author(handle=HIDDEN)
    return Author(handle=str(field(who, "id")), name=who.get("name"))


def comment_mention(obj: dict[str, Any], *, post_id: str, fetched_at: datetime) -> Mention:
    """A Graph Comment under post `post_id`: its parent is the comment it answers, else the
    post; the Page answers it with `POST /{comment-id}/comments`."""
    comment_id = str(field(obj, "id"))
    parent = obj.get("parent")
    return Mention(
        uid=make_uid(NAME, comment_id),
        source=NAME,
        source_id=comment_id,
        url=canonical_url(obj.get("permalink_url")),
        author=_author(obj),
        text=str(obj.get("message") or ""),
        created_at=graph_time(field(obj, "created_time")),
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=int(obj.get("like_count") or 0), replies=int(obj.get("comment_count") or 0)
        ),
        parent_id=str(field(parent, "id")) if parent else post_id,
        reply_target=comment_id,
    )


def post_mention(obj: dict[str, Any], *, fetched_at: datetime) -> Mention:
    """A Graph Post by someone else (on the Page's feed, or tagging the Page); the Page
    comments on it with `POST /{post-id}/comments`."""
    post_id = str(field(obj, "id"))
    return Mention(
        uid=make_uid(NAME, post_id),
        source=NAME,
        source_id=post_id,
        url=canonical_url(obj.get("permalink_url")),
        author=_author(obj),
        text=str(obj.get("message") or ""),
        created_at=graph_time(field(obj, "created_time")),
        fetched_at=fetched_at,
        reply_target=post_id,
    )


def _skipped(obj: Any, page_id: str) -> bool:
    """The Page's own posts and comments (its voice), and those without text (a sticker)."""
    return isinstance(obj, dict) and (
        (obj.get("from") or {}).get("id") == page_id or not str(obj.get("message") or "").strip()
    )


def parse_comments(
    payload: bytes | str, *, post_id: str, page_id: str, fetched_at: datetime
) -> list[Item]:
    """A page of `/{post-id}/comments`, the Page's own replies skipped."""
    return parse_list(
        payload,
        lambda c: (
            None
            if _skipped(c, page_id)
            else comment_mention(c, post_id=post_id, fetched_at=fetched_at)
        ),
        NAME,
    )


def parse_posts(payload: bytes | str, *, page_id: str, fetched_at: datetime) -> list[Item]:
    """A page of `/{page-id}/feed` or `/tagged`, the Page's own posts skipped."""
    return parse_list(
        payload,
        lambda p: None if _skipped(p, page_id) else post_mention(p, fetched_at=fetched_at),
        NAME,
    )


def post_versions(body: Any) -> dict[str, str]:
    """Each feed post's `updated_time` (a new comment moves it) by id: a post whose version
    did not change since the last round needs no comments call."""
    versions = {}
    for post in body.get("data") or [] if isinstance(body, dict) else []:
        if isinstance(post, dict) and isinstance(post.get("id"), str):
            versions[post["id"]] = str(post.get("updated_time") or post.get("created_time"))
    return versions


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: the feed's posts and their new comments, then posts that tag the Page."""
    progress = Progress(NAME, config, cursors=cursors)
    graph = Graph(config, client, source=NAME, renew=RENEW, sleep=sleep)

    def admitted(
        page: httpx.Response, items: list[Item], window: Window
    ) -> tuple[list[Item], bool]:
        """The page's items not yielded before, and whether it reached the window's start."""
        kept = accept_page(NAME, str(page.url), items, page.content)
        times = [i.created_at.timestamp() for i in kept if isinstance(i, Mention)]
        fresh = [
            i
            for i in kept
            if not isinstance(i, Mention) or window.admit(i.source_id, i.created_at.timestamp())
        ]
        return fresh, bool(times) and min(times) <= window.since

    async def comments(post_id: str, window: Window) -> AsyncIterator[Item]:
        path = f"/{post_id}/comments"
        query = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "reverse_chronological"}
        async for page in graph.pages(path, needs=READ, **query):
            items = parse_comments(
                page.content, post_id=post_id, page_id=config.page_id, fetched_at=now()
            )
            fresh, reached = admitted(page, items, window)
            for item in fresh:
                yield item
            if reached:
                return  # newest first: the rest was read in an earlier round

    async def feed(window: Window, walked: dict[str, str]) -> AsyncIterator[Item]:
        since = str(int(time.time()) - config.recent_posts_days * 86400)
        path = f"/{config.page_id}/feed"
        async for page in graph.pages(path, needs=READ, fields=POST_FIELDS, since=since):
            items = parse_posts(page.content, page_id=config.page_id, fetched_at=now())
            for item in admitted(page, items, window)[0]:
                yield item
            for post_id, version in post_versions(page.json()).items():
                if walked.get(post_id) != version:
                    async for item in comments(post_id, window):
                        yield item
                versions[post_id] = version

    async def tagged(window: Window) -> AsyncIterator[Item]:
        path = f"/{config.page_id}/tagged"
        async for page in graph.pages(path, needs=READ, fields=POST_FIELDS):
            items = parse_posts(page.content, page_id=config.page_id, fetched_at=now())
            fresh, reached = admitted(page, items, window)
            for item in fresh:
                yield item
            if reached:
                return

    versions: dict[str, str] = {}  # this round's feed posts, by id: their updated_time

    async def run(target: str) -> AsyncIterator[Item]:
        window = progress.window(target, config)
        if target == "feed":
            async for item in feed(window, progress.get(target, {}).get("posts", {})):
                yield item
            progress.save(target, {**window.state(), "posts": versions})
        else:
            async for item in tagged(window):
                yield item
            progress.save(target, window.state())

    async for item in each_target(NAME, ["feed", "tagged"] if config.tagged else ["feed"], run):
        yield item


async def reply(config: Config, client: httpx.AsyncClient, target: str, text: str) -> str:
    """The Page answers `target` (a comment, or a post) with a comment; the new comment's id."""
    graph = Graph(config, client, source=NAME, renew=RENEW)
    return await graph.create(target, "comments", needs="pages_manage_engagement", message=text)


SOURCE = Source(NAME, Config, fetch, "polling", reply=reply)
