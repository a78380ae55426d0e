"""X (API v2): recent search, the filtered stream with its rules kept in sync, and replies.

Two sources, because X sells them separately and they run differently: `x` polls
`GET /2/tweets/search/recent` (Basic access and up), `x_stream` holds one connection to
`GET /2/tweets/search/stream` (Pro and up), or with `compliance_partition` one partition of
the Post compliance stream, whose deletes become Removals. Both name their mentions `x`, so a
tweet that both see is one mention downstream.

Search walks each query newest first with `next_token`, from `since_id` (the newest tweet of
the previous walk; on the first run `start_time`, at most 7 days back); the walk's position is
saved after every page, so a restart, or a walk longer than `max_pages_per_poll`, resumes where
it stopped and `since_id` moves only when the walk is done: nothing lost, nothing twice. A
position beyond the search's 7 days restarts 7 days back, with a warning.

X sends `x-rate-limit-limit/remaining/reset` (reset in epoch seconds): once remaining reaches 0
the host is held until the reset (ingest/http.py), and a 429 waits for the reset too. A 429
whose problem type is `usage-capped` is the app's monthly post cap or spend limit: no wait
fixes that, so it is a SourceError saying so.

A tweet's id changes when it is edited: `edit_history_tweet_ids` lists the versions, oldest
first. The mention's `source_id` is the first one, so every version has the same uid; a later
version carries `edited_at` (its own time), an older one is skipped. A retweet is the tweet it
retweets. Replies go out as the brand's account (`POST /2/tweets`), which needs a user-context
OAuth 2.0 token; reading needs only the app's bearer token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import Field, SecretStr, model_validator

from core import outbound
from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, Removal, make_uid, now
from core.metrics import ERRORS
from core.retry import backoff_seconds, retry_after
from ingest import polling
from ingest.convert import from_iso
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, explain, field, load_json, text_of
from ingest.polling import accept_page, each_target, observe
from ingest.source import Source

log = logging.getLogger(__name__)

NAME = "x"
SEARCH = "/2/tweets/search/recent"
STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
COMPLIANCE = "/2/tweets/compliance/stream"
TWEETS = "/2/tweets"
FIELDS = {
    "tweet.fields": "author_id,conversation_id,created_at,edit_history_tweet_ids,"
    "in_reply_to_user_id,lang,note_tweet,public_metrics,referenced_tweets",
    "expansions": "author_id,referenced_tweets.id,referenced_tweets.id.author_id",
    "user.fields": "name,public_metrics,username,verified",
}
_TWITTER_EPOCH_MS = 1288834974657  # tweet ids are snowflakes: (id >> 22) + this = ms since 1970
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "qam", "qct", "qht", "qme", "qst", "art"})
_SEARCH_REACH_SECONDS = 7 * 86400 - 60  # recent search covers the last 7 days


class Account(SourceConfig):
    """What both X sources share: where the API is and the credentials."""

    URL_FIELDS = ("api_url",)

    bearer_token: SecretStr = Field(
        min_length=1, description="The app's bearer token (app-only), for reading."
    )
    user_access_token: SecretStr | None = Field(
        default=None,
        description="A user-context OAuth 2.0 access token of the brand's account (scopes "
        "tweet.read tweet.write users.read), for replies; reading does not need it.",
    )
    api_url: str = Field(default="https://api.x.com", description="The API root.")
    http: polling.Politeness = HttpPolicy()


class Config(Account):
    """Recent search (`x`)."""

    queries: list[str] = Field(min_length=1, description="Search queries (X query syntax).")
    max_results: int = Field(default=100, ge=10, le=100, description="Tweets per request.")
    max_pages_per_poll: polling.MaxPagesPerPoll = 10
    poll_interval_seconds: polling.PollIntervalSeconds = 60.0
    initial_lookback_seconds: polling.InitialLookbackSeconds = Field(
        default=3600, le=_SEARCH_REACH_SECONDS, description="How far back the first poll reaches."
    )


class StreamConfig(Account):
    """The filtered stream (`x_stream`); its rules are `queries`, tagged `rule_tag`. Or, with
    `compliance_partition`, one partition of the Post compliance stream."""

    queries: list[str] = Field(default=[], description="Stream rules (X query syntax).")
    compliance_partition: int | None = Field(
        default=None,
        ge=1,
        le=4,
        description="Read this partition (1-4) of the Post compliance stream (Enterprise) "
        "instead: deletes become removals. Four entries, one per partition, get every event.",
    )
    rule_tag: str = Field(
        default="sada",
        min_length=1,
        max_length=128,
        description="Tag of the rules Sada manages: only rules with this tag are deleted when no "
        "longer in queries; rules with other tags are left alone.",
    )
    backfill_minutes: int = Field(
        default=0,
        ge=0,
        le=5,
        description="On a reconnect, ask for the tweets of the last minutes missed (X offers "
        "up to 5 on some access levels; 0 when yours does not).",
    )
    idle_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Reconnect when nothing, not even a keep-alive, came."
    )
    backoff_initial_seconds: float = Field(
        default=5.0, gt=0, description="Wait before the first reconnect; doubles each failure."
    )
    backoff_max_seconds: float = Field(default=320.0, gt=0, description="Longest reconnect wait.")

    @model_validator(mode="after")
    def _something_to_read(self) -> StreamConfig:
        if not self.queries and self.compliance_partition is None:
            raise ValueError("queries: give at least one rule (or a compliance_partition)")
        return self


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet was posted, from its id."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + _TWITTER_EPOCH_MS) / 1000, UTC)


def parse(payload: bytes | str, *, fetched_at: datetime) -> list[Item]:
    """A search page (`data`, `includes`, `meta`) to mentions."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    tweets = body.get("data", []) if isinstance(body, dict) and "meta" in body else None
    if not isinstance(tweets, list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: not a page of tweets")]
    return _tweets(tweets, body.get("includes"), fetched_at)


def parse_event(event: Any, *, fetched_at: datetime) -> list[Item]:
    """One stream line, decoded: a tweet (with its `includes`), a compliance `delete` event
    (a Removal), or [] for what carries neither (other compliance events)."""
    data = event.get("data") if isinstance(event, dict) else None
    if isinstance(data, dict) and "delete" in data:
        try:
            return [_removal(data["delete"])]
        except (KeyError, TypeError, ValueError) as exc:
            return [Rejected(json.dumps(event, ensure_ascii=False), f"{NAME}: {explain(exc)}")]
    if isinstance(data, dict) and "id" in data:
        return _tweets([data], event.get("includes"), fetched_at)
    if isinstance(data, dict) and len(data) == 1:
        return []  # tweet_edit, withheld, scrub_geo ...: the edited tweet comes as a tweet
    return [Rejected(json.dumps(event, ensure_ascii=False), f"{NAME}: not a tweet or event")]


def _tweets(tweets: list[Any], includes: Any, fetched_at: datetime) -> list[Item]:
    includes = includes if isinstance(includes, dict) else {}
    users = {u.get("id"): u for u in includes.get("users") or [] if isinstance(u, dict)}
    included = {t.get("id"): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
    return each(tweets, lambda tweet: _mention(tweet, users, included, fetched_at), NAME)


def _mention(
    tweet: dict[str, Any],
    users: dict[Any, dict[str, Any]],
    included: dict[Any, dict[str, Any]],
    fetched_at: datetime,
) -> Mention | None:
    references = {r["type"]: str(r["id"]) for r in tweet.get("referenced_tweets") or []}
    if "retweeted" in references:
        original = included.get(references["retweeted"])
        return None if original is None else _mention(original, users, {}, fetched_at)
    tweet_id = str(field(tweet, "id"))
    versions = [str(v) for v in tweet.get("edit_history_tweet_ids") or [tweet_id]]
    if versions[-1] != tweet_id:
        return None  # an earlier version: the newest one carries the text
    first = versions[0]
    stamp = tweet.get("created_at")
    posted = from_iso(stamp) if stamp else snowflake_time(tweet_id)
    note = tweet.get("note_tweet")
    text = note["text"] if isinstance(note, dict) and note.get("text") else field(tweet, "text")
    if not isinstance(text, str):
        raise TypeError(f"text is {type(text).__name__}, not a string")
    user = users.get(tweet.get("author_id")) or {}
    username = user.get("username")
    followers = (user.get("public_metrics") or {}).get("followers_count")
    metrics = tweet.get("public_metrics") or {}
    conversation = tweet.get("conversation_id")
    lang = str(tweet.get("lang") or "").lower()
    return Mention(
        uid=make_uid(NAME, first),
        source=NAME,
        source_id=first,
        url=f"https://x.com/{username or 'i'}/status/{tweet_id}",
        author=Author(
            handle=str(username or tweet.get("author_id") or "i"),
            name=user.get("name") or None,
            followers=None if followers is None else max(0, int(followers)),
        ),
        text=_unescape(text) if "&" in text else text,
        language_hint=None if not lang or lang in _NOT_A_LANGUAGE else lang,
        created_at=snowflake_time(first) if len(versions) > 1 else posted,
        fetched_at=fetched_at,
        engagement=Engagement(
            likes=max(0, int(metrics.get("like_count") or 0)),
            reposts=max(0, int(metrics.get("retweet_count") or 0))
            + max(0, int(metrics.get("quote_count") or 0)),
            replies=max(0, int(metrics.get("reply_count") or 0)),
        ),
        parent_id=str(conversation)
        if conversation and str(conversation) not in versions
        else references.get("replied_to"),
        reply_target=tweet_id,
        edited_at=posted if len(versions) > 1 else None,
    )


def _unescape(text: str) -> str:
    """X writes &, < and > in a tweet's text as &amp;, &lt; and &gt;, and nothing else."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _removal(delete: dict[str, Any]) -> Removal:
    tweet_id = str(field(delete, "tweet", "id"))
    int(tweet_id)  # a ValueError, so a Rejected, for what cannot be a tweet id
    at = delete.get("event_at")
    return Removal(
        uid=make_uid(NAME, tweet_id),
        source=NAME,
        source_id=tweet_id,
        removed_at=from_iso(at) if at else now(),
        reason="deleted",
    )


class _Polite(Polite):
    """The Polite client, but a 429 for a spent usage cap is final: waiting will not help."""

    def server_wait(self, response: httpx.Response, throttled: bool) -> float | None:
        if throttled and _usage_capped(response):
            raise SourceError(
                f"{NAME}: the app's usage cap is spent ({_problem(response)}); X serves no more "
                "until the cap resets: raise the cap or the plan in the developer portal",
                status=429,
            )
        return super().server_wait(response, throttled)


def _usage_capped(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and (
        "usage-capped" in str(body.get("type")) or body.get("title") == "UsageCapExceeded"
    )


def _problem(response: httpx.Response) -> str:
    """X's problem body in one line: title and detail."""
    try:
        body = response.json()
        return f"{body.get('title')}: {body.get('detail')}"
    except (ValueError, AttributeError):
        return response.text[:200]


class _Api:
    """Calls to the X API with one of the source's tokens, errors explained in X's terms.

    As the brand's account (`user`), a call is sent once: a post retried after a lost answer
    could be posted twice.
    """

    def __init__(
        self, config: Account, client: httpx.AsyncClient, sleep: Sleep, *, user: bool = False
    ) -> None:
        token = config.user_access_token if user else config.bearer_token
        assert token is not None
        self.config = config
        self.user = user
        self.headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        self.polite = _Polite(
            client,
            config.http.model_copy(update={"max_attempts": 1}) if user else config.http,
            source=NAME,
            reset_header="x-rate-limit-reset",
            remaining_header="x-rate-limit-remaining",
            allow_private=config.allow_private,
            sleep=sleep,
        )

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.polite.request(
                method, f"{self.config.api_url}{path}", headers=self.headers, **kwargs
            )
        except SourceError as exc:
            what = "user access token" if self.user else "bearer token"
            if exc.status == 401:
                raise SourceError(
                    f"{NAME}: {method} {path}: X refused the {what} (HTTP 401); renew the "
                    f"{what} and set {what.replace(' ', '_')}",
                    status=401,
                ) from exc
            if exc.status == 403:
                why = (
                    "the conversation may limit who can reply, the token may lack tweet.write, "
                    "or the text repeats a recent post"
                    if self.user
                    else "check the app's access level (the filtered stream needs Pro) and "
                    "that the app belongs to a Project"
                )
                raise SourceError(f"{exc}; {why}", status=403) from exc
            raise


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], datetime] = now,
) -> AsyncIterator[Item]:
    """One round: every query's new tweets, newest first, resuming any unfinished walk.
    `clock` says when it is, for what the search can reach."""
    progress = Progress(NAME, config, cursors=cursors)
    api = _Api(config, client, sleep)

    async def run(query: str) -> AsyncIterator[Item]:
        state = progress.get(query) or {}
        since = state.get("after") or {
            "start_time": _iso(clock() - timedelta(seconds=config.initial_lookback_seconds))
        }
        if _out_of_reach(since, clock()):
            log.warning(
                "%s: %r: last read more than 7 days ago, beyond recent search's reach; "
                "reading the last 7 days, older tweets are lost",
                NAME,
                query,
            )
            state = {}
            since = {"start_time": _iso(clock() - timedelta(seconds=_SEARCH_REACH_SECONDS))}
        token, newest = state.get("next_token"), state.get("newest_id")
        params = {"query": query, "max_results": str(config.max_results), **FIELDS, **since}
        for _ in range(config.max_pages_per_poll):
            page = {**params, **({"next_token": token} if token else {})}
            response = await api.call("GET", SEARCH, params=page)
            for item in accept_page(
                NAME, str(response.url), parse(response.content, fetched_at=now()), response.content
            ):
                yield item
            meta = response.json().get("meta") or {}
            newest = newest or meta.get("newest_id")
            token = meta.get("next_token")
            if not token:
                progress.save(query, {"after": {"since_id": newest}} if newest else state)
                return
            progress.save(query, {"after": since, "next_token": token, "newest_id": newest})
        log.info(
            "%s: %r: more than %d pages this round; the walk goes on next round",
            NAME,
            query,
            config.max_pages_per_poll,
        )

    async for item in each_target(NAME, config.queries, run):
        yield item


