"""The application factory: builds the FastAPI app for a given Settings object.

The lifespan owns the resources: the engine, the shared httpx client and the scheduler.
Four pure-ASGI middlewares wrap every route, API and dashboard alike (outermost first):
`ClockContext` (the app's clock for everything the request does), `UnhandledErrors` (log once,
answer 500 problem+json), `TrustedHosts` (Starlette's TrustedHostMiddleware, answering 400
problem+json) and `RequestGuard` (control characters in the path or query, body size,
Content-Type of API bodies, HEAD on GET routes) — so no handler ever sees a request they reject.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker import __version__, scheduler
from tracker.clock import Clock, current_clock, use_clock
from tracker.config import Settings
from tracker.db import make_engine
from tracker.web import (
    admission,
    api,
    api_data,
    api_indicators,
    api_track_record,
    api_waits,
    api_webhooks,
    claim_reads,
    compression,
    dashboard,
    health,
    language,
    problems,
    webhooks_page,
    writer_pages,
)
from tracker.web.openapi import install_openapi
from tracker.web.problems import (
    ASKED_METHOD,
    install_problem_handlers,
    log_unhandled,
    scope_problem,
)

# C0 controls and DEL: nothing tracker stores or searches contains them (PostgreSQL cannot
# even store NUL in text), so a path or query holding one is rejected before any handler runs
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = ("application/json",)  # and any application/*+json
# claim documents may also be posted as YAML to these two operations (api.create_claim/dry_run)
YAML_TYPES = ("application/yaml", "application/x-yaml")
YAML_BODY_PATHS = frozenset({f"{api.API_PREFIX}/claims", f"{api.API_PREFIX}/claims:dry-run"})


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes the limit (answered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")
        self.code = "payload-too-large"
        self.extra = {"max_body_bytes": limit}


def _control_character(text: str) -> str | None:
    found = CONTROL_CHARACTERS.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


class ClockContext:
    """Outermost: every request runs under the app's clock (`app.state.clock`, read per request
    so a test may move it), so each "now" in it, model defaults and caching headers included,
    is that clock's (tracker.clock)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with use_clock(app_clock(self.state)):
            await self.app(scope, receive, send)


def app_clock(state: Any) -> Clock:
    """The clock of an app's state: a callable reading `state.clock` when called, so it
    follows a test that moves it after the app (or its scheduler) was built."""

    def now() -> dt.datetime:
        clock: Clock = state.clock
        return clock()

    return now


