"""Google Play reviews of the brand's apps, through the Play Developer API (`reviews.list`).

The API serves only the reviews created or changed in the last week, newest first, with
`token` pagination (`tokenPagination.nextPageToken`). It needs a Google Cloud service account
invited in Play Console to the app with "View app information" (and "Reply to reviews" for
replies). Sada signs a JWT (RS256) with the account's private key and exchanges it at the
token endpoint for an access token (scope androidpublisher), renewed before it expires and
once on a 401.

Each round reads every package from the newest review until a page holds one already produced
unchanged; a review whose author changed it (same id, new text or stars) is produced again with
the same uid and `edited_at`. The text is the review's (a title and body arrive separated by a
tab: they become title, blank line, body) led by its stars as glyphs, as for the App Store.
The developer's reply, when there is one, is produced as a mention of its own under the review.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, SecretStr

from core.errors import Rejected, SourceError
from core.events import Author, Engagement, Mention, make_uid, now
from ingest import polling
from ingest.appstore import Reviews, stars
from ingest.convert import from_epoch
from ingest.cursor import CursorStore, Progress
from ingest.http import HttpPolicy, Polite, Sleep, SourceConfig
from ingest.parsing import Item, each, field, load_json, text_of
from ingest.polling import accept_page, each_target
from ingest.source import Source
from ingest.youtube import google_token

NAME = "googleplay"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
REPLY_MAX = 350  # characters Google Play allows in a developer reply


class Config(SourceConfig):
    URL_FIELDS = ("api_url", "token_url")

    package_names: list[str] = Field(
        min_length=1, description="The apps' package names (com.example.app)."
    )
    client_email: str = Field(
        min_length=3, description="The service account's client_email (from its JSON key)."
    )
    private_key: SecretStr = Field(
        description="The service account's private_key (PEM, from its JSON key)."
    )
    translation_language: str | None = Field(
        default=None, description="Ask Google to translate reviews into this language (e.g. ar)."
    )
    api_url: str = Field(
        default="https://androidpublisher.googleapis.com", description="Play Developer API root."
    )
    token_url: str = Field(
        default="https://oauth2.googleapis.com/token",
        description="The key's token_uri, where the signed JWT is exchanged.",
    )
    max_pages_per_poll: polling.MaxPagesPerPoll = 10
    poll_interval_seconds: polling.PollIntervalSeconds = 900.0
    http: polling.Politeness = HttpPolicy()


def parse(payload: bytes | str, *, package: str, fetched_at: datetime) -> list[Item]:
    """A `reviews.list` answer to mentions: each user comment, and the developer's reply."""
    body = load_json(payload, NAME)
    if isinstance(body, Rejected):
        return [body]
    if not isinstance(body, dict) or not isinstance(body.get("reviews", []), list):
        return [Rejected(payload=text_of(payload), reason=f"{NAME}: not a list of reviews")]
    return each(
        _comments(body.get("reviews", [])),
        lambda p: _mention(p[0], p[1], package, fetched_at),
        NAME,
    )


