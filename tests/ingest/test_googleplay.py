"""Google Play reviews against a local double of the Play Developer API and Google's token endpoint.

Fixture: googleplay_reviews_list.json is written by the project in the shape of
https://developers.google.com/android-publisher/api-ref/rest/v3/reviews/list (ReviewsListResponse:
`reviews[]`, `tokenPagination.nextPageToken`, `pageInfo`) and its Review resource
(`reviewId`, `authorName`, `comments[].userComment` with `text` — title and body separated by a
tab —, `lastModified.seconds`, `starRating`, `reviewerLanguage`, `device`, `deviceMetadata`,
`thumbsUpCount`; `comments[].developerComment`). The token exchange follows
https://developers.google.com/identity/protocols/oauth2/service-account#httprest (a JWT signed
RS256 with the account's key, grant type urn:ietf:params:oauth:grant-type:jwt-bearer). The double
checks the JWT's signature with the public half of a key pair generated here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.errors import Rejected, SourceError
from core.events import Mention, make_uid, now
from ingest import googleplay
from ingest.cursor import CursorStore
from ingest.http import HttpPolicy
from tests.ingest.support import SHARED, ReplayServer, Reply, Sleeps, fixture, only_mentions
from tests.ingest.test_appstore import cli_dry_run

PAGE = fixture("googleplay_reviews_list.json")
PKG = "com.acmebank.mobile"
REVIEWS = f"/androidpublisher/v3/applications/{PKG}/reviews"
EMPTY = b"{}"  # what reviews.list answers when there is nothing (no `reviews` key)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Google(ReplayServer):
    """The API's paths replayed as scripted; the token endpoint really checks the assertion:
    RS256 signature by the service account's key, issuer, audience, scope and lifetime."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []
        self.assertions: list[dict[str, object]] = []

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        header, claims, signature = str(form["assertion"]).split(".")
        try:
            KEY.public_key().verify(
                _unb64(signature),
                f"{header}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status=400,
            )
        head, body = json.loads(_unb64(header)), json.loads(_unb64(claims))
        self.assertions.append(body)
        if (
            head != {"alg": "RS256", "typ": "JWT"}
            or body["iss"] != "sada@acme-play.iam.gserviceaccount.com"
            or body["aud"] != self.url("/token")
            or body["scope"] != "https://www.googleapis.com/auth/androidpublisher"
            or not 0 < body["exp"] - body["iat"] <= 3600
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.issued.append(f"ya29.issued-{len(self.issued) + 1}")
        return web.json_response(
            {"access_token": self.issued[-1], "expires_in": 3599, "token_type": "Bearer"}
        )


@pytest.fixture
async def google() -> AsyncIterator[Google]:
    double = Google()
    app = web.Application()
    app.router.add_post("/token", double.token)
    app.router.add_route("*", "/{tail:.*}", double.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    double.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield double
    await runner.cleanup()


def config(google: Google, key: rsa.RSAPrivateKey = KEY, **kw: object) -> googleplay.Config:
    values: dict[str, object] = {
        "package_names": [PKG],
        "client_email": "sada@acme-play.iam.gserviceaccount.com",
        "private_key": _pem(key),
        "api_url": google.url(),
        "token_url": google.url("/token"),
        "http": HttpPolicy(requests_per_second_per_host=1000, timeout_seconds=0.5),
        "allow_private": True,  # the local double
    }
    return googleplay.Config.model_validate({**values, **kw})


def test_parse_maps_reviews_and_the_developer_reply() -> None:
    fetched = now()
    review, developer, arabizi, english = only_mentions(
        googleplay.parse(PAGE, package=PKG, fetched_at=fetched)
    )
    assert review == Mention(
        uid=make_uid("googleplay", "gp:AOqpTOH-ar-1"),
        source="googleplay",
        source_id="gp:AOqpTOH-ar-1",
        url=f"https://play.google.com/store/apps/details?id={PKG}&reviewId=gp:AOqpTOH-ar-1",
        author={"handle": "نورة"},  # type: ignore[arg-type]
        text="★★★☆☆ التطبيق ممتاز\n\n\u200fبس التحويل الدولي ياخذ وقت طويل 😕 والرقم "
        "\u2066+966 5x\u2069 ما وصله رمز\u200f",
        language_hint="ar",
        created_at=datetime.fromtimestamp(1796032800, UTC),
        fetched_at=fetched,
        engagement={"likes": 4},  # type: ignore[arg-type]
        parent_id=PKG,
        reply_target=f"{PKG}/gp:AOqpTOH-ar-1",
        edited_at=None,
    )
    assert developer.source_id == "gp:AOqpTOH-ar-1/reply"
    assert developer.parent_id == "gp:AOqpTOH-ar-1" and developer.reply_target is None
    assert developer.author.handle == PKG and developer.author.name == "developer"
    assert developer.text == "أهلاً نورة، نعتذر عن التأخير، تواصلي معنا عبر الخاص 🙏"
    assert developer.created_at == datetime.fromtimestamp(1796036400, UTC)
    assert arabizi.text == "★☆☆☆☆ el app beye2fel lw7do kol shwaya 😡😡"
    assert arabizi.language_hint == "ar-EG"
    assert english.author.handle == "A Google user" and english.engagement.likes == 12


def test_malformed_reviews_are_rejected_and_their_neighbours_parse() -> None:
    page = json.loads(PAGE)
    page["reviews"][1]["comments"][0]["userComment"]["starRating"] = 0
    del page["reviews"][2]["comments"]
    items = googleplay.parse(json.dumps(page), package=PKG, fetched_at=now())
    assert [i.reason for i in items if isinstance(i, Rejected)] == [
        "googleplay: ValueError: a star rating is 1 to 5, not 0",
        "googleplay: missing or malformed field 'userComment'",
    ]
    assert len([i for i in items if isinstance(i, Mention)]) == 2
    (bad,) = googleplay.parse(b'{"reviews": {"x": 1}}', package=PKG, fetched_at=now())
    assert isinstance(bad, Rejected) and "not a list of reviews" in bad.reason
    assert googleplay.parse(EMPTY, package=PKG, fetched_at=now()) == []


def test_the_recorded_review_maps() -> None:
    path = SHARED / "googleplay_review_object_with_developer_reply_2017_REPORTED.json"
    if not path.exists():
        pytest.skip("shared recorded fixtures absent")
    page = json.dumps({"reviews": [json.loads(path.read_text())]})
    user, developer = only_mentions(
        googleplay.parse(page, package="com.urbandroid.sleep", fetched_at=now())
    )
    assert user.text.startswith("★★★☆☆ WHAT KIND OF ALARM TIMES OUT WHEN YOU DON'T TOUCH IT.")
    assert user.author.handle == "Joe Bergmann" and user.language_hint == "en-US"
    assert user.created_at == datetime.fromtimestamp(1486482936, UTC)
    assert user.reply_target == f"com.urbandroid.sleep/{user.source_id}"
    assert developer.parent_id == user.source_id
    assert developer.text.startswith("The delay for the alarm to time out is 20 min")


async def test_fetch_signs_in_pages_renews_on_401_and_resumes(
    google: Google, client: httpx.AsyncClient, sleeps: Sleeps, tmp_path: Path
) -> None:
    second = json.loads(PAGE)
    second["reviews"] = second["reviews"][2:]
    second["reviews"][0]["reviewId"] = "gp:AOqpTOH-older-4"
    second.pop("tokenPagination")
    google.script(
        REVIEWS,
        Reply(200, PAGE),
        Reply(429, "", {"Retry-After": "4"}),
        Reply(401, '{"error": {"code": 401, "status": "UNAUTHENTICATED"}}'),
        Reply(200, json.dumps(second)),
    )
    cfg = config(google, translation_language="ar")
    items = [
        i async for i in googleplay.fetch(cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps)
    ]
    assert len(only_mentions(items)) == 5
    first, *_, last = google.seen(REVIEWS)
    assert first.headers["Authorization"] == "Bearer ya29.issued-1"
    assert first.query == {"maxResults": "100", "translationLanguage": "ar"}
    assert last.headers["Authorization"] == "Bearer ya29.issued-2"  # renewed after the 401
    assert last.query["token"] == "Cg0I8Nb7ygYQgJC6sQM"
    assert any(3.9 < s <= 4 for s in sleeps.calls)

    # Next round: one review edited by its author; the cursor stops on page 1.
    edited = json.loads(PAGE)
    comment = edited["reviews"][1]["comments"][0]["userComment"]
    comment.update(text="ba2a kwayes ba3d el update", starRating=4)
    comment["lastModified"]["seconds"] = "1796040000"
    google.script(REVIEWS, Reply(200, json.dumps(edited)))
    again = only_mentions(
        [
            i
            async for i in googleplay.fetch(
                cfg, client, cursors=CursorStore(tmp_path), sleep=sleeps
            )
        ]
    )
    assert [(m.uid, m.text, m.created_at, m.edited_at) for m in again] == [
        (
            make_uid("googleplay", "gp:AOqpTOH-arabizi-2"),
            "★★★★☆ ba2a kwayes ba3d el update",
            datetime.fromtimestamp(1796029200, UTC),
            datetime.fromtimestamp(1796040000, UTC),
        )
    ]


async def test_a_key_google_does_not_know_says_what_to_renew(
    google: Google,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    google.script(REVIEWS, Reply(200, PAGE))
    cfg = config(google, key=OTHER_KEY)  # signed by a key that is not the account's
    assert [i async for i in googleplay.fetch(cfg, client, sleep=sleeps)] == []
    assert "Invalid JWT Signature." in caplog.text
    assert "renew the service account key" in caplog.text
    assert "PRIVATE KEY" not in caplog.text and google.seen(REVIEWS) == []
    with pytest.raises(SourceError, match="private_key is not a PEM private key"):
        googleplay.signed_jwt(config(google, private_key="not a key"), 0)


async def test_a_service_account_without_permission_is_explained(
    google: Google, client: httpx.AsyncClient, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    google.script(REVIEWS, Reply(403, '{"error": {"code": 403, "status": "PERMISSION_DENIED"}}'))
    assert [i async for i in googleplay.fetch(config(google), client, sleep=sleeps)] == []
    assert "invite sada@acme-play.iam.gserviceaccount.com in Play Console" in caplog.text


async def test_reply_posts_the_developer_answer(google: Google, client: httpx.AsyncClient) -> None:
    path = f"{REVIEWS}/gp:AOqpTOH-ar-1:reply"
    google.script(
        path,
        Reply(200, json.dumps({"result": {"replyText": "…", "lastEdited": {"seconds": "1"}}})),
    )
    text = "\u200fأهلاً نورة، تم حل مشكلة التحويل 🙏"
    target = f"{PKG}/gp:AOqpTOH-ar-1"
    assert await googleplay.reply(config(google), client, target, text) == "gp:AOqpTOH-ar-1/reply"
    (post,) = google.seen(path)
    assert post.headers["Authorization"] == "Bearer ya29.issued-1"
    assert json.loads(post.body) == {"replyText": text}
    with pytest.raises(ValueError, match="at most 350 characters"):
        await googleplay.reply(config(google), client, target, "ش" * 351)
    with pytest.raises(SourceError, match="not <package>/<reviewId> of a configured package"):
        await googleplay.reply(config(google), client, "com.other/gp:1", "hi")


async def test_dry_run_from_the_command_line(google: Google) -> None:
    google.script(REVIEWS, Reply(200, PAGE))
    records, err = await cli_dry_run(
        "googleplay",
        {
            "package_names": f'["{PKG}"]',
            "client_email": "sada@acme-play.iam.gserviceaccount.com",
            "private_key": json.dumps(_pem(KEY)),
            "api_url": google.url(),
            "token_url": google.url("/token"),
            "allow_private": "true",
        },
    )
    assert [r["source_id"] for r in records][:2] == ["gp:AOqpTOH-ar-1", "gp:AOqpTOH-ar-1/reply"]
    assert "googleplay: 4 mentions, 0 dead-lettered" in err
    assert "PRIVATE KEY" not in err
