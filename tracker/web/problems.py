"""RFC 9457 problem details: one JSON error shape for every error the app returns.

`install_problem_handlers(app)` maps HTTP errors, validation errors and `ProblemError` to
problem+json; unexpected exceptions are answered (and logged once) by the outermost middleware of
tracker.web.app. Every problem's `type` is one of PROBLEM_TYPES (/api/v1/problems/<code>), and
each type's URI serves its documentation (`router`): what it means and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from tracker.claims import format_path
from tracker.i18n.catalogs import N_, _
from tracker.web.error_pages import error_page, wants_html

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/api/v1/problems/"
log = logging.getLogger("tracker.web")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One problem type: its title, HTTP status, when it happens and what the client can do."""

    title: str
    status: int
    when: str
    action: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    "validation-error": ProblemType(
        N_("Invalid request"),
        422,
        "A query parameter, path parameter or body field is invalid, or the body is not "
        "well-formed JSON (including JSON nested too deeply). `errors` names each field.",
        "Fix the fields named in `errors` (each with its location and message) and retry.",
    ),
    "bad-request": ProblemType(
        N_("Bad request"),
        400,
        "The request cannot be read: e.g. a path or query parameter holds a control character "
        "(such as NUL), which no claim, indicator or search can contain. `errors` names it.",
        "Remove the offending characters (percent-encoded ones too) and retry.",
    ),
    "bad-cursor": ProblemType(
        N_("Bad cursor"),
        400,
        "The `cursor` parameter is not a `next_cursor` this list gave for the same sort.",
        "Start again from the first page, or pass back `next_cursor` unchanged.",
    ),
    "untrusted-host": ProblemType(
        N_("Host not allowed"),
        400,
        "The request's Host header names a host this server does not serve "
        "(TRACKER_ALLOWED_HOSTS).",
        "Use the server's public address; operators add host names to TRACKER_ALLOWED_HOSTS.",
    ),
    "unauthorized": ProblemType(
        N_("Authentication required"),
        401,
        "The request needs a bearer token and none, a malformed one, or an unknown or revoked "
        "one was sent.",
        "Send `Authorization: Bearer <token>` with a token from `tracker token create`.",
    ),
    "insufficient-scope": ProblemType(
        N_("Forbidden"),
        403,
        "The token is valid but lacks the scope this operation needs (named in the detail).",
        "Use a token created with that scope (`claims:write` or `resolve`).",
    ),
    "forbidden": ProblemType(
        N_("Forbidden"),
        403,
        "The request is not allowed for this client.",
        "Check the credentials used; the detail says why.",
    ),
    "not-found": ProblemType(
        N_("Not Found"),
        404,
        "Nothing exists at this path: an unknown route, or no claim, claimant or indicator "
        "with that slug or key.",
        "Check the spelling; GET /api/v1/claims and /api/v1/indicators list what exists.",
    ),
    "not-known-then": ProblemType(
        N_("Not known on that date"),
        404,
        "A replay (`as_of`) asked about a date before tracker first recorded the claim.",
        "Pick a later date, on or after the claim's first revision (see /revisions).",
    ),
    "method-not-allowed": ProblemType(
        N_("Method Not Allowed"),
        405,
        "The path exists but does not answer this HTTP method.",
        "Use one of the methods listed in the `Allow` header.",
    ),
    "not-acceptable": ProblemType(
        N_("Not Acceptable"),
        406,
        "The server cannot answer in a media type the `Accept` header allows.",
        "Accept the media type the operation documents (usually application/json).",
    ),
    "conflict": ProblemType(
        N_("Conflict"),
        409,
        "The write conflicts with the stored state: the slug exists, the claim is already "
        "withdrawn, or a concurrent write took the version first.",
        "Read the current state and retry, or amend the existing claim instead.",
    ),
    "payload-too-large": ProblemType(
        N_("Content Too Large"),
        413,
        "The request body is larger than the server accepts (TRACKER_MAX_BODY_BYTES; the limit "
        "is in `max_body_bytes`).",
        "Send a smaller body; claim documents are a few kilobytes.",
    ),
    "unsupported-media-type": ProblemType(
        N_("Unsupported Media Type"),
        415,
        "The body's Content-Type is not one this operation reads (the accepted types are in "
        "`accepted` and the `Accept-Post` header).",
        "Send the body as application/json (claim documents may also be YAML where listed).",
    ),
    "too-many-requests": ProblemType(
        N_("Too Many Requests"),
        429,
        "The client sent too many requests.",
        "Wait as long as the `Retry-After` header says, then retry.",
    ),
    "internal-error": ProblemType(
        N_("Internal Server Error"),
        500,
        "The server hit an unexpected error. It was logged for the operator; no internals are "
        "in the response.",
        "Retry later; if it persists, report the time and the request path to the operator.",
    ),
    "service-unavailable": ProblemType(
        N_("Service Unavailable"),
        503,
        "The service cannot answer now (e.g. the database is unreachable).",
        "Retry later; /readyz says what is wrong.",
    ),
    "http-error": ProblemType(
        N_("HTTP error"),
        400,
        "Any other HTTP error; `status` and `detail` say which.",
        "Read `detail`.",
    ),
}
# One title per problem type (kept under this name for callers that only need titles).
PROBLEM_TITLES: dict[str, str] = {code: p.title for code, p in PROBLEM_TYPES.items()}
# The type of an error raised without a code, by HTTP status.
STATUS_CODES: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_code(status: int, code: str | None = None) -> str:
    """`code` when it is a known type, else the type for `status` (`http-error` at worst)."""
    if code in PROBLEM_TYPES:
        return code
    return STATUS_CODES.get(status, "http-error")


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


