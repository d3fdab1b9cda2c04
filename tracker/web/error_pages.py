"""HTML error pages for people: a browser asking for a page outside `/api` (its `Accept` names
`text/html` ahead of JSON) gets a readable page for a 4xx/5xx; API clients, and everything under
`/api`, keep getting problem+json (tracker.web.problems decides which through `wants_html`).

The page is rendered from the request's scope alone (no database, no session): it may be
answered by a middleware before any route ran, or after the database failed.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi.responses import HTMLResponse
from starlette.datastructures import Headers
from starlette.types import Scope

from tracker.clock import utcnow
from tracker.i18n.catalogs import N_, _

log = logging.getLogger("tracker.web")
API_PREFIX = "/api"
HTML_TYPES = ("text/html", "application/xhtml+xml")
JSON_TYPES = ("application/json", "application/problem+json")

# what a reader is told for each status, beside the detail of this error
HEADLINES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The address could not be read.")),
    401: (N_("Sign-in needed"), N_("This page needs a reviewer sign-in.")),
    403: (N_("Not allowed"), N_("You may not do this here.")),
    404: (N_("Not found"), N_("There is no page at this address.")),
    405: (N_("Not available this way"), N_("This address does not answer that kind of request.")),
    413: (N_("Too large"), N_("What was sent is larger than the server accepts.")),
    422: (N_("Not understood"), N_("Something in the address or the form is not valid.")),
    500: (
        N_("Something went wrong"),
        N_("The server hit an unexpected error; it has been logged."),
    ),
    503: (N_("Unavailable"), N_("The service cannot answer just now; try again shortly.")),
}


def _quality(part: str) -> tuple[str, float]:
    media, *params = (p.strip() for p in part.split(";"))
    q = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
    return media.lower(), q


def wants_html(scope: Scope) -> bool:
    """Whether this request came from a browser asking for a page: outside `/api`, and its
    `Accept` lists an HTML type at a quality no lower than any JSON type it lists."""
    path = str(scope.get("path", ""))
    if path == API_PREFIX or path.startswith(f"{API_PREFIX}/"):
        return False
    accept = Headers(scope=scope).get("accept", "")
    ranked = [_quality(part) for part in accept.split(",") if part.strip()]
    html = max((q for media, q in ranked if media in HTML_TYPES), default=0.0)
    json = max((q for media, q in ranked if media in JSON_TYPES), default=0.0)
    return html > 0 and html >= json


def error_page(
    scope: Scope, status: int, detail: str | None, headers: dict[str, str] | None = None
) -> HTMLResponse | None:
    """The HTML page for an error (the detail is escaped; a 500 names nothing internal), or
    None when the page itself cannot be rendered (the caller answers problem+json instead)."""
    try:
        return _render(scope, status, detail, headers)
    except Exception:  # an error page must never turn one error into a dropped connection
        log.exception("the HTML error page for %s could not be rendered", status)
        return None


def _render(
    scope: Scope, status: int, detail: str | None, headers: dict[str, str] | None
) -> HTMLResponse:
    from tracker.web.dashboard import error_page_response  # the dashboard's templates

    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title, lead = HEADLINES.get(status, (phrase, N_("The request could not be answered.")))
    context: dict[str, Any] = {
        "status": status,
        "phrase": phrase,
        "title": _(title),
        "lead": _(lead),
        "detail": None if status >= 500 or detail is None else _(detail),
        "path": str(scope.get("path", "")),
        "today": utcnow().date(),
    }
    return error_page_response(context, status, headers)
