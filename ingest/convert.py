"""Small pure helpers every source parser shares: markup to text, canonical links, timestamps.

Sources disagree on how they send text (HTML, entities, plain), links (tracking parameters) and
time (ISO, RFC 822 in any language, epoch seconds as int, float or string); these helpers turn
each into the one form a `Mention` carries, and raise `ValueError` with the reason otherwise.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
    }
)
_SKIPPED = frozenset({"script", "style", "template", "head"})
_VOID = frozenset(
    {
        "br",
        "hr",
        "img",
        "input",
        "meta",
        "link",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "wbr",
        "param",
    }
)


class _TextExtractor(HTMLParser):
    """Collects visible text; elements hidden by Mastodon's `invisible` class are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: list[str] = []  # open tags whose content is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self.parts.append("\n")
            return
        if self._hidden:
            self._hidden.append(tag)
            return
        classes = next((v or "" for k, v in attrs if k == "class"), "").split()
        if tag in _SKIPPED or "invisible" in classes:
            self._hidden.append(tag)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._hidden:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            if tag in self._hidden:
                while self._hidden and self._hidden.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


# The fast path: the markup sources send (paragraphs, links, breaks, Mastodon's invisible spans
# holding plain text) is split on its tags by one regular expression (possessive, so a stray `<`
# cannot make it backtrack; its loop unrolled, attribute text then a quoted value, which is
# faster), which also gives the tag names that choose the path; anything else (scripts,
# comments, other hidden elements) goes to the parser.
_INVISIBLE_SPAN = re.compile(r'<span class="invisible">[^<]*</span>')
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*+)[^>\"']*+(?:(?:\"[^\"]*+\"|'[^']*+')[^>\"']*+)*+>")
_TAG_TEXT = {"br": "\n", **dict.fromkeys(_BLOCKS, "\n\n")}  # what a tag reads as; others ""


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: entities decoded, blocks as blank lines, spaces folded."""
    if "<" in markup:
        simple = _INVISIBLE_SPAN.sub("", markup) if "invisible" in markup else markup
        parts = _TAG.split(simple)  # text, tag name, text, tag name, ..., text
        names = {name.lower() for name in set(parts[1::2])}
        if "<!" in simple or "invisible" in simple or not names.isdisjoint(_SKIPPED):
            parser = _TextExtractor()
            parser.feed(markup)
            parser.close()
            return _tidy("".join(parser.parts))
        if not names.isdisjoint(_TAG_TEXT):
            parts[1::2] = [_TAG_TEXT.get(name.lower(), "") for name in parts[1::2]]
            markup = "".join(parts)
        else:
            markup = "".join(parts[::2])
    return _tidy(html.unescape(markup) if "&" in markup else markup)


def _tidy(text: str) -> str:
    """Spaces folded to one, a line break kept, two or more kept as one blank line; trimmed."""
    if "\n" not in text:
        return " ".join(text.split())
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        if words := " ".join(line.split()):
            if lines:
                lines.append("\n\n" if blank else "\n")
            lines.append(words)
            blank = False
        else:
            blank = True
    return "".join(lines)


_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|igshid|ref_src)$", re.IGNORECASE)
_URL = re.compile(r"^(https?)://([^/?#\s]+)([^?#\s]*)(?:\?([^#\s]*))?(?:#\S*)?$", re.IGNORECASE)


def canonical_url(url: str | None) -> str | None:
    """The link without tracking parameters or fragment, scheme and host lower-cased.

    Two mentions of one article then carry one URL, which is what dedupe and people compare.
    The rest is kept byte for byte (no re-encoding), so a URL has one canonical form.
    """
    match = _URL.match(url.strip()) if url else None
    if match is None:
        return None
    scheme, host, path, query = match.groups()
    if query:
        query = "&".join(
            p for p in query.split("&") if p and not _TRACKING.match(p.split("=", 1)[0])
        )
    return f"{scheme.lower()}://{host.lower()}{path or '/'}" + (f"?{query}" if query else "")


def from_epoch(value: float | int | str) -> datetime:
    """UTC time of epoch seconds given as a number or its text (Reddit sends floats)."""
    seconds = float(value)
    if not (0 <= seconds < 32503680000):  # year 3000: anything later is a unit mistake
        raise ValueError(f"epoch seconds out of range: {value!r}")
    return datetime.fromtimestamp(seconds, UTC)


def from_iso(value: str) -> datetime:
    """UTC time of an ISO 8601 string; one without an offset is taken as UTC, as APIs mean it."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# Month and weekday names as feeds in the languages Sada serves write them (RFC 822 in spirit,
