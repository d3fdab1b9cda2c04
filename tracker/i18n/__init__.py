"""Languages: which one a reader gets, and the one place that knows it during a request.

English is the default and the language of everything stored; Japanese (`ja`) is the second.
The language is chosen per request (tracker.web.language: `?lang=`, then the `tracker_lang`
cookie, then `Accept-Language`) and held in a context variable for the request's duration, so
templates, formatters and problem details read `current_lang()` instead of threading a parameter
through every call. Outside a request (the CLI, the scheduler, tests) it is English unless a
caller sets it with `use_lang`.

Nothing here touches the network, the database or the clock; importing it has no side effects.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Literal

Lang = Literal["en", "ja"]
SUPPORTED: Final[tuple[Lang, ...]] = ("en", "ja")
DEFAULT: Final[Lang] = "en"
LANG_COOKIE: Final = "tracker_lang"

_current: contextvars.ContextVar[Lang] = contextvars.ContextVar("tracker_lang", default=DEFAULT)


def supported(value: str | None) -> Lang | None:
    """`value` as a supported language (case and region ignored: "ja-JP" → "ja"), else None."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-", 1)[0]
    for lang in SUPPORTED:
        if primary == lang:
            return lang
    return None


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """An `Accept-Language` header's ranges with their q-values, best first (RFC 9110 §12.5.4).
    Malformed parts are skipped; a range with q=0 is "not acceptable" and left out."""
    ranges: list[tuple[str, float, int]] = []
    for index, part in enumerate((header or "").split(",")):
        pieces = [p.strip() for p in part.split(";")]
        tag = pieces[0]
        if not tag:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(raw)
                except ValueError:
                    q = -1.0
        if 0.0 < q <= 1.0:
            ranges.append((tag, q, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(tag, q) for tag, q, _ in ranges]


def from_accept_language(header: str | None) -> Lang | None:
    """The first supported language of an `Accept-Language` header, by preference; None when
    it names none (a `*` range leaves the choice to us: the default)."""
    for tag, _ in parse_accept_language(header):
        lang = supported(tag)
        if lang is not None:
            return lang
    return None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> Lang:
    """The reader's language: `?lang=` first, then the cookie the language switch sets, then
    `Accept-Language`; English when none names a supported language."""
    return supported(query) or supported(cookie) or from_accept_language(accept_language) or DEFAULT


def current_lang() -> Lang:
    """The language of the request being served (English outside a request)."""
    return _current.get()


@contextmanager
def use_lang(lang: Lang) -> Iterator[None]:
    """Run a block in `lang` (a request, a feed rendered for a subscriber, a test)."""
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)


def format_date(value: dt.date, lang: Lang | None = None) -> str:
    """A calendar day as a reader of `lang` (default: the current language) writes it:
    2026-12-31 in English (ISO, as the rest of the English UI), 2026年12月31日 in Japanese."""
    if (lang or current_lang()) == "ja":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()
