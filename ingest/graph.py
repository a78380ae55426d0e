"""What the Facebook Pages and Instagram sources share: the Meta Graph API client.

- Every call carries the access token in the `Authorization` header (never in a logged URL)
  and, when the app secret is configured, `appsecret_proof` (HMAC-SHA256 of the token with the
  app secret), which apps that require it ("Require App Secret") refuse calls without.
- Lists are walked by `paging.next`, which carries `cursors.after` (or, on feeds, the time
  cursors); a `next` on another host is not followed, and the token Meta puts in it is dropped
  (the header carries it).
- Graph explains failures in an `error` object (usually with HTTP 400): `graph_error` turns it
  into a `SourceError` naming the token to renew (190) or the permission to grant (10, 200-299)
  or into `RetryLater` for the rate limits (4, 17, 32, 613 and the 80000-series business use
  case limits).
- Every answer's `X-App-Usage` and `X-Business-Use-Case-Usage` headers say how much of the
  hourly budget is spent; `usage_delay` decides how long to wait before the next call, so the
  polling slows down as usage nears 100% instead of running into the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

import httpx
from pydantic import BeforeValidator, Field, SecretStr

from core.errors import Rejected, RetryLater, SadaError, SourceError
from core.events import Mention
from core.redact import redact
from ingest import polling
from ingest.convert import from_epoch, from_iso
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, load_json, text_of

log = logging.getLogger(__name__)

API_URL = "https://graph.facebook.com/v23.0"

# Rate limits: app (4), user (17), page (32), API-specific (613), business use case (80000+).
_THROTTLED = frozenset({4, 17, 32, 613}) | frozenset(range(80000, 80015))
_NODE_ID = re.compile(r"\d+(?:_\d+)*")
_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read|manage)_[a-z_]+)\b")

HIDDEN = "unknown"  # the author's handle where Graph does not say who wrote (no Page access)
SLOW_FROM = 50.0  # percent of the hourly budget from which calls are spaced out
MAX_DELAY = 3600.0  # Meta's usage is over a rolling hour: no wait needs to be longer


# A Page or Instagram account id: digits, written with or without quotes in the clients file.
AccountId = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), Field(pattern=r"^\d+$")
]


class GraphConfig(SourceConfig):
    """Fields both Graph sources share."""

    URL_FIELDS = ("api_url",)

    access_token: SecretStr = Field(description="The Page access token (never logged).")
    app_secret: SecretStr | None = Field(
        default=None,
        description="The app's secret: when set, every call carries appsecret_proof "
        "(required when the app has 'Require App Secret' on).",
    )
    api_url: str = Field(default=API_URL, description="Graph API root, with its version.")
    page_limit: int = Field(default=100, ge=1, le=100, description="Objects per request.")
    usage_backoff_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Pause between calls when usage reaches 75% of Meta's hourly budget; "
        "it grows as usage nears 100% (none below 50%).",
    )
    max_pages_per_poll: polling.MaxPagesPerPoll = 5
    initial_lookback_seconds: polling.InitialLookbackSeconds = 86400
    overlap_seconds: polling.OverlapSeconds = Field(
        default=600, description="Re-read window for comments the API listed late."
    )
    http: polling.Politeness = HttpPolicy()


def graph_time(value: str | int | float) -> datetime:
    """A Graph time: ISO 8601 with a `+0000` offset from the API, epoch seconds from webhooks."""
    return from_epoch(value) if isinstance(value, int | float) else from_iso(value)


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret, in hex, as Graph checks it."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def usage_delay(headers: Mapping[str, str], *, step_seconds: float) -> float:
    """Seconds to wait before the next Graph call, from the last answer's usage headers.

    The highest percentage (call_count, total_cputime, total_time) of the app's and of every
    business use case's budget decides: none below SLOW_FROM, `step_seconds` at 75%, then
    growing as the headroom shrinks (x4 at 90%, x49 at 99%); at 100% or more, or when Meta
    gives `estimated_time_to_regain_access` (minutes), that long (a full window if not given).
    Unreadable headers count as no usage: they must not stop ingestion.
    """
    percent, regain_minutes = 0.0, 0.0
    for usage in _usages(headers):
        for key in ("call_count", "total_cputime", "total_time"):
            value = usage.get(key)
            if isinstance(value, int | float):
                percent = max(percent, float(value))
        regain = usage.get("estimated_time_to_regain_access")
        if isinstance(regain, int | float):
            regain_minutes = max(regain_minutes, float(regain))
    if regain_minutes > 0:
        return min(regain_minutes * 60, MAX_DELAY)
    if percent >= 100:
        return MAX_DELAY
    if percent < SLOW_FROM:
        return 0.0
    return min(step_seconds * (percent - SLOW_FROM) / (100 - percent), MAX_DELAY)


def _usages(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in ("x-app-usage", "x-business-use-case-usage"):
        try:
            value = json.loads(headers.get(name) or "null")
        except ValueError:
            continue
        if isinstance(value, dict) and name == "x-business-use-case-usage":
            found += [u for entries in value.values() if isinstance(entries, list) for u in entries]
        elif isinstance(value, dict):
            found.append(value)
    return [u for u in found if isinstance(u, dict)]


def graph_error(body: str, *, what: str, renew: str, needs: str) -> SadaError | None:
    """The Graph `error` object in `body` as the error to raise, or None if there is none.

    `what` names the source and call, `renew` what the operator renews when the token is
    refused, `needs` the permission the call requires (named when Meta does not name one).
    """
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    code, sub = error.get("code"), error.get("error_subcode")
    message = str(error.get("message", ""))[:300]
    said = f"Graph error {code}{f'/{sub}' if sub else ''}: {message!r}"
    if code in _THROTTLED:
        return RetryLater(f"{what}: rate limited ({said}); calls resume after the limit resets")
    if code == 190:
        return SourceError(f"{what}: the access token was refused ({said}); renew {renew}")
    named = _PERMISSION.findall(message)
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299) or named:
        missing = ", ".join(dict.fromkeys(named)) or needs
        return SourceError(
            f"{what}: permission missing ({said}); grant {missing} to the app and the token "
            "(Meta's app review may be needed), then renew the token"
        )
    if error.get("is_transient") or code in (1, 2):
        return RetryLater(f"{what}: Graph is temporarily unavailable ({said})")
    return SourceError(f"{what}: {said}; check the ids and fields in the config")


def parse_list(
    payload: bytes | str,
    build: Callable[[Any], Mention | None],
    source: str,
    *,
    flatten: Callable[[Any], list[Any]] = lambda obj: [obj],
) -> list[Item]:
    """A Graph list (`{"data": [...], "paging": ...}`) mapped item by item with `build`;
    `flatten` lists the objects an item carries (a comment and its expanded replies)."""
    body = load_json(payload, source)
    if isinstance(body, Rejected):
        return [body]
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return [Rejected(payload=text_of(payload), reason=f"{source}: not a Graph list with data")]
    return each([obj for item in data for obj in flatten(item)], build, source)


def node_id(value: str, source: str) -> str:
    """`value` if it is an id as Graph writes them (digits, `_` between parts), so a reply
    target can never point a call elsewhere."""
    if not _NODE_ID.fullmatch(value):
        raise SourceError(f"{source}: {value!r} is not a Graph object id")
    return value


def node_path(value: str, edge: str, source: str) -> str:
    """`/{id}/{edge}`, the id checked."""
    return f"/{node_id(value, source)}/{edge}"


# When each budget (source, API root, token) may be called next: kept across rounds, so a
# round that ended near the limit does not start the next one at full speed.
_NOT_BEFORE: dict[tuple[str, str, str], float] = {}


class Graph:
    """A source's Graph client: auth, politeness, usage pacing (kept across rounds), paging."""

    def __init__(
        self,
        config: GraphConfig,
        client: httpx.AsyncClient,
        *,
        source: str,
        renew: str,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.source = source
        self.renew = renew
        self.sleep = sleep
        self.polite = Polite(
            client, config.http, source=source, allow_private=config.allow_private, sleep=sleep
        )
        token = config.access_token.get_secret_value()
        self.budget = (source, config.api_url, hashlib.sha256(token.encode()).hexdigest())
        self.headers = {"Authorization": f"Bearer {token}"}
        secret = config.app_secret.get_secret_value() if config.app_secret else None
        self.proof = {"appsecret_proof": appsecret_proof(token, secret)} if secret else {}

    async def call(
        self, method: str, path_or_url: str, *, needs: str, **params: str
    ) -> httpx.Response:
        """One call, paced by the last answer's usage; Graph's error object explained."""
        wait = _NOT_BEFORE.get(self.budget, 0.0) - time.time()
        if wait > self.config.http.max_wait_seconds:
            raise RetryLater(
                f"{self.source}: Meta's usage headers ask to wait {wait:.0f}s more",
                after_seconds=wait,
            )
        if wait > 0:
            log.info("%s: Graph usage is high; waiting %.1fs", self.source, wait)
            await self.sleep(wait)
        url = path_or_url if "://" in path_or_url else f"{self.config.api_url}{path_or_url}"
        fields = {"params" if method == "GET" else "data": {**params, **self.proof}}
        try:
            response = await self.polite.request(method, url, headers=self.headers, **fields)
        except SourceError as exc:
            what = f"{self.source}: {method} {url.split('?', 1)[0]}"
            error = graph_error(exc.body, what=what, renew=self.renew, needs=needs)
            raise (error or exc) from None
        delay = usage_delay(response.headers, step_seconds=self.config.usage_backoff_seconds)
        _NOT_BEFORE[self.budget] = time.time() + delay
        return response

    async def create(self, node: str, edge: str, *, needs: str, **fields: str) -> str:
        """POST a new object (a reply) on `node`'s `edge`; the platform's id of it."""
        response = await self.call(
            "POST", node_path(node, edge, self.source), needs=needs, **fields
        )
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise SourceError(
                f"{self.source}: POST {edge} on {node} answered without an id "
                f"({response.text[:120]!r})"
            ) from None

    async def pages(self, path: str, *, needs: str, **params: str) -> AsyncIterator[httpx.Response]:
        """The pages of a list in the API's order, at most `max_pages_per_poll` of them."""
        url, query = path, {"limit": str(self.config.page_limit), **params}
        for _ in range(self.config.max_pages_per_poll):
            response = await self.call("GET", url, needs=needs, **query)
            yield response
            following = self.next_page(response)
            if following is None:
                return
            url, query = following
        log.warning(
            "%s: %s: more than %d pages since the last poll, older ones skipped; raise "
            "max_pages_per_poll or poll more often",
            self.source,
            path,
            self.config.max_pages_per_poll,
        )

    def next_page(self, response: httpx.Response) -> tuple[str, dict[str, str]] | None:
        """Where the next page is: `paging.next` (which carries `after` for cursor paging,
        `until` and `__paging_token` for time paging); none there means the last page."""
        try:
            paging = response.json().get("paging") or {}
        except (ValueError, AttributeError):
            return None
        following = paging.get("next")
        if not isinstance(following, str) or not following:
            return None  # the last page (Graph may still give a cursor there)
        target = httpx.URL(following)
        if target.host != httpx.URL(self.config.api_url).host:
            log.warning(
                "%s: paging.next on another host, not followed: %s", self.source, redact(following)
            )
            return None
        query = {k: v for k, v in target.params.items() if k not in ("access_token", "pretty")}
        return str(target.copy_with(query=None)), query
