"""The reader's language for each request (tracker.i18n.negotiate): set as `request.state.lang`
and as tracker.i18n's current language while the request runs, so templates, formatters and
problem details follow it. Pure ASGI, no I/O."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.i18n import LANG_COOKIE, Lang, negotiate, use_lang


def request_language(scope: Scope) -> Lang:
    """The language a request asks for: `?lang=`, then the `tracker_lang` cookie, then
    `Accept-Language` (tracker.i18n.negotiate)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[-1]
    cookie_value: str | None = None
    accept: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            if LANG_COOKIE in jar:
                cookie_value = jar[LANG_COOKIE].value
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return negotiate(query, cookie_value, accept)


class LanguageContext:
    """Every HTTP request runs in the language it negotiates (`scope["state"]["lang"]`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = request_language(scope)
        scope.setdefault("state", {})["lang"] = lang
        with use_lang(lang):
            await self.app(scope, receive, send)
