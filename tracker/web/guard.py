"""What every route checks before its own parameters are read: access first, then the bounds
of a JSON body (tracker.bounds).

FastAPI reads and validates a route's body before it resolves the route's dependencies, so a
token checked in a dependency comes after a 422 for a malformed body, and a claim looked up by
slug can answer 404 before a 401. `GuardedRoute` (the route class of the API and dashboard
routers) runs, before any of that:

1. access: an API write needs a valid bearer token (401 otherwise; the scope is still checked
   by the route, 403); when `require_token_for_reads` is set, every route but the health
   probes, sign-in/out, static files and problem-type pages needs one too — a bearer token, or
   on a dashboard page a signed-in session. So an unknown and an existing slug, or a malformed
   and a well-formed body, get the same 401 without a token;
2. the JSON body: parsed strictly (no NaN/Infinity) and walked for text with NUL or a lone
   surrogate, non-finite numbers (1e400) and nesting deeper than bounds.MAX_DEPTH: 422 naming
   each field. (Claim documents get the same walk and date bounds in tracker.claims, which
   also covers YAML bodies and claim files.)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Path
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tracker import bounds
from tracker.i18n.catalogs import _
from tracker.web.problems import ProblemError

API_PREFIX = "/api/v1"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# reachable without a token even when reads need one
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login", "/logout"})
OPEN_PREFIXES = ("/static/", f"{API_PREFIX}/problems")


# a database id in a path: positive and within bounds.MAX_ID (a larger one overflowed the
# database driver: 500)
DbId = Annotated[int, Path(ge=1, le=bounds.MAX_ID, description="A positive 32-bit id.")]


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _signed_in(request: Request) -> bool:
    """True when the request carries a dashboard session that is signed in (checked against
    its token row, as the dashboard does)."""
    from sqlmodel import Session

    from tracker.clock import utcnow
    from tracker.web.dashboard import SESSION_COOKIE, get_web_session

    if not request.cookies.get(SESSION_COOKIE):
        return False
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        state = get_web_session(request, utcnow(), session)
    return bool(state.session.signed_in)


def _authenticate(request: Request) -> None:
    from tracker.web.api import authenticate

    authenticate(request, request.app.state.engine)


async def check_access(request: Request) -> Response | None:
    """Raise 401 (API) or answer a redirect to sign in (dashboard page) when the request needs
    a token and has none that is valid; None when it may go on."""
    path = request.url.path
    is_api = path.startswith(f"{API_PREFIX}/")
    if is_api and request.method in WRITE_METHODS:
        await run_in_threadpool(_authenticate, request)
        return None
    if _is_open(path) or not request.app.state.settings.require_token_for_reads:
        return None
    if is_api or request.headers.get("authorization"):
        await run_in_threadpool(_authenticate, request)
        return None
    if await run_in_threadpool(_signed_in, request):
        return None
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return request.url.path.startswith(f"{API_PREFIX}/")
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type") or ""
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


async def check_body(request: Request) -> None:
    """422 naming each out-of-bounds field of a JSON body; a body that is not JSON is left to
    the route (which says how it is malformed)."""
    if request.method not in WRITE_METHODS:
        return
    if _is_form(request):
        form = (await request.body()).decode("latin-1")
        for key, value in parse_qsl(form, keep_blank_values=True):
            problem = bounds.text_problem(value) or bounds.text_problem(key)
            if problem:
                raise _problem([bounds.OutOfBounds(key, problem, "text")], where="form")
        return
    if not _is_json(request):
        return
    raw = await request.body()
    if not raw.strip():
        return
    try:
        data = bounds.strict_json(raw)
    except bounds.OutOfBounds as exc:
        raise _problem([exc]) from None
    except RecursionError:
        raise _problem(
            [bounds.OutOfBounds("body", "malformed JSON: nested too deeply", "too_deep")]
        ) from None
    except (ValueError, UnicodeDecodeError):
        return  # malformed: the route answers it
    found = list(bounds.walk(data))
    if found:
        raise _problem(found)


def _problem(found: list[bounds.OutOfBounds], where: str = "body") -> ProblemError:
    errors = [
        {"field": f.field, "location": where, "message": f.message, "type": f.kind}
        for f in found[:50]
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ProblemError(
        422,
        _("the request is invalid: %(fields)s: %(message)s")
        % {"fields": fields, "message": found[0].message},
        code="validation-error",
        errors=errors,
    )


class GuardedRoute(APIRoute):
    """An APIRoute whose handler checks access, then the body's bounds, before FastAPI reads
    the route's parameters (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            answer = await check_access(request)
            if answer is not None:
                return answer
            await check_body(request)
            return await handler(request)

        return guarded


__all__ = ["GuardedRoute", "check_access", "check_body"]
