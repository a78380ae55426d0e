"""Email an alert through an SMTP server.

One message per alert step, all steps of an incident in one thread: the `open` step's
Message-ID is derived from the incident id, and later steps answer it (In-Reply-To,
References), so a mail client groups open, escalate and resolve; a redelivered step carries
the same Message-ID. smtplib blocks, so the delivery runs in a thread.

SMTP's own codes decide retrying: 4xx (greylisting, a full mailbox, a busy server), a dropped
connection or a timeout mean "later"; 5xx (a refused login, sender or every recipient), a
certificate the server cannot prove and a host the outbound address policy refuses
(core/outbound.py; unless the route says `allow_private: true`) mean never, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import NoReturn

from core import outbound
from core.config import EmailRoute
from core.errors import Refused, RetryLater, Undeliverable
from core.events import Alert
from core.redact import redact
from sinks import message

DOMAIN = "sada.alerts"  # right-hand side of the Message-IDs Sada makes

log = logging.getLogger(__name__)


def build(route: EmailRoute, alert: Alert) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.headline(alert)
    email["From"] = route.sender
    email["To"] = ", ".join(route.to)
    email["Date"] = formatdate(alert.raised_at.timestamp(), localtime=False, usegmt=True)
    thread = f"<{alert.id}@{DOMAIN}>"
    if alert.status == "open":
        email["Message-ID"] = thread
    else:
        stamp = alert.raised_at.strftime("%Y%m%dT%H%M%S")
        email["Message-ID"] = f"<{alert.id}/{alert.status}/{stamp}@{DOMAIN}>"
        email["In-Reply-To"] = thread
        email["References"] = thread
    email["X-Sada-Alert-Id"] = alert.id
    email.set_content("\n".join(message.lines(alert)) + "\n")
    return email


class _CheckedSMTP(smtplib.SMTP):
    """Connects only to an address of the host the outbound policy allows, the one checked."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return outbound.connect(host, port, timeout)


class _CheckedSMTPS(smtplib.SMTP_SSL, _CheckedSMTP):
    """Implicit TLS over `_CheckedSMTP`'s connection (SMTP_SSL wraps what its super opened)."""


async def notify(route: EmailRoute, alert: Alert) -> None:
    await send(route, build(route, alert))


async def send(route: EmailRoute, email: EmailMessage) -> None:
    """Deliver any message through the route (the console's weekly report too)."""
    await asyncio.to_thread(_send, route, email)


def _send(route: EmailRoute, email: EmailMessage) -> None:
    where = f"smtp {route.host}:{route.port}"
    context = None if route.security == "none" else _tls(route, where)
    plain, tls = (
        (smtplib.SMTP, smtplib.SMTP_SSL) if route.allow_private else (_CheckedSMTP, _CheckedSMTPS)
    )
    try:
        if route.security == "tls":
            smtp: smtplib.SMTP = tls(
                route.host, route.port, timeout=route.timeout_seconds, context=context
            )
        else:
            smtp = plain(route.host, route.port, timeout=route.timeout_seconds)
        with smtp:
            if route.security == "starttls":
                smtp.starttls(context=context)
            if route.username is not None and route.password is not None:
                smtp.login(route.username, route.password.get_secret_value())
            refused = smtp.send_message(email)
        if refused:  # the others have it; sending again would repeat it to them
            log.warning(
                "%s refused some recipients of alert %s: %s",
                where,
                email["X-Sada-Alert-Id"],
                refused,
            )
    except Refused as exc:
        raise Undeliverable(f"{where} not sent: {exc}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Undeliverable(f"{where}: {exc}; check `security` and the login") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        _by_code(where, min(codes), f"every recipient refused: {exc.recipients}")
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error
        _by_code(
            where, exc.smtp_code, said.decode(errors="replace") if isinstance(said, bytes) else said
        )
    except ssl.SSLCertVerificationError as exc:
        raise Undeliverable(f"{where}: {exc.verify_message}; set ca_file to trust it") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise RetryLater(redact(f"{where} unreachable: {type(exc).__name__} {exc}")) from None


def _tls(route: EmailRoute, where: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=route.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise Undeliverable(f"{where}: ca_file {route.ca_file} is unusable ({exc})") from None


def _by_code(where: str, code: int, said: str) -> NoReturn:
    text = redact(f"{where} answered {code} {said}")
    if 400 <= code < 500:
        raise RetryLater(text)
    raise Undeliverable(text)