def _out_of_reach(since: dict[str, str], at: datetime) -> bool:
    """Whether recent search would refuse this `since_id` or `start_time` (7 days back at most)."""
    when = (
        snowflake_time(since["since_id"]) if "since_id" in since else from_iso(since["start_time"])
    )
    return when < at - timedelta(seconds=_SEARCH_REACH_SECONDS)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def sync_rules(config: StreamConfig, api: _Api) -> None:
    """Make the rules tagged `rule_tag` exactly `queries`; other tags' rules stay as they are."""
    listed = (await api.call("GET", RULES)).json().get("data") or []
    ours = [r for r in listed if isinstance(r, dict) and r.get("tag") == config.rule_tag]
    stale = [str(r["id"]) for r in ours if r.get("value") not in config.queries]
    present = {r.get("value") for r in ours}
    missing = [q for q in dict.fromkeys(config.queries) if q not in present]
    if stale:
        await api.call("POST", RULES, json={"delete": {"ids": stale}})
    if missing:
        added = await api.call(
            "POST", RULES, json={"add": [{"value": q, "tag": config.rule_tag} for q in missing]}
        )
        errors = [
            e
            for e in added.json().get("errors") or []
            if isinstance(e, dict) and e.get("title") != "DuplicateRule"
        ]
        if errors:
            refused = "; ".join(f"{e.get('value')!r}: {e.get('details') or e}" for e in errors)
            raise SourceError(f"{NAME}: the filtered stream refused rules ({refused}); fix them")
    log.info("%s: stream rules in sync: %d added, %d deleted", NAME, len(missing), len(stale))


