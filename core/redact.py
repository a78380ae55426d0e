"""The one redaction rule: what a secret looks like, removed from anything a person or index sees.

Logs, exception texts, dead letters, metric labels and `sada config check` output all pass
through `redact`. It masks, wherever they appear in free text:

- URL userinfo (`https://user:pass@host` -> `https://***@host`) and every query value
  (`?token=abc&x=1` -> `?token=***&x=***`);
- tokens carried in URL paths: Slack's `/services/...`, Teams' `/webhookb2/...` and
  `/IncomingWebhook/...`, Telegram's `/bot<token>/`, and any path segment that looks like a
  key (20+ characters with letters and digits); file paths outside URLs are left alone;
- `Bearer`/`Basic` credentials, and `password`/`token`/`secret`/`api_key`-style assignments
  (`key=value`, `key: value`, `"key": "value"`);
- Telegram bot tokens on their own (`123456:ABC...`);
- any value registered with `register` (the clients file's secrets, when it is loaded), so a
  secret that follows no pattern is masked too.

Only the secret is masked: scheme, host and port stay, so a message still says where it went.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
_MIN_REGISTERED = 6  # shorter values would mask ordinary words

_known: set[str] = set()
_lock = threading.Lock()

_SECRET_NAMES = r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth|sig|signature|client[_-]?secret)"
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+")
_IN_URLS: list[tuple[re.Pattern[str], str]] = [
    # userinfo
    (re.compile(r"^([^:]+://)[^/@]+@"), rf"\1{MASK}@"),
    # every value of the query string
    (re.compile(r"(?<=[?&])([^=&#]+)=[^&#]*"), rf"\1={MASK}"),
    # tokens in well-known webhook paths
    (re.compile(r"(?i)(/services/)[^?#]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(/webhookb2/|/IncomingWebhook/)[^?#]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(/bot)[^/?#]+"), rf"\1{MASK}"),
    # a path segment that looks like a key: 20+ letters and digits, both
    (re.compile(r"(?<=/)(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}(?=[/?#]|$)"), MASK),
]
_IN_TEXT: list[tuple[re.Pattern[str], str]] = [
    # HTTP credentials
    # (not prose about one: "renew the bearer token")
    (
        re.compile(
            r"(?i)\b(bearer|basic)\s+(?!(?:tokens?|credentials?|auth)\b)[A-Za-z0-9._~+/=-]+"
        ),
        rf"\1 {MASK}",
    ),
    # secret-named assignments: key=value, key: value, "key": "value"
    (
        re.compile(rf"(?i)(\"?\b[a-z_-]*{_SECRET_NAMES}\"?\s*[:=]\s*\"?)[^\s\"',;&}}]+"),
        rf"\1{MASK}",
    ),
    # Telegram bot tokens on their own
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"), MASK),
]


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    for pattern, replacement in _IN_URLS:
        url = pattern.sub(replacement, url)
    return url


def register(values: Iterable[str | None]) -> None:
    """Remember secret values (tokens, passwords, webhook URLs) so `redact` masks them anywhere."""
    with _lock:
        _known.update(v for v in values if v and len(v) >= _MIN_REGISTERED)


def redact(text: str) -> str:
    """`text` with every secret masked (see the module docstring for what counts as one)."""
    for known in sorted(_known, key=len, reverse=True):  # a URL before the token inside it
        if known in text:
            text = text.replace(known, MASK)
    text = _URL.sub(_url, text)
    for pattern, replacement in _IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Redact every log record at its creation, whoever logs it (ours, Faust, the Kafka clients)
    and whichever handler writes it: the message and the traceback are masked once, here."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.msg, record.args = redact(record.getMessage()), ()  # formatters re-read args
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
