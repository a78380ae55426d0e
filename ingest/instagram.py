"""Instagram professional accounts through the Graph API: comments on the account's media,
media that tag it, and hashtag search.

Each round reads the account's media of the last `recent_media_days` (`/{ig-user-id}/media`)
and, for each whose `comments_count` changed since the last round, its comments with their
replies (`/{media-id}/comments`, replies expanded, more through `/{comment-id}/replies`); then
the media that tag the account (`/{ig-user-id}/tags`); then each hashtag's recent media
(`ig_hashtag_search` once, its id kept, then `/{hashtag-id}/recent_media`).

Meta allows 30 unique hashtags per account in any rolling 7 days: the hashtags queried and
when are kept per account (whatever the config), and a 31st is refused with the list and when
room comes back, before anything is asked.

Replies: `POST /{ig-comment-id}/replies` (Instagram nests one level, so a reply to a reply
answers its top-level comment); on media or comments that @mention the account (the
`mentions` webhook gives their ids), `POST /{ig-user-id}/mentions`, whose target Sada writes
`mention:<media-id>[:<comment-id>]`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.convert import canonical_url
from ingest.cursor import CursorStore, Progress, Window
from ingest.graph import (
    HIDDEN,
    AccountId,
    Graph,
    GraphConfig,
    graph_time,
    node_id,
    parse_list,
)
from ingest.http import Sleep
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source

NAME = "instagram"
RENEW = (
    "the access token (access_token): a long-lived Page access token of the Facebook Page "
    "linked to the Instagram professional account, with instagram_basic, "
    "instagram_manage_comments and pages_read_engagement"
)
READ = "instagram_basic and instagram_manage_comments"
COMMENT_FIELDS = "id,text,timestamp,username,like_count,parent_id"
MEDIA_FIELDS = "id,caption,permalink,timestamp,comments_count,like_count"
OWN_MEDIA_FIELDS = "id,permalink,timestamp,comments_count"
TAG_FIELDS = f"{MEDIA_FIELDS},username"
MENTIONED_MEDIA = "id,caption,timestamp,like_count,comments_count,username"
MENTIONED_COMMENT = "id,text,timestamp,like_count,username"
MENTION = "mention:"  # a reply_target answered through /{ig-user-id}/mentions
HASHTAG_LIMIT = 30  # unique hashtags per account in a rolling week (Meta's limit)
WEEK = 7 * 86400


class Config(GraphConfig):
    ig_user_id: AccountId = Field(description="The Instagram professional account's id.")
    recent_media_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Comments are read on the account's media of this age.",
    )
    tags: bool = Field(default=True, description="Also read media that tag the account.")
    hashtags: list[str] = Field(
        default=[],
        description="Hashtags whose recent media are read (with or without #); at most 30 "
        "unique ones per account in any 7 days, Meta's limit.",
    )
    poll_interval_seconds: polling.PollIntervalSeconds = 300.0

    @field_validator("hashtags")
    @classmethod
    def _within_limit(cls, value: list[str]) -> list[str]:
        names = list(dict.fromkeys(hashtag_key(v) for v in value))
        if "" in names:
            raise ValueError("an empty hashtag; write the tag's name, e.g. 'acmebank'")
        if len(names) > HASHTAG_LIMIT:
            raise ValueError(
                f"{len(names)} hashtags; Instagram allows {HASHTAG_LIMIT} unique hashtags "
                "per account in any 7 days: keep the ones that matter most"
            )
        return names


def hashtag_key(name: str) -> str:
    """A hashtag as Instagram compares them: no '#', no spaces, case-insensitive."""
    return name.strip().lstrip("#").replace(" ", "").casefold()


def comment_mention(
    obj: dict[str, Any],
    *,
    media_id: str,
    permalink: str | None,
    fetched_at: datetime,
    mentioned: bool = False,
) -> Mention:
    """An IG Comment on media `media_id` (a reply when it has `parent_id`). The account
    answers it with `POST /{id}/replies` on the top-level comment, or, when the comment is on
    someone else's media and @mentions the account (`mentioned`), through /mentions."""
    comment_id = str(field(obj, "id"))
    parent = obj.get("parent_id")
    who = obj.get("from")
    handle = obj.get("username") or (who.get("username") if isinstance(who, dict) else None)
    target = f"{MENTION}{media_id}:{comment_id}" if mentioned else str(parent or comment_id)
    return Mention(
        uid=make_uid(NAME, comment_id),
        source=NAME,
        source_id=comment_id,
        url=canonical_url(permalink),
        author=Author(handle=str(handle or HIDDEN)),
        text=str(field(obj, "text")),
        created_at=graph_time(field(obj, "timestamp")),
        fetched_at=fetched_at,
        engagement=Engagement(likes=int(obj.get("like_count") or 0)),
        parent_id=str(parent or media_id),
        reply_target=target,
    )