async def stream(
    config: StreamConfig,
    client: httpx.AsyncClient,
    *,
    once: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """Sync the rules, then read the stream forever, reconnecting with backoff. With `once`,
    stop at the first keep-alive (X sends one when it has nothing more) or when idle."""
    if config.compliance_partition is None:
        await sync_rules(config, _Api(config, client, sleep))
        path, fixed = STREAM, FIELDS
    else:
        path, fixed = COMPLIANCE, {"partition": str(config.compliance_partition)}
    headers = {"Authorization": f"Bearer {config.bearer_token.get_secret_value()}"}
    timeout = httpx.Timeout(config.http.timeout_seconds, read=config.idle_timeout_seconds)
    failures = 0
    while True:
        params = dict(fixed)
        if failures and config.backfill_minutes:
            params["backfill_minutes"] = str(config.backfill_minutes)
        hint: float | None = None
        try:
            async with client.stream(
                "GET",
                f"{config.api_url}{path}",
                params=params,
                headers=headers,
                timeout=timeout,
                extensions=outbound.allow(config.allow_private),
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    hint = _refused(response)
                    raise ConnectionError(f"HTTP {response.status_code} ({_problem(response)})")
                async for line in response.aiter_lines():
                    if not line.strip():
                        if once:
                            return
                        continue
                    failures = 0
                    event = load_json(line, NAME)
                    if isinstance(event, Rejected):
                        yield event
                        continue
                    if isinstance(event, dict) and "errors" in event and "data" not in event:
                        raise ConnectionError(f"X ended the stream: {event['errors']}")
                    for item in observe(NAME, parse_event(event, fetched_at=now())):
                        yield item
            problem: Exception = ConnectionError("the server closed the stream")
        except httpx.ReadTimeout as exc:
            if once:
                return  # not even a keep-alive: nothing is pending
            problem = exc
            ERRORS.labels(stage=f"ingest:{NAME}", kind="timeout").inc()
        except (httpx.TransportError, ConnectionError) as exc:
            problem = exc
            ERRORS.labels(stage=f"ingest:{NAME}", kind=type(exc).__name__).inc()
        failures += 1
        wait = backoff_seconds(
            failures,
            initial=config.backoff_initial_seconds,
            maximum=config.backoff_max_seconds,
            hint=hint,
        )
        log.warning("%s: stream: %s; reconnecting in %.1fs", NAME, problem, wait)
        await sleep(wait)


def _refused(response: httpx.Response) -> float | None:
    """How long to wait before reconnecting after a refused connection (the reset time on a
    429), or a SourceError when waiting will not help (a refused token, a spent cap)."""
    status = response.status_code
    if status == 401:
        raise SourceError(
            f"{NAME}: X refused the bearer token for the stream (HTTP 401); renew the bearer "
            "token in the developer portal and set bearer_token",
            status=401,
        )
    if status == 403 or (status == 429 and _usage_capped(response)):
        raise SourceError(
            f"{NAME}: X refuses the stream (HTTP {status}: {_problem(response)}); check the "
            "app's access level (the filtered stream needs Pro) and its usage cap",
            status=status,
        )
    if status == 429:
        told = response.headers.get("retry-after") or response.headers.get("x-rate-limit-reset")
        return retry_after(told)
    return None


async def reply(config: Account, client: httpx.AsyncClient, target: str, text: str) -> str:
    """Post `text` as the brand's account in answer to tweet `target`; the new tweet's id."""
    if config.user_access_token is None:
        raise SourceError(
            f"{NAME}: replying needs user_access_token, a user-context OAuth 2.0 access token of "
            "the brand's account (scopes tweet.read tweet.write users.read); the app's bearer "
            "token can only read"
        )
    response = await _Api(config, client, asyncio.sleep, user=True).call(
        "POST", TWEETS, json={"text": text, "reply": {"in_reply_to_tweet_id": target}}
    )
    try:
        return str(field(response.json(), "data", "id"))
    except (ValueError, KeyError) as exc:
        raise SourceError(
            f"{NAME}: POST {TWEETS} answered {response.status_code} without data.id ({exc}); "
            "look at the brand's account before answering again"
        ) from exc


SOURCE = Source(NAME, Config, fetch, "polling", reply=reply, search="boolean")
STREAM_SOURCE = Source("x_stream", StreamConfig, stream, "streaming", reply=reply, search="boolean")
