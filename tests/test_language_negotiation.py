"""Which language a reader gets (tracker.i18n.negotiate, tracker.web.language): `?lang=`, then
the `tracker_lang` cookie, then `Accept-Language`, English by default; and the day format."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.i18n import (
    current_lang,
    format_date,
    from_accept_language,
    negotiate,
    parse_accept_language,
    use_lang,
)
from tracker.web.language import request_language


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        ("ja", None, None, "ja"),
        ("JA", None, None, "ja"),
        ("ja-JP", None, None, "ja"),
        ("en", "ja", "ja", "en"),  # the query wins over cookie and header
        ("fr", "ja", None, "ja"),  # an unsupported query is ignored
        (None, "ja", "en", "ja"),  # the cookie wins over the header
        (None, "xx", "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, None, "fr-FR,fr;q=0.9,ja;q=0.5,en;q=0.4", "ja"),  # first supported by q
        (None, None, "en;q=0.2,ja;q=0.8", "ja"),
        (None, None, "ja;q=0,en", "en"),  # q=0: not acceptable
        (None, None, "*", "en"),
        (None, None, "de", "en"),
        (None, None, ";;,ja;q=abc,", "en"),  # malformed parts are skipped
    ],
)
def test_negotiation_order(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert negotiate(query, cookie, accept) == expected


def test_accept_language_keeps_header_order_between_equal_q_values() -> None:
    assert parse_accept_language("en, ja") == [("en", 1.0), ("ja", 1.0)]
    assert from_accept_language("en, ja") == "en"
    assert from_accept_language("ja, en") == "ja"


def test_request_language_reads_query_cookie_and_header_from_the_scope() -> None:
    scope = {
        "type": "http",
        "query_string": b"status=on_track&lang=ja",
        "headers": [(b"accept-language", b"en")],
    }
    assert request_language(scope) == "ja"
    scope = {
        "type": "http",
        "query_string": b"",
        "headers": [(b"cookie", b"a=1; tracker_lang=ja"), (b"accept-language", b"en")],
    }
    assert request_language(scope) == "ja"
    scope = {"type": "http", "query_string": b"", "headers": [(b"cookie", b'bad"cookie')]}
    assert request_language(scope) == "en"


def test_days_read_as_each_language_writes_them() -> None:
    day = dt.date(2026, 12, 31)
    assert format_date(day, "en") == "2026-12-31"
    assert format_date(day, "ja") == "2026年12月31日"
    assert format_date(dt.date(2030, 1, 5), "ja") == "2030年1月5日"
    assert current_lang() == "en"
    with use_lang("ja"):
        assert format_date(day) == "2026年12月31日"
    assert format_date(day) == "2026-12-31"


def test_every_request_runs_in_its_language() -> None:
    """The middleware sets the request's language for everything the request runs."""
    import asyncio
    import threading

    from tracker.web.language import LanguageContext

    seen: list[tuple[str, str]] = []

    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((scope["state"]["lang"], current_lang()))

    app = LanguageContext(inner)
    scope = {"type": "http", "query_string": b"lang=ja", "headers": []}
    # in a thread of its own: a browser test in the same worker may leave a loop running here
    worker = threading.Thread(target=asyncio.run, args=(app(scope, None, None),))  # type: ignore[arg-type]
    worker.start()
    worker.join(10)
    assert seen == [("ja", "ja")]
    assert current_lang() == "en"