def media_mention(
    obj: dict[str, Any], *, fetched_at: datetime, mentioned: bool = False
) -> Mention | None:
    """IG Media by someone else: tagging the account, under a hashtag, or (`mentioned`)
    @mentioning it in the caption, which the account can answer through /mentions. Media
    without a caption say nothing to monitor (None). Hashtag media carry no username."""
    media_id = str(field(obj, "id"))
    caption = str(obj.get("caption") or "")
    if not caption.strip():
        return None
    return Mention(
        uid=make_uid(NAME, media_id),
        source=NAME,
        source_id=media_id,
        url=canonical_url(obj.get("permalink")),
        author=Author(handle=str(obj.get("username") or HIDDEN)),
        text=caption,
        created_at=graph_time(field(obj, "timestamp")),
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=int(obj.get("like_count") or 0), replies=int(obj.get("comments_count") or 0)
        ),
        reply_target=f"{MENTION}{media_id}" if mentioned else None,
    )


def parse_comments(
    payload: bytes | str, *, media_id: str, permalink: str | None, fetched_at: datetime
) -> list[Item]:
    """A page of `/{media-id}/comments` (replies expanded) or of `/{comment-id}/replies`."""
    return parse_list(
        payload,
        lambda c: comment_mention(c, media_id=media_id, permalink=permalink, fetched_at=fetched_at),
        NAME,
        flatten=_with_replies,
    )


def _with_replies(comment: Any) -> list[Any]:
    replies = comment.get("replies") if isinstance(comment, dict) else None
    data = replies.get("data") if isinstance(replies, dict) else None
    return [comment, *(data if isinstance(data, list) else [])]


