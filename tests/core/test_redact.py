"""The one redaction rule: secrets masked, the place they went to kept."""

from __future__ import annotations

import logging

import pytest

from core.redact import MASK, install, redact, register


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (
            "POST https://hooks.example.com/in?token=abc123def&v=2 failed",
            "abc123def",
            "hooks.example.com/in",
        ),
        ("https://alice:pa55word@mail.example.com:465", "pa55word", "mail.example.com:465"),
        (
            "https://hooks.slack.com/services/T0AAA/B0BBB/xoxbSECRETvalue",
            "xoxbSECRETvalue",
            "hooks.slack.com/services/",
        ),
        (
            "https://org.webhook.office.com/webhookb2/1234-abcd@99/IncomingWebhook/feed/77",
            "1234-abcd",
            "org.webhook.office.com",
        ),
        (
            "https://api.telegram.org/bot123456:AAE-planted-token/sendMessage",
            "AAE-planted-token",
            "/sendMessage",
        ),
        (
            "token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 left",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
            "left",
        ),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi", "Authorization"),
        ('{"password": "hunter2", "user": "bob"}', "hunter2", '"user": "bob"'),
        ("smtp login failed: password=opensesame", "opensesame", "smtp login failed"),
        (
            "https://discord.com/api/webhooks/12/Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
            "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
            "discord.com/api/webhooks/12",
        ),
    ],
)
def test_secrets_are_masked_and_the_place_kept(text: str, secret: str, kept: str) -> None:
    masked = redact(text)
    assert secret not in masked and MASK in masked
    assert kept in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "negative share 48% against the usual 0% for northwind/skyline-air: author: sam"
    assert redact(text) == text
    advice = "x: X refused the bearer token (HTTP 401); renew the Bearer token or basic auth"
    assert redact(advice) == advice  # what to renew is said, not a secret


def test_a_registered_secret_is_masked_wherever_it_appears() -> None:
    register(["plain-looking-secret"])
    assert "plain-looking-secret" not in redact("chat said: plain-looking-secret!")


def test_log_records_are_redacted_message_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    install()
    log = logging.getLogger("tests.redact")
    try:
        raise RuntimeError("refused https://x.example/?token=tb-secret-1")
    except RuntimeError:
        log.exception("send to %s failed", "https://x.example/hook?token=msg-secret-2")
    text = caplog.text
    assert "msg-secret-2" not in text and "tb-secret-1" not in text
    assert "x.example" in text


def test_file_paths_are_not_mistaken_for_keys() -> None:
    text = "/tmp/pytest-of-root/test_replay_through_the_whole_0/stream.jsonl:3: not a valid Mention"
    assert redact(text) == text


def test_a_redacted_record_survives_formatters_that_rework_its_args() -> None:
    """Faust's formatter (mode) wraps a non-tuple `args` in a tuple and formats again."""
    install()
    record = logging.getLogger("tests.redact").makeRecord(
        "tests.redact", logging.WARNING, __file__, 1, "sale: %s", ("50% off",), None
    )
    if not isinstance(record.args, tuple):  # what mode's formatter does
        record.args = (record.args,)
    assert record.getMessage() == "sale: 50% off"
