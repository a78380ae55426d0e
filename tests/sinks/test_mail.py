"""Email alerts through a real local SMTP server (aiosmtpd): plain, STARTTLS with login, TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.config import EmailRoute
from core.errors import RetryLater, Undeliverable
from core.events import Alert
from sinks import mail, message
from tests.sinks.support import Inbox, free_port


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ops", b"s3cret")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def starttls(ca: trustme.CA) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(ca),
        require_starttls=True,
        authenticator=_login,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def route(port: int, **fields: Any) -> EmailRoute:
    values = {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "sada@agency.example",
        "to": ["ops@agency.example", "pr@client.example"],
        "allow_private": True,  # the local server
    }
    return EmailRoute.model_validate({**values, **fields})


async def test_each_step_is_a_mail_in_the_incidents_thread(
    smtp: tuple[Inbox, int], alert: Alert
) -> None:
    inbox, port = smtp
    opened = alert.model_copy(update={"status": "open"})
    await mail.notify(route(port), opened)
    await mail.notify(route(port), alert)  # the escalate step
    first, second = inbox.messages
    assert first["Subject"] == message.headline(opened)
    assert first["From"] == "sada@agency.example"
    assert first["To"] == "ops@agency.example, pr@client.example"
    assert first["Message-ID"] == f"<{alert.id}@sada.alerts>"
    assert second["In-Reply-To"] == second["References"] == first["Message-ID"]
    assert second["Message-ID"] != first["Message-ID"]
    body = second.get_content()
    assert "to answer: 17 complaints, 1 question (of 18 mentions)" in body
    assert "rising terms: الرحلة, service, متاخرة" in body


async def test_starttls_and_login_with_a_private_ca(
    starttls: tuple[Inbox, int], alert: Alert, ca_file: Path
) -> None:
    inbox, port = starttls
    await mail.notify(
        route(port, security="starttls", username="ops", password="s3cret", ca_file=ca_file),
        alert,
    )
    assert len(inbox.messages) == 1


async def test_a_wrong_password_is_never_retried(
    starttls: tuple[Inbox, int], alert: Alert, ca_file: Path
) -> None:
    _, port = starttls
    wrong = route(port, security="starttls", username="ops", password="nope", ca_file=ca_file)
    with pytest.raises(Undeliverable, match="535"):
        await mail.notify(wrong, alert)


async def test_an_untrusted_certificate_says_to_set_ca_file(
    starttls: tuple[Inbox, int], alert: Alert
) -> None:
    _, port = starttls
    with pytest.raises(Undeliverable, match="set ca_file"):
        await mail.notify(route(port, security="starttls"), alert)


async def test_implicit_tls(ca: trustme.CA, ca_file: Path, alert: Alert) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=_server_context(ca))
    controller.start()
    try:
        await mail.notify(route(port, security="tls", ca_file=ca_file), alert)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("where", "answer", "error"),
    [
        ("data", "451 4.3.0 try again later", RetryLater),
        ("rcpt", "450 4.2.1 mailbox busy", RetryLater),
        ("rcpt", "550 5.1.1 no such user", Undeliverable),
        ("data", "554 5.7.1 rejected as spam", Undeliverable),
    ],
)
async def test_smtp_codes_decide_retry_or_dead_letter(
    smtp: tuple[Inbox, int], alert: Alert, where: str, answer: str, error: type[Exception]
) -> None:
    inbox, port = smtp
    setattr(inbox, where, answer)
    with pytest.raises(error, match=answer.split()[0]):
        await mail.notify(route(port), alert)


async def test_an_unreachable_server_means_retry(alert: Alert) -> None:
    with pytest.raises(RetryLater, match="unreachable"):
        await mail.notify(route(free_port(), timeout_seconds=2), alert)


async def test_a_missing_ca_file_is_never_retried(alert: Alert, tmp_path: Path) -> None:
    with pytest.raises(Undeliverable, match="ca_file .* is unusable"):
        await mail.notify(route(25, security="tls", ca_file=tmp_path / "no.pem"), alert)


def test_a_login_needs_both_halves() -> None:
    with pytest.raises(ValueError, match="both username and password"):
        route(25, username="ops")


def test_addresses_are_checked_with_the_fix_in_the_message() -> None:
    with pytest.raises(ValueError, match="'ops at agency' is not an email address"):
        route(25, to=["ops at agency"])


async def test_a_server_the_address_policy_refuses_is_never_tried(
    smtp: tuple[Inbox, int], alert: Alert
) -> None:
    inbox, port = smtp
    with pytest.raises(Undeliverable, match="127.0.0.1 is a loopback address") as raised:
        await mail.notify(route(port, allow_private=False), alert)
    assert "allow_private: true" in str(raised.value)
    assert inbox.messages == []
