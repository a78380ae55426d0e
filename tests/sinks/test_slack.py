from __future__ import annotations

import httpx
import pytest

from core.config import SlackRoute
from core.errors import RetryLater, Undeliverable
from core.events import Alert
from sinks import slack
from tests.sinks.support import Answer, Scripted

SECRET_PATH = "/services/T0000/B0000/sadatestsecret"


async def test_the_alert_posts_as_escaped_mrkdwn_with_a_bold_headline(
    scripted: Scripted, alert: Alert
) -> None:
    route = SlackRoute.model_validate({"type": "slack", "url": scripted.base_url + SECRET_PATH})
    async with httpx.AsyncClient() as client:
        await slack.notify(client, route, alert)
    (post,) = scripted.posted
    assert post.path == SECRET_PATH
    sent = post.json()
    first, *rest = sent["text"].split("\n")
    assert first == "*🚨 CRITICAL · northwind/skyline-air · negative share spike (escalate)*"
    assert "rising terms: الرحلة, service, متاخرة" in rest
    assert (
        rest[-2] == "top negative mentions: https://bsky.app/profile/a/post/1?x=1&amp;y=&lt;2&gt;"
    )
    assert rest[-1] == f"incident {alert.id}"
    assert sent["unfurl_links"] is False


@pytest.mark.parametrize(
    ("answer", "error", "said"),
    [
        (Answer(404, "no_service"), Undeliverable, "refused the alert: 404 no_service"),
        (Answer(400, "invalid_payload"), Undeliverable, "400 invalid_payload"),
        (Answer(429, "rate_limited", {"Retry-After": "30"}), RetryLater, "answered 429"),
        (Answer(500, "oops"), RetryLater, "answered 500"),
    ],
)
async def test_slack_answers_decide_retry_or_dead_letter_without_leaking_the_url(
    scripted: Scripted, alert: Alert, answer: Answer, error: type[Exception], said: str
) -> None:
    scripted.answers.append(answer)
    route = SlackRoute.model_validate({"type": "slack", "url": scripted.base_url + SECRET_PATH})
    async with httpx.AsyncClient() as client:
        with pytest.raises(error, match=said) as raised:
            await slack.notify(client, route, alert)
    assert "sadatestsecret" not in str(raised.value)
    assert "slack webhook at 127.0.0.1" in str(raised.value)
    if isinstance(raised.value, RetryLater) and answer.status == 429:
        assert raised.value.after_seconds == 30
