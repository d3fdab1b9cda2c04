"""The hottest read, `GET /api/v1/claims/{slug}`, answered before FastAPI's routing.

`ClaimReads` (pure ASGI, the innermost of the app's middlewares: behind the host check, the
request guard, admission and compression) answers a plain read of a claim — GET or HEAD, no
query string, reads public — from the status cache (tracker.web.api.cached_claim: the stamp
read batched in the thread pool, never on the event loop), with the route's own conditional
response. FastAPI's routing and dependency resolution cost several times the read itself
(measured in-process: ~1 ms of ~1.3 ms per request on a loaded 2-core machine).

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
from tracker.web.admission import RETRY_AFTER_SECONDS
from tracker.web.api import API_PREFIX, cached_claim, claim_response
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
            entry = await cached_claim(self.state, match.group(1))
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
            if not _conditional(scope):
                # conditional_response's 200, its headers made once with the cached body
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": list(entry.json_headers),  # a later middleware may edit it
                    }
                )
                await send({"type": "http.response.body", "body": entry.body})
                return
            response = claim_response(HTTPConnection(scope), entry)
        await response(scope, receive, send)


def _conditional(scope: Scope) -> bool:
    return any(name in CONDITIONAL for name, _ in scope["headers"])