def problem_json(
    path: str,
    status: int,
    detail: str | None,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The problem+json response; `type` is always one of PROBLEM_TYPES, with its one title."""
    kind = problem_code(status, code)
    title = _phrase(status) if kind == "http-error" else PROBLEM_TYPES[kind].title
    # `title` and `detail` in the request's language (tracker.i18n.current_lang: `?lang=`, the
    # cookie, `Accept-Language`); a detail without a catalog entry stays as it is
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{kind}",
        "title": _(title),
        "status": status,
        "detail": _(detail) if detail else _(_phrase(status)),
        "instance": path,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    code: str | None = None,
    title: str | None = None,  # ignored: each type has one title (kept for callers)
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    if wants_html(request.scope):  # a browser asking for a page: an HTML error page
        page = error_page(request.scope, status, detail, headers)
        if page is not None:
            return page
    return problem_json(
        request.url.path, status, detail, code=code, errors=errors, headers=headers, extra=extra
    )


def scope_problem(scope: Scope, status: int, detail: str, **kwargs: Any) -> Response:
    """A problem response for ASGI middleware (before any Request exists); `instance` is the
    path as sent (percent-encoded), so a rejected control character stays escaped. A browser
    asking for a page outside /api gets an HTML error page instead."""
    if wants_html(scope):
        page = error_page(scope, status, detail, kwargs.get("headers"))
        if page is not None:
            return page
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", ""))
    return problem_json(path.split("?", 1)[0], status, detail, **kwargs)


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


async def _problem_error(request: Request, exc: Exception) -> Response:
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


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's detail, any cause


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    if exc.status_code == 400 and detail == BODY_PARSE_ERROR:
        return _unparsable_body(request, exc)
    if exc.status_code == 404 and detail == "Not Found":
        detail = _("nothing at %(path)s") % {"path": request.url.path}
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:  # Starlette names only the first matching route's methods
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        if detail == "Method Not Allowed":
            detail = _("%(method)s is not allowed on %(path)s") % {
                "method": asked_method(request),
                "path": request.url.path,
            }
            if allowed:
                detail += _("; allowed: %(methods)s") % {"methods": ", ".join(allowed)}
    extra = getattr(exc, "extra", None)
    return problem_response(
        request,
        exc.status_code,
        detail,
        code=getattr(exc, "code", None),
        headers=headers,
        extra=extra if isinstance(extra, dict) else None,
    )


def _unparsable_body(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI answers 400 'error parsing the body' when JSON decoding fails other than by a
    syntax error (e.g. RecursionError on JSON nested 200,000 deep): a 422 like any bad JSON."""
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        reason = "nested too deeply"
    elif isinstance(cause, UnicodeDecodeError):
        reason = "not valid UTF-8"
    else:
        reason = "not valid JSON"
    message = f"malformed JSON: {reason}"
    errors = [{"field": "body", "location": "body", "message": message, "type": "json_invalid"}]
    return problem_response(
        request,
        422,
        f"the request is invalid: body: {message}",
        code="validation-error",
        errors=errors,
    )


# The scope key holding the method the client sent when the app answers it as another (HEAD is
# routed as GET, its body dropped): messages name what the client asked for.
ASKED_METHOD = "tracker.asked_method"


def asked_method(request: Request) -> str:
    """The HTTP method the client sent (HEAD, not the GET it is routed as)."""
    return str(request.scope.get(ASKED_METHOD, request.method))


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
    if "GET" in allowed and "HEAD" not in allowed:  # HEAD is answered for every GET route
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


async def _validation_error(request: Request, exc: Exception) -> Response:
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
        _("the request is invalid: %(summary)s") % {"summary": summary}
        if summary
        else _("the request is invalid"),
        code="validation-error",
        title="Invalid request",
        errors=errors,
    )