def parse_media(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A page of `/{ig-user-id}/tags` or `/{hashtag-id}/recent_media`."""
    return parse_list(payload, lambda m: media_mention(m, fetched_at=fetched_at), NAME)


def more_replies(body: Any) -> dict[str, str]:
    """Comments whose expanded replies have more pages: comment id -> the `after` cursor."""
    more = {}
    for comment in body.get("data") or [] if isinstance(body, dict) else []:
        paging = ((comment.get("replies") or {}) if isinstance(comment, dict) else {}).get("paging")
        after = ((paging or {}).get("cursors") or {}).get("after")
        if isinstance(paging, dict) and paging.get("next") and isinstance(after, str):
            more[str(comment.get("id"))] = after
    return more


def media_versions(body: Any, *, since: float) -> tuple[dict[str, tuple[str | None, int]], bool]:
    """The account's media newer than `since` that have comments (id -> permalink, count),
    and whether the page reached older media. A media whose count did not change since the
    last round needs no comments call."""
    found, older = {}, False
    for media in body.get("data") or [] if isinstance(body, dict) else []:
        try:
            if graph_time(media["timestamp"]).timestamp() <= since:
                older = True
            elif media["comments_count"]:
                found[str(media["id"])] = (media.get("permalink"), int(media["comments_count"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # the account's own media: its comments, not it, are mentions
    return found, older


def hashtag_budget(searched: dict[str, float], name: str, *, at: float) -> dict[str, float]:
    """The hashtags queried in the rolling week (name -> first query) with `name` added, or a
    SourceError when it would be one more than Instagram's 30."""
    recent = {k: t for k, t in searched.items() if at - t < WEEK}
    if name not in recent and len(recent) >= HASHTAG_LIMIT:
        room = datetime.fromtimestamp(min(recent.values()) + WEEK, UTC)
        raise SourceError(
            f"{NAME}: hashtag #{name} refused: {len(recent)} unique hashtags were queried for "
            f"this account in the last 7 days ({', '.join('#' + k for k in sorted(recent))}) "
            f"and Instagram allows {HASHTAG_LIMIT}; room comes back at {room:%Y-%m-%d %H:%M}Z "
            "(or drop hashtags from the config)"
        )
    return {**recent, name: recent.get(name, at)}


class _Account(BaseModel):
    """What the hashtag budget is kept under: the account, whatever the config says."""

    ig_user_id: str


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: new comments on the account's media, media tagging it, hashtag media."""
    progress = Progress(NAME, config, cursors=cursors)
    graph = Graph(config, client, source=NAME, renew=RENEW, sleep=sleep)
    account = _Account(ig_user_id=config.ig_user_id)
    budget = progress.store.load(f"{NAME}-hashtags", account)

    def admitted(page: httpx.Response, items: list[Item], window: Window) -> list[Item]:
        kept = accept_page(NAME, str(page.url), items, page.content)
        return [
            i
            for i in kept
            if not isinstance(i, Mention) or window.admit(i.source_id, i.created_at.timestamp())
        ]

    async def comments(media_id: str, permalink: str | None, window: Window) -> AsyncIterator[Item]:
        fields = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
        walks = [(f"/{media_id}/comments", {"fields": fields})]
        while walks:
            path, query = walks.pop(0)
            async for page in graph.pages(path, needs=READ, **query):
                items = parse_comments(
                    page.content, media_id=media_id, permalink=permalink, fetched_at=now()
                )
                for item in admitted(page, items, window):
                    yield item
                walks += [
                    (f"/{cid}/replies", {"fields": COMMENT_FIELDS, "after": after})
                    for cid, after in more_replies(page.json()).items()
                ]

    async def own_media(window: Window, counted: dict[str, int]) -> AsyncIterator[Item]:
        since = time.time() - config.recent_media_days * 86400
        path = f"/{config.ig_user_id}/media"
        async for page in graph.pages(path, needs=READ, fields=OWN_MEDIA_FIELDS):
            found, older = media_versions(page.json(), since=since)
            for media_id, (permalink, count) in found.items():
                if counted.get(media_id) != count:
                    async for item in comments(media_id, permalink, window):
                        yield item
                versions[media_id] = count
            if older:
                return  # newest first: the rest is older than recent_media_days

    async def listed(path: str, window: Window, **query: str) -> AsyncIterator[Item]:
        async for page in graph.pages(path, needs=READ, **query):
            items = parse_media(page.content, fetched_at=now())
            for item in admitted(page, items, window):
                yield item
            times = [i.created_at.timestamp() for i in items if isinstance(i, Mention)]
            if times and min(times) <= window.since:
                return  # newest first: the rest was read in an earlier round

    async def hashtag(name: str, window: Window) -> AsyncIterator[Item]:
        budget["searched"] = hashtag_budget(budget.get("searched", {}), name, at=time.time())
        ids = budget.setdefault("ids", {})
        if name not in ids:
            response = await graph.call(
                "GET", "/ig_hashtag_search", needs=READ, user_id=config.ig_user_id, q=name
            )
            try:
                ids[name] = str(response.json()["data"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                raise SourceError(f"{NAME}: no hashtag #{name} ({response.text[:120]!r})") from None
        progress.store.save(f"{NAME}-hashtags", account, budget)
        path = f"/{ids[name]}/recent_media"
        async for item in listed(path, window, user_id=config.ig_user_id, fields=MEDIA_FIELDS):
            yield item

    versions: dict[str, int] = {}  # this round's media with comments: their comments_count

    async def run(target: str) -> AsyncIterator[Item]:
        window = progress.window(target, config)
        if target == "comments":
            async for item in own_media(window, progress.get(target, {}).get("media", {})):
                yield item
            progress.save(target, {**window.state(), "media": versions})
            return
        if target == "tags":
            found = listed(f"/{config.ig_user_id}/tags", window, fields=TAG_FIELDS)
        else:
            found = hashtag(target.removeprefix("#"), window)
        async for item in found:
            yield item
        progress.save(target, window.state())

    targets = ["comments", *(["tags"] if config.tags else []), *(f"#{h}" for h in config.hashtags)]
    async for item in each_target(NAME, targets, run):
        yield item


def parse_mentioned(payload: bytes | str, *, media_id: str, fetched_at: datetime) -> list[Item]:
    """The answer to a `mentioned_comment` or `mentioned_media` read (`{"mentioned_...": {...},
    "id": <ig-user-id>}`): the comment or caption that @mentions the account."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    for key, build in (
        (
            "mentioned_comment",
            lambda c: comment_mention(
                c, media_id=media_id, permalink=None, fetched_at=fetched_at, mentioned=True
            ),
        ),
        ("mentioned_media", lambda m: media_mention(m, fetched_at=fetched_at, mentioned=True)),
    ):
        if isinstance(body, dict) and key in body:
            return each([body[key]], build, NAME)
    reason = f"{NAME}: no mentioned_comment or mentioned_media in the answer"
    return [Rejected(payload=text_of(payload), reason=reason)]


async def read_mention(
    config: Config, client: httpx.AsyncClient, *, media_id: str, comment_id: str | None = None
) -> list[Item]:
    """What a `mentions` webhook points at by id: the comment (`comment_id`) or the caption of
    media `media_id` that @mentions the account, read through the account's
    `mentioned_comment` / `mentioned_media` fields."""
    graph = Graph(config, client, source=NAME, renew=RENEW)
    if comment_id:
        fields = f"mentioned_comment.comment_id({node_id(comment_id, NAME)}){{{MENTIONED_COMMENT}}}"
    else:
        fields = f"mentioned_media.media_id({node_id(media_id, NAME)}){{{MENTIONED_MEDIA}}}"
    response = await graph.call("GET", f"/{config.ig_user_id}", needs=READ, fields=fields)
    return parse_mentioned(response.content, media_id=media_id, fetched_at=now())


async def reply(config: Config, client: httpx.AsyncClient, target: str, text: str) -> str:
    """The account answers `target`: a comment (`POST /{id}/replies`) or, for a mention
    (`mention:<media-id>[:<comment-id>]`), through `POST /{ig-user-id}/mentions`."""
    graph = Graph(config, client, source=NAME, renew=RENEW)
    needs = "instagram_manage_comments"
    if not target.startswith(MENTION):
        return await graph.create(target, "replies", needs=needs, message=text)
    media_id, _, comment_id = target.removeprefix(MENTION).partition(":")
    ids = {"media_id": node_id(media_id, NAME)}
    if comment_id:
        ids["comment_id"] = node_id(comment_id, NAME)
    return await graph.create(config.ig_user_id, "mentions", needs=needs, message=text, **ids)


SOURCE = Source(NAME, Config, fetch, "polling", reply=reply, search="hashtags")