class UnhandledErrors:
    """Outermost: an exception no handler answered is logged once (traceback, escaped path, no
    query string) and answered 500 problem+json; it is not re-raised, so the server does not
    log it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log_unhandled(scope, exc)
            if not started:  # otherwise the connection is closed mid-response by the server
                response = scope_problem(
                    scope,
                    500,
                    "the server hit an unexpected error; it has been logged",
                    code="internal-error",
                )
                await response(scope, receive, send)


class TrustedHosts:
    """Starlette's TrustedHostMiddleware decides; a refused Host gets 400 problem+json (not its
    plain-text answer)."""

    PASSED = "tracker.trusted_host"

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.check = TrustedHostMiddleware(self._passed, allowed_hosts, www_redirect=False)

    async def _passed(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[self.PASSED] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.check.allow_any:
            await self.app(scope, receive, send)
            return
        refused = False

        async def guarded(message: Message) -> None:
            nonlocal refused
            if not scope.get(self.PASSED):
                refused = True  # Starlette's own plain-text 400: replaced below
                return
            await send(message)

        await self.check(scope, receive, guarded)
        if refused:
            host = Headers(scope=scope).get("host", "")
            response = scope_problem(
                scope,
                400,
                f"the host {host!a} is not served here; allowed: " + ", ".join(self.allowed_hosts),
                code="untrusted-host",
                errors=[{"field": "Host", "location": "header", "message": "host not allowed"}],
            )
            await response(scope, receive, send)


class RequestGuard:
    """Checks every HTTP request before routing: control characters in path or query (400
    naming the parameter), the body size (413: Content-Length up front, a chunked body while it
    streams), the Content-Type of API bodies (415 naming the accepted types); and answers HEAD
    on every GET route (the GET's headers, no body)."""

    def __init__(self, app: ASGIApp, routers: list[APIRouter], max_body_bytes: int) -> None:
        self.app = app
        self.routes = [route for router in routers for route in router.routes]
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            send = _without_body(send)
            scope["method"] = "GET"  # routes answer GET; the body is dropped on the way out
            scope[ASKED_METHOD] = "HEAD"  # what an error message names (problems.asked_method)
        rejection = self._bad_parameter(scope) or self._bad_body(scope)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        if scope["method"] in BODY_METHODS:
            receive = self._capped(receive)
        await self.app(scope, receive, send)

    def _bad_parameter(self, scope: Scope) -> Any:
        path = str(scope.get("path", ""))
        char = _control_character(path)
        if char is not None:
            name = self._path_parameter(scope)
            if name is None:
                return _bad_request(scope, "path", "path", "the path", char)
            return _bad_request(scope, "path", name, f"path parameter {name!r}", char)
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        for key, value in parse_qsl(query, keep_blank_values=True):
            for text, what in ((key, "query parameter name"), (value, "query parameter")):
                char = _control_character(text)
                if char is not None:
                    field = ascii(key)[1:-1]
                    return _bad_request(scope, "query", field, f"{what} {field!r}", char)
        return None

    def _path_parameter(self, scope: Scope) -> str | None:
        """The name of the route's path parameter holding the control character, if any."""
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.NONE:
                continue
            for name, value in (child.get("path_params") or {}).items():
                if isinstance(value, str) and _control_character(value):
                    return str(name)
            return None
        return None

    def _bad_body(self, scope: Scope) -> Any:
        if scope["method"] not in BODY_METHODS:
            return None
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        try:
            size = int(length) if length is not None else None
        except ValueError:
            size = None
        if size is not None and size > self.max_body_bytes:
            return scope_problem(
                scope,
                413,
                f"the request body ({size} bytes) exceeds the limit of {self.max_body_bytes} bytes",
                code="payload-too-large",
                extra={"max_body_bytes": self.max_body_bytes},
            )
        has_body = size != 0 if size is not None else "transfer-encoding" in headers
        path = str(scope.get("path", ""))
        content_type = headers.get("content-type")
        if not has_body or not path.startswith(f"{api.API_PREFIX}/") or content_type is None:
            return None
        media = content_type.split(";", 1)[0].strip().lower()
        accepted = list(JSON_TYPES)
        if path in YAML_BODY_PATHS:
            accepted += YAML_TYPES
        if media in accepted or (media.startswith("application/") and media.endswith("+json")):
            return None
        return scope_problem(
            scope,
            415,
            f"the body's Content-Type {media!a} is not accepted here; send one of: "
            + ", ".join(accepted),
            code="unsupported-media-type",
            headers={"Accept-Post": ", ".join(accepted)},
            extra={"accepted": accepted},
        )

    def _capped(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped


def _bad_request(scope: Scope, location: str, field: str, what: str, char: str) -> Any:
    message = f"contains the control character {char}, which is not allowed"
    return scope_problem(
        scope,
        400,
        f"{what} {message}",
        code="bad-request",
        errors=[
            {
                "field": field,
                "location": location,
                "message": message,
                "type": "control_character",
            }
        ],
    )


def _without_body(send: Send) -> Send:
    """A `send` for HEAD: the response's start (with the GET's Content-Length), no body."""

    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(message)

    return head_send


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app. Pass `engine` to share one (tests); otherwise the lifespan makes one.
    `clock` (default: the clock installed where the app is built, tracker.clock.use_clock, else
    the system clock) is the one every request, and the scheduler the app starts, reads;
    `app.state.clock` may be replaced later (tests move time that way)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(
            settings.effective_database_url(), pool_timeout=admission.POOL_TIMEOUT_SECONDS
        )
        closers: list[Callable[[], Any]] = []
        app.state.closers = closers
        try:
            with use_clock(app_clock(app.state)):
                for hook in app.state.startup_hooks:
                    hook(app)
            yield
        finally:
            for close in reversed(closers):
                close()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="tracker",
        version=__version__,
        description=(
            "Dated public predictions checked against live public data: claims, their "
            "criteria, the indicator data that checks them, and their status over time."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs is served from vendored assets by tracker.web.openapi
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or current_clock()
    app.state.startup_hooks = []
    app.state.readiness_probes = {}
    if engine is not None:
        app.state.engine = engine
    app.include_router(health.router)
    app.include_router(writer_pages.router)  # /claims/new before dashboard's /claims/{slug}
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    install_problem_handlers(app)
    admission.install(app)
    app.include_router(api.router)
    app.include_router(api_indicators.router)
    app.include_router(api_data.router)
    app.include_router(api_waits.router)
    app.include_router(api_track_record.router)
    app.include_router(problems.router)
    app.include_router(api_webhooks.router)
    app.include_router(webhooks_page.router)
    install_openapi(app)
    scheduler.install(app)
    routers = [
        health.router,
        dashboard.router,
        api.router,
        api_indicators.router,
        api_data.router,
        writer_pages.router,
        api_waits.router,
        api_track_record.router,
        problems.router,
        api_webhooks.router,
        webhooks_page.router,
    ]
    # the last added runs first: ClockContext, LanguageContext (the reader's language,
    # tracker.web.language), UnhandledErrors, then TrustedHosts, then RequestGuard, then
    # Admission (at most admission.CAPACITY requests at once; the rest queue, writes first, and
    # only a wait past admission.WAIT_SECONDS is answered 503), then
    # Compression (gzip of text bodies, ETag per encoding; inside RequestGuard so HEAD sees it),
    # then ClaimReads (the plain GET of a claim answered from its cache, before FastAPI routes)
    app.add_middleware(claim_reads.ClaimReads, state=app.state)
    app.add_middleware(compression.Compression)
    app.add_middleware(admission.Admission)
    app.add_middleware(RequestGuard, routers=routers, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(TrustedHosts, allowed_hosts=settings.trusted_hosts())
    app.add_middleware(UnhandledErrors)
    app.add_middleware(language.LanguageContext)
    app.add_middleware(ClockContext, state=app.state)
    return app