def log_unhandled(scope: Scope, exc: BaseException) -> None:
    """One log record per unhandled error, with its traceback; the path escaped (`ascii`, so a
    NUL or newline from the URL cannot forge log lines) and the query string (where secrets
    could travel) left out."""
    log.error(
        "unhandled error on %s %s",
        scope.get("method", "?"),
        ascii(str(scope.get("path", ""))),
        exc_info=exc,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on `app` (call once in the app factory)."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # unexpected exceptions: tracker.web.app's outermost middleware (logs once, answers 500)


# --- the documentation of each problem type, served at its `type` URI ---


class ProblemTypeOut(BaseModel):
    """What one problem type means and what a client can do about it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/problems/not-found",
                    "title": "Not Found",
                    "status": 404,
                    "when": PROBLEM_TYPES["not-found"].when,
                    "what_to_do": PROBLEM_TYPES["not-found"].action,
                }
            ]
        }
    )

    type: str = Field(description="The URI a problem document names in `type` (this page).")
    title: str = Field(description="The `title` of every problem of this type.")
    status: int = Field(description="The HTTP status it is answered with.")
    when: str = Field(description="When it happens.")
    what_to_do: str = Field(description="What the client can do about it.")


def problem_type_out(code: str) -> ProblemTypeOut:
    kind = PROBLEM_TYPES[code]
    return ProblemTypeOut(
        type=f"{PROBLEM_TYPE_BASE}{code}",
        title=kind.title,
        status=kind.status,
        when=kind.when,
        what_to_do=kind.action,
    )


router = APIRouter(prefix="/api/v1", tags=["problems"])


@router.get(
    "/problems",
    response_model=list[ProblemTypeOut],
    summary="Every problem type an error response can name",
    description=(
        "Each error is an RFC 9457 problem document whose `type` is one of these URIs; each "
        "entry says when it happens and what to do. Public, even when reads need a token."
    ),
)
def list_problem_types() -> list[ProblemTypeOut]:
    return [problem_type_out(code) for code in PROBLEM_TYPES]


@router.get(
    "/problems/{code}",
    response_model=ProblemTypeOut,
    summary="The documentation of one problem type (the URI in a problem's `type`)",
    description=(
        "Title, HTTP status, when it happens and what to do, for the problem type `code` "
        "(e.g. `not-found`). 404 (problem+json) for a code that is not a problem type."
    ),
)
def get_problem_type(code: str) -> ProblemTypeOut:
    if code not in PROBLEM_TYPES:
        raise ProblemError(404, f"no problem type {code!r}", code="not-found")
    return problem_type_out(code)
