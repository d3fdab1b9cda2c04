"""The hottest read, `GET /api/v1/claims/{slug}`, answered before FastAPI's routing.

`ClaimReads` (pure ASGI, the innermost of the app's middlewares: behind the host check, the
request guard, admission and compression) answers a plain read of a claim — GET or HEAD, no
query string, reads public — from the status cache (tracker.web.api.cached_claim: the stamp
read batched in the thread pool, never on the event loop), with the route's own conditional
response, in the reader's language (its reason texts; one cache entry per language, each
answer with `Content-Language` and `Vary: Accept-Language`). FastAPI's routing and
dependency resolution cost several times the read itself (measured in-process: ~1 ms of
~1.3 ms per request on a loaded 2-core machine).

Everything else goes on to the route (`api.get_claim`), which reads the same cache: an unknown
slug (its 404 problem), `?as_of=`, reads that need a token. A pool that stays exhausted answers
503 with Retry-After, as the route does.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.claims import SLUG_PATTERN
from tracker.i18n import current_lang
from tracker.web.admission import RETRY_AFTER_SECONDS
from tracker.web.api import API_PREFIX, cached_claim, claim_response
from tracker.web.compression import accepts_gzip
from tracker.web.problems import scope_problem

CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since"})
CLAIM_PATH = re.compile(re.escape(f"{API_PREFIX}/claims/") + "(" + SLUG_PATTERN[1:-1] + ")")


class ClaimReads:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"  # RequestGuard has made a HEAD a GET
            and not scope.get("query_string")
            and not self.state.settings.require_token_for_reads
        ):
            match = CLAIM_PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            # in the reader's language (tracker.web.language set it; each has its cache entry)
            entry = await cached_claim(self.state, match.group(1), current_lang())
        except PoolTimeout:
            response: Any = scope_problem(
                scope,
                503,
                "no database connection became free in time; retry shortly",
                code="service-unavailable",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        else:
            if entry is None:  # the route answers the 404 problem
                await self.app(scope, receive, send)
                return
            conditional, gzip_ok = _asks(scope)
            if not conditional:
                # conditional_response's 200, its headers made once with the cached body; in
                # gzip when accepted, as Compression would make it (which passes it on as is)
                body, headers = entry.body, entry.json_headers
                if gzip_ok and entry.gzip_body:
                    body, headers = entry.gzip_body, entry.gzip_headers
                start = {"type": "http.response.start", "status": 200, "headers": list(headers)}
                await send(start)  # a copy of the headers: a later middleware may edit them
                await send({"type": "http.response.body", "body": body})
                return
            response = claim_response(HTTPConnection(scope), entry)
        await response(scope, receive, send)


def _asks(scope: Scope) -> tuple[bool, bool]:
    """(a conditional request, gzip accepted)."""
    conditional, encoding = False, None
    for name, value in scope["headers"]:
        if name in CONDITIONAL:
            conditional = True
        elif name == b"accept-encoding":
            encoding = value.decode("latin-1")
    return conditional, accepts_gzip(encoding)