def _comments(reviews: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(review, comment) for every comment of every review (user's, then developer's)."""
    for review in reviews:
        comments = review.get("comments") if isinstance(review, dict) else None
        for comment in comments if isinstance(comments, list) and comments else [None]:
            yield review, comment


def _mention(review: Any, comment: Any, package: str, fetched_at: datetime) -> Mention:
    review_id = str(field(review, "reviewId"))
    if "developerComment" in (comment or {}):
        reply = field(comment, "developerComment")
        return Mention(
            uid=make_uid(NAME, f"{review_id}/reply"),
            source=NAME,
            source_id=f"{review_id}/reply",
            url=_url(package, review_id),
            author=Author(handle=package, name="developer"),
            text=str(field(reply, "text")),
            created_at=from_epoch(field(reply, "lastModified", "seconds")),
            fetched_at=fetched_at,
            parent_id=review_id,
        )
    user = field(comment, "userComment")
    text = str(field(user, "text")).strip().replace("\t", "\n\n", 1)
    # translated (translation_language): the text is Google's translation, not the author's
    language = None if "originalText" in user else user.get("reviewerLanguage")
    return Mention(
        uid=make_uid(NAME, review_id),
        source=NAME,
        source_id=review_id,
        url=_url(package, review_id),
        author=Author(handle=str(review.get("authorName") or "anonymous")),
        text=f"{stars(field(user, 'starRating'))} {text}",
        language_hint=str(language).replace("_", "-") if language else None,
        created_at=from_epoch(field(user, "lastModified", "seconds")),
        fetched_at=fetched_at,
        engagement=Engagement(likes=int(user.get("thumbsUpCount") or 0)),
        parent_id=package,
        reply_target=f"{package}/{review_id}",
    )


def _url(package: str, review_id: str) -> str:
    return f"https://play.google.com/store/apps/details?id={package}&reviewId={review_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(config: Config, at: float) -> str:
    """The service account's assertion (RFC 7523) for the androidpublisher scope, RS256."""
    try:
        key = serialization.load_pem_private_key(
            config.private_key.get_secret_value().encode(), password=None
        )
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"{NAME}: private_key is not a PEM private key ({type(exc).__name__}); paste the "
            "private_key of the service account's JSON key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SourceError(f"{NAME}: private_key is not an RSA key; use the service account's key")
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {
        "iss": config.client_email,
        "scope": SCOPE,
        "aud": config.token_url,
        "iat": int(at),
        "exp": int(at) + 3600,
    }
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class _Token:
    """The access token, got with a fresh assertion on first use and again before it expires."""

    def __init__(self, config: Config, polite: Polite) -> None:
        self.config, self.polite = config, polite
        self.value, self.expires_at = "", 0.0

    async def header(self, *, renew: bool = False) -> dict[str, str]:
        if renew or time.time() >= self.expires_at:
            self.value, lifetime = await google_token(
                self.polite,
                self.config.token_url,
                {
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": signed_jwt(self.config, time.time()),
                },
                "renew the service account key (client_email, private_key) in Google Cloud",
            )
            self.expires_at = time.time() + lifetime - 60
        return {"Authorization": f"Bearer {self.value}"}


async def _call(token: _Token, polite: Polite, method: str, url: str, **kw: Any) -> httpx.Response:
    """One API call; a 401 renews the token once; 401/403 then say what to fix."""
    try:
        try:
            return await polite.request(method, url, headers=await token.header(), **kw)
        except SourceError as exc:
            if exc.status != 401:
                raise
            return await polite.request(method, url, headers=await token.header(renew=True), **kw)
    except SourceError as exc:
        if exc.status in (401, 403):
            raise SourceError(
                f"{NAME}: {url.split('?', 1)[0]} refused the service account (HTTP "
                f"{exc.status}); invite {token.config.client_email} in Play Console (Users and "
                "permissions) to the app with View app information, and Reply to reviews for "
                "replies, and check the Google Play Android Developer API is enabled",
                status=exc.status,
                body=exc.body,
            ) from None
        raise


async def fetch(
    config: Config,
    client: httpx.AsyncClient,
    *,
    cursors: CursorStore | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Item]:
    """One round: each package newest first, until a page holds a review already produced."""
    progress = Progress(NAME, config, cursors=cursors)
    polite = Polite(
        client, config.http, source=NAME, allow_private=config.allow_private, sleep=sleep
    )
    token = _Token(config, polite)

    async def run(package: str) -> AsyncIterator[Item]:
        reviews = Reviews(progress.get(package), keep=10_000)
        url = f"{config.api_url}/androidpublisher/v3/applications/{package}/reviews"
        params = {"maxResults": "100"}
        if config.translation_language:
            params["translationLanguage"] = config.translation_language
        for _ in range(config.max_pages_per_poll):
            response = await _call(token, polite, "GET", url, params=params)
            parsed = parse(response.content, package=package, fetched_at=now())
            items = accept_page(NAME, url, parsed, response.content)
            reached_cursor = False
            for item in items:
                if not isinstance(item, Mention):
                    yield item
                elif (admitted := reviews.admit(item)) is not None:
                    yield admitted
                else:
                    reached_cursor = True
            page_token = _next_page(response)
            if reached_cursor or not page_token:
                break
            params["token"] = page_token
        progress.save(package, reviews.state())

    async for item in each_target(NAME, config.package_names, run):
        yield item


def _next_page(response: httpx.Response) -> str | None:
    try:
        page_token = response.json()["tokenPagination"]["nextPageToken"]
    except (ValueError, KeyError, TypeError):
        return None
    return page_token if isinstance(page_token, str) and page_token else None


async def reply(config: Config, client: httpx.AsyncClient, target: str, text: str) -> str:
    """Answers the review `target` (`<package>/<reviewId>`) as the developer; a new reply
    replaces the earlier one. Returns the review's reply id, `<reviewId>/reply`."""
    package, _, review_id = target.partition("/")
    if not review_id or package not in config.package_names:
        raise SourceError(
            f"{NAME}: reply target {target!r} is not <package>/<reviewId> of a configured "
            f"package ({', '.join(config.package_names)})"
        )
    if len(text) > REPLY_MAX:
        raise ValueError(f"{NAME}: a reply is at most {REPLY_MAX} characters, this one {len(text)}")
    once = config.http.model_copy(update={"max_attempts": 1})
    polite = Polite(client, once, source=NAME, allow_private=config.allow_private)
    url = f"{config.api_url}/androidpublisher/v3/applications/{package}/reviews/{review_id}:reply"
    await _call(_Token(config, polite), polite, "POST", url, json={"replyText": text})
    return f"{review_id}/reply"


SOURCE = Source(NAME, Config, fetch, "polling", reply=reply)
