"""The reader's language for each request (tracker.i18n.negotiate): set as `request.state.lang`
and as tracker.i18n's current language while the request runs, so templates, formatters and
problem details follow it. Pure ASGI, no I/O.

On the way out: a response whose body is written for people (a page, a feed, a calendar, a
problem) says which language it is in (`Content-Language`) and, when the language came from the
request's headers rather than its URL, that it varies by them (`Vary: Accept-Language, Cookie`),
so no cache — the browser's, a proxy's — hands one language's body to another's request. A
`?lang=` request also sets the `tracker_lang` cookie (the visible switch on every page is such a
link), so the next pages follow it.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Final
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.i18n import LANG_COOKIE, Lang, negotiate, supported, use_lang

COOKIE_MAX_AGE: Final = 365 * 24 * 3600
# the media types whose bodies are written in the reader's language
LOCALIZED_TYPES: Final = (
    "text/html",
    "application/atom+xml",
    "text/calendar",
    "application/problem+json",
)
VARY_BY: Final = ("Accept-Language", "Cookie")
_COOKIE_NAME: Final = LANG_COOKIE.encode("ascii")


def _parts(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The request's `?lang=`, its `tracker_lang` cookie and its `Accept-Language` (each
    parsed only when its bytes can hold one: this runs before every request, the hottest
    reads included)."""
    raw_query = scope.get("query_string", b"")
    query = None
    if b"lang=" in raw_query:
        query = parse_qs(raw_query.decode("latin-1")).get("lang", [None])[-1]
    cookie_value: str | None = None
    accept: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"cookie" and _COOKIE_NAME in value:
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            if LANG_COOKIE in jar:
                cookie_value = jar[LANG_COOKIE].value
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return query, cookie_value, accept


def request_language(scope: Scope) -> Lang:
    """The language a request asks for: `?lang=`, then the `tracker_lang` cookie, then
    `Accept-Language` (tracker.i18n.negotiate)."""
    return negotiate(*_parts(scope))


def add_vary(headers: MutableHeaders, names: tuple[str, ...]) -> None:
    """Add `names` to the response's `Vary` (kept once each; `*` already says everything)."""
    current = headers.get("vary")
    if current is not None and current.strip() == "*":
        return
    have = [v.strip() for v in (current or "").split(",") if v.strip()]
    lowered = {v.lower() for v in have}
    have += [n for n in names if n.lower() not in lowered]
    headers["Vary"] = ", ".join(have)


def lang_cookie(lang: Lang, secure: bool) -> str:
    """The `Set-Cookie` value remembering the reader's choice for a year."""
    value = f"{LANG_COOKIE}={lang}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax"
    return value + "; Secure" if secure else value


class LanguageContext:
    """Every HTTP request runs in the language it negotiates (`scope["state"]["lang"]`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query, cookie, accept = _parts(scope)
        lang = negotiate(query, cookie, accept)
        scope.setdefault("state", {})["lang"] = lang
        chosen = supported(query)  # the URL names the language: the headers do not matter
        remember = chosen is not None and supported(cookie) != chosen

        async def send_localized(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if media in LOCALIZED_TYPES or message["status"] == 304:
                    if media in LOCALIZED_TYPES:
                        headers["Content-Language"] = lang
                    if chosen is None:
                        add_vary(headers, VARY_BY)
                if remember and chosen is not None and media == "text/html":
                    headers.append(
                        "Set-Cookie", lang_cookie(chosen, scope.get("scheme") == "https")
                    )
            await send(message)

        with use_lang(lang):
            await self.app(scope, receive, send_localized)