# localized in fact). Keys are lower-case and without a trailing dot.
_MONTHS = {
    **{
        m: i
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
        )
    },
    **{
        m: i
        for i, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            1,
        )
    },
    # French
    "janv": 1,
    "janvier": 1,
    "févr": 2,
    "fevr": 2,
    "février": 2,
    "mars": 3,
    "avr": 4,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juil": 7,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "sept": 9,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "déc": 12,
    "décembre": 12,
    # German
    "januar": 1,
    "februar": 2,
    "märz": 3,
    "mär": 3,
    "mrz": 3,
    "juni": 6,
    "juli": 7,
    "okt": 10,
    "oktober": 10,
    "dez": 12,
    "dezember": 12,
    # Spanish / Portuguese / Italian
    "ene": 1,
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abr": 4,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "ago": 8,
    "agosto": 8,
    "septiembre": 9,
    "set": 9,
    "octubre": 10,
    "out": 10,
    "noviembre": 11,
    "dic": 12,
    "diciembre": 12,
    "fev": 2,
    "gen": 1,
    "gennaio": 1,
    "febbraio": 2,
    "mag": 5,
    "maggio": 5,
    "giu": 6,
    "giugno": 6,
    "lug": 7,
    "luglio": 7,
    "settembre": 9,
    "ottobre": 10,
    # Arabic (Levantine and Gulf/Egyptian month names)
    "يناير": 1,
    "كانون الثاني": 1,
    "فبراير": 2,
    "شباط": 2,
    "مارس": 3,
    "آذار": 3,
    "أبريل": 4,
    "ابريل": 4,
    "إبريل": 4,
    "نيسان": 4,
    "مايو": 5,
    "أيار": 5,
    "ايار": 5,
    "يونيو": 6,
    "حزيران": 6,
    "يوليو": 7,
    "تموز": 7,
    "أغسطس": 8,
    "اغسطس": 8,
    "آب": 8,
    "سبتمبر": 9,
    "أيلول": 9,
    "ايلول": 9,
    "أكتوبر": 10,
    "اكتوبر": 10,
    "تشرين الأول": 10,
    "نوفمبر": 11,
    "تشرين الثاني": 11,
    "ديسمبر": 12,
    "كانون الأول": 12,
}
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_LOCAL_DATE = re.compile(
    r"(?P<day>\d{1,2})\.?\s+(?P<month>[^\W\d_]+(?:\s[^\W\d_]+)?)\.?,?\s+(?P<year>\d{4})"
    r"(?:\D+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
    r"\s*(?P<zone>(?:GMT|UTC|Z)?\s*[+-]\d{2}:?\d{2}|GMT|UTC|Z)?",
    re.IGNORECASE,
)
_ZONE = re.compile(r"([+-])(\d{2}):?(\d{2})")
_RFC822_UTC = re.compile(  # what nearly every feed sends: read without the email module's parser
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})"
    r"\s+(?:GMT|UTC|UT|Z|[+-]0000)"
)


def parse_feed_date(value: str) -> datetime:
    """UTC time of a feed date: RFC 822, ISO 8601, or RFC 822 with localized names and digits.

    A date with no zone is taken as UTC (the feed's own zone is unknowable).
    """
    text = value.strip()
    if (rfc := _RFC822_UTC.fullmatch(text)) and (month := _MONTHS.get(rfc[2].lower())):
        day, year, hour, minute, second = map(int, rfc.group(1, 3, 4, 5, 6))  # any digits
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    text = text.translate(_DIGITS)
    if not text:
        raise ValueError("empty date")
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            return from_iso(text)
        except ValueError:
            parsed = _localized(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _localized(text: str) -> datetime:
    match = _LOCAL_DATE.search(text.replace("،", ","))
    month = _MONTHS.get(match.group("month").lower().rstrip(".")) if match else None
    if match is None or month is None:
        raise ValueError(f"unrecognised date {text[:60]!r}")
    zone = UTC
    if match.group("zone") and (offset := _ZONE.search(match.group("zone"))):
        sign = -1 if offset.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    return datetime(
        int(match.group("year")),
        month,
        int(match.group("day")),
        int(match.group("hour") or 0),
        int(match.group("minute") or 0),
        int(match.group("second") or 0),
        tzinfo=zone,
    )
