from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import convert
from ingest.convert import canonical_url, from_epoch, from_iso, html_to_text, parse_feed_date


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("plain &amp; simple", "plain & simple"),
        ("<p>one</p><p>two<br>three</p>", "one\n\ntwo\nthree"),
        ('<p><a href="https://x.example/?a=1&amp;b=2" title="a>b">link</a> ok</p>', "link ok"),
        (
            '<span class="invisible">https://www.</span><span class="ellipsis">x.example/a</span>'
            '<span class="invisible">/rest</span>',
            "x.example/a",
        ),
        ("<p>x</p><script>alert(1)</script><style>p{}</style>", "x"),  # the parser path
        ("a < b and c > d", "a < b and c > d"),
        ("<p>  spaced \t out\u00a0 </p>", "spaced out"),
        ("مرحبا&nbsp;<b>بالعالم</b>", "مرحبا بالعالم"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


fragments = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<br>",
            "<br />",
            '<a href="https://e.example/?q=1&amp;r=2">',
            "</a>",
            '<span class="invisible">hidden</span>',
            '<span class="ellipsis">',
            "</span>",
            "<em>",
            "</em>",
            "text",
            " ",
            "&amp;",
            "&#x27;",
            "كلمة",
            "😀",
            "\n",
            "<div>",
            "</div>",
            "<li>",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(fragments)
def test_the_fast_path_reads_markup_as_the_parser_does(markup: str) -> None:
    parser = convert._TextExtractor()
    parser.feed(markup)
    parser.close()
    assert html_to_text(markup) == convert._tidy("".join(parser.parts))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 03 Jul 2026 07:00:00 GMT", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),
        ("3 JUL 2026 07:00:00 -0000", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),
        ("Fri, ٠٣ Jul ٢٠٢٦ ٠٧:٠٠:٠٠ UT", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),
        ("Fri, 03 Jul 2026 07:00:00 +0100", datetime(2026, 7, 3, 6, 0, tzinfo=UTC)),
        ("2026-07-03T07:00:00+02:00", datetime(2026, 7, 3, 5, 0, tzinfo=UTC)),
        ("2026-07-03T07:00:00Z", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),
        ("ven., 03 juil. 2026 07:00:00 +0200", datetime(2026, 7, 3, 5, 0, tzinfo=UTC)),
        ("Freitag, 3. Juli 2026 07:00", datetime(2026, 7, 3, 7, 0, tzinfo=UTC)),
        ("mié, 25 nov 2026 10:30:00 -0300", datetime(2026, 11, 25, 13, 30, tzinfo=UTC)),
        ("الجمعة، ٣ يوليو ٢٠٢٦ ٠٧:٠٠:٠٠ +0300", datetime(2026, 7, 3, 4, 0, tzinfo=UTC)),
        ("24 تشرين الثاني 2026 16:45", datetime(2026, 11, 24, 16, 45, tzinfo=UTC)),
        ("۲۵ نوفمبر ۲۰۲۶", datetime(2026, 11, 25, tzinfo=UTC)),
    ],
)
def test_feed_dates_in_any_language(value: str, expected: datetime) -> None:
    assert parse_feed_date(value) == expected


@pytest.mark.parametrize(
    "value", ["", "soon", "قريباً", "32 Foo 2026", "Sat, 31 Feb 2026 07:00:00 GMT"]
)
def test_unreadable_feed_dates_raise(value: str) -> None:
    with pytest.raises(ValueError):
        parse_feed_date(value)


def test_epoch_and_iso() -> None:
    assert from_epoch(1795601455.5) == datetime(2026, 11, 25, 10, 10, 55, 500000, tzinfo=UTC)
    assert from_epoch("1795601455") == datetime(2026, 11, 25, 10, 10, 55, tzinfo=UTC)
    with pytest.raises(ValueError, match="out of range"):
        from_epoch(1e20)
    assert from_iso("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/a?utm_source=x&id=3&fbclid=y#frag", "https://example.com/a?id=3"),
        ("https://example.com", "https://example.com/"),
        ("javascript:alert(1)", None),
        ("", None),
        ("not a url", None),
        ("https://x.example/a b", None),
        ("https://x.example/p?q=a%3Ab&utm_medium=feed&x", "https://x.example/p?q=a%3Ab&x"),
        ("https://x.example/p?q=a:b", "https://x.example/p?q=a:b"),
        ("https://x.example/p?utm_source=a#top", "https://x.example/p"),
    ],
)
def test_canonical_url(url: str, canonical: str | None) -> None:
    assert canonical_url(url) == canonical
