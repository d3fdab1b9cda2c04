"""RFC 9457 problem details: one JSON error shape for every error the app returns.

`install_problem_handlers(app)` maps HTTP errors, validation errors, `ProblemError` and any
unexpected exception (logged server-side, answered with a generic 500) to problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tracker.claims import format_path

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/api/v1/problems/"
log = logging.getLogger("tracker.web")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# One title per problem type (`type` is /api/v1/problems/<code>); a problem without a code is
# `about:blank` titled with the HTTP status phrase.
PROBLEM_TITLES: dict[str, str] = {
    "validation-error": "Invalid request",
    "bad-request": "Bad request",
    "bad-cursor": "Bad cursor",
    "not-found": "Not Found",
    "not-known-then": "Not known on that date",
    "unauthorized": "Authentication required",
    "insufficient-scope": "Forbidden",
    "conflict": "Conflict",
    "internal-error": "Internal Server Error",
}


class ProblemError(Exception):
    """Raise to answer with a problem document (`code` names the problem type)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.title = title
        self.errors = errors
        self.headers = headers
        self.extra = extra or {}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{code}" if code else "about:blank",
        "title": PROBLEM_TITLES.get(code or "") or title or _phrase(status),
        "status": status,
        "detail": detail or _phrase(status),
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def validation_errors(raw: Sequence[Any], body: Any = None) -> list[dict[str, Any]]:
    """FastAPI/pydantic errors as [{field, location, message, type}] (field like `a[0].b`);
    a body that is not JSON is reported against `body` with its line and column."""
    result: list[dict[str, Any]] = []
    for err in raw:
        loc = list(err.get("loc", ()))
        where = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else None
        path = loc[1:] if where else loc
        if err.get("type") == "json_invalid":
            result.append(_malformed_json(err, path, body))
            continue
        result.append(
            {
                # `criteria[0].period`: the style claim-file errors use
                "field": format_path(path) if path else (where or ""),
                "location": where or "body",
                "message": str(err.get("msg", "invalid value")),
                "type": str(err.get("type", "value_error")),
            }
        )
    return result


def _malformed_json(err: dict[str, Any], path: list[Any], body: Any) -> dict[str, Any]:
    """FastAPI reports a JSON syntax error at the character offset (`loc` = body, offset)."""
    reason = str((err.get("ctx") or {}).get("error") or "not valid JSON")
    offset = path[0] if path and isinstance(path[0], int) else None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    entry: dict[str, Any] = {"field": "body", "location": "body", "type": "json_invalid"}
    if offset is not None and isinstance(text, str):
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        entry["message"] = f"malformed JSON at line {line}, column {column}: {reason}"
        entry["line"] = line
        entry["column"] = column
    else:
        entry["message"] = f"malformed JSON: {reason}"
    return entry


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        code=exc.code,
        title=exc.title,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:  # Starlette names only the first matching route's methods
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        if detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}"
            if allowed:
                detail += f"; allowed: {', '.join(allowed)}"
    return problem_response(request, exc.status_code, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at this request's path (for `Allow`)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return allowed


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors(), exc.body)
    # each field once with its first message (an enum's message lists the allowed values)
    messages: dict[str, str] = {}
    for e in errors:
        if e["field"]:
            messages.setdefault(e["field"], e["message"])
    summary = "; ".join(f"{field}: {message}" for field, message in sorted(messages.items()))
    return problem_response(
        request,
        422,
        f"the request is invalid: {summary}" if summary else "the request is invalid",
        code="validation-error",
        title="Invalid request",
        errors=errors,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # logged with the traceback for the operator; the client gets no internals
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        500,
        "the server hit an unexpected error; it has been logged",
        code="internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on `app` (call once in the app factory)."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
