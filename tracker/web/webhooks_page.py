"""The signed-in page listing and managing webhook subscriptions (/webhooks).

Signed in with a token holding the `subscriptions` scope (the API's scope for the same things:
the page names destination URLs that may be private to their owner). Its forms create,
delete (after a confirmation page), rotate the secret of, re-enable and replay deliveries of
subscriptions through the functions the API uses (tracker.webhooks.subscriptions), each a POST
echoing the session's CSRF token, answered by a redirect back to the page (post/redirect/get),
or by the page again with the error beside the form (422/404/409).

A signing secret is shown once: on the page the create or rotate redirects to. It travels
there by way of a short-lived cookie (`tracker_reveal`, path /webhooks, HttpOnly,
SameSite=Strict) that holds no secret: the subscription's id and a fingerprint of the new secret,
signed with the session key and bound to the session's CSRF token; that page reads the secret from
the database and deletes the cookie, so a reload no longer shows it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from tracker.i18n.catalogs import N_, _
from tracker.models import ApiToken, WebhookSubscription
from tracker.web.dashboard import (
    CSRF_MESSAGE,
    SUBSCRIPTIONS_SCOPE,
    SessionState,
    WebSessionDep,
    _csrf_ok,
    _redirect,
    _refuse,
    _render,
    _session_key,
    missing_scope,
    scoped_token,
)
from tracker.web.deps import NowDep, SessionDep, SettingsDep
from tracker.web.guard import DbId, GuardedRoute
from tracker.webhooks import subscriptions as subs
from tracker.webhooks.events import DEADLINE_APPROACHING, EVENT_TYPES

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)
PAGE_DELIVERIES = 20
PAGE = "/webhooks"
REVEAL_COOKIE = "tracker_reveal"
REVEAL_SECONDS = 120
FIELD_LABELS = {
    "url": N_("Destination URL"),
    "events": N_("Events"),
    "filter": N_("Filter"),
    "filter.claims": N_("Claims"),
    "filter.tags": N_("Tags"),
    "filter.claimant": N_("Claimants"),
    "deadline_days": N_("Days before a deadline"),
}


# --- the one-time secret, shown on the page a create or rotate redirects to ---
#
# The cookie carries no secret: only which subscription, which of its secrets (a fingerprint, so
# a cookie from before a rotation reveals nothing) and until when, signed with the session key
# and bound to the session's CSRF token. The page reads the secret itself from the database.


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _sign(key: bytes, csrf: str, body: bytes) -> bytes:
    return hmac.new(key, b"reveal:" + csrf.encode() + b":" + body, hashlib.sha256).digest()


def _seal(key: bytes, csrf: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(body + _sign(key, csrf, body)).decode().rstrip("=")


def _open(
    key: bytes, csrf: str, value: str, session: Session, now: dt.datetime
) -> dict[str, Any] | None:
    """The secret to show, if the cookie is genuine, unexpired and names the current secret."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    body, tag = raw[:-32], raw[-32:]
    if len(raw) < 33 or not hmac.compare_digest(tag, _sign(key, csrf, body)):
        return None
    try:
        data = json.loads(body)
        sub_id, what, fingerprint = int(data["id"]), str(data["what"]), str(data["fp"])
        until = float(data["until"])
    except (ValueError, KeyError, TypeError):
        return None
    if now.timestamp() > until:
        return None
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or not hmac.compare_digest(_fingerprint(sub.secret), fingerprint):
        return None
    return {"id": sub_id, "secret": sub.secret, "what": what}


def _revealing(
    request: Request,
    state: SessionState,
    sub: WebhookSubscription,
    secret: str,
    what: str,
    now: dt.datetime,
) -> Response:
    """303 back to the page, which then shows the new secret once."""
    response = _redirect(request, f"{PAGE}#secret")
    payload = {
        "id": sub.id,
        "what": what,
        "fp": _fingerprint(secret),
        "until": now.timestamp() + REVEAL_SECONDS,
    }
    response.set_cookie(
        REVEAL_COOKIE,
        _seal(_session_key(request), state.session.csrf, payload),
        max_age=REVEAL_SECONDS,
        path=PAGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# --- the page ---


@dataclass
class CreateForm:
    """What was typed into the create form (sent back with its error; never stored)."""

    url: str = ""
    events: tuple[str, ...] = ()
    claims: str = ""
    tags: str = ""
    claimant: str = ""
    deadline_days: str = "7"


def _words(value: str) -> list[str] | None:
    """A comma- or space-separated list typed into a filter field; None when empty."""
    found = [w for w in value.replace(",", " ").split() if w]
    return found or None


def _allowed(
    request: Request, session: Session, state: SessionState, now: dt.datetime, csrf_token: str
) -> Response | ApiToken:
    """The signed-in token with `subscriptions`, or the page refusing the request: 401 signed
    out, 403 without the scope, 403 when the form's CSRF token does not match."""
    if not state.session.signed_in:
        return _refuse(
            request,
            state,
            now,
            _("Sign in to see and manage webhook subscriptions."),
            status_code=401,
            next_path=PAGE,
        )
    token = scoped_token(session, state.session, SUBSCRIPTIONS_SCOPE)
    if token is None:
        return missing_scope(request, state, now, SUBSCRIPTIONS_SCOPE, next_path=PAGE)
    if request.method == "POST" and not _csrf_ok(state, csrf_token):
        return _refuse(
            request,
            state,
            now,
            _("Nothing was changed. %(why)s") % {"why": _(CSRF_MESSAGE)},
            next_path=PAGE,
        )
    return token


def _page(
    request: Request,
    session: Session,
    state: SessionState,
    now: dt.datetime,
    *,
    form: CreateForm | None = None,
    error: tuple[str, str] | None = None,
    sub_errors: dict[int, str] | None = None,
    revealed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = [
        (sub, subs.subscription_deliveries(session, sub.id or 0, limit=PAGE_DELIVERIES))
        for sub in subs.live_subscriptions(session)
    ]
    context = {
        "subscriptions": rows,
        "event_types": EVENT_TYPES,
        "deadline_event": DEADLINE_APPROACHING,
        "form": form or CreateForm(),
        "form_error": error,
        "field_labels": FIELD_LABELS,
        "sub_errors": sub_errors or {},
        "revealed": revealed,
    }
    return _render(request, "webhooks.html", context, state, now=now, status_code=status_code)


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request, session: SessionDep, now: NowDep, state: WebSessionDep
) -> Response:
    allowed = _allowed(request, session, state, now, "")
    if isinstance(allowed, Response):
        return allowed
    revealed = None
    sealed = request.cookies.get(REVEAL_COOKIE)
    if sealed:
        revealed = _open(_session_key(request), state.session.csrf, sealed, session, now)
    response = _page(request, session, state, now, revealed=revealed)
    if sealed:  # shown once: a reload finds no secret
        response.delete_cookie(REVEAL_COOKIE, path=PAGE, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/webhooks", response_model=None)
def create(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    claims: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    claimant: Annotated[str, Form()] = "",
    deadline_days: Annotated[str, Form()] = "7",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    allowed = _allowed(request, session, state, now, csrf_token)
    if isinstance(allowed, Response):
        return allowed
    form = CreateForm(url, tuple(events or ()), claims, tags, claimant, deadline_days)
    try:
        days = int(deadline_days.strip() or "7")
    except ValueError:
        error = ("deadline_days", f"{deadline_days!r} is not a whole number of days")
        return _page(request, session, state, now, form=form, error=error, status_code=422)
    filter_: dict[str, list[str]] = {}
    for key, typed in (("claims", claims), ("tags", tags), ("claimant", claimant)):
        words = _words(typed)
        if words is not None:
            filter_[key] = words
    try:
        sub, secret = subs.create_subscription(
            session,
            settings,
            url=url,
            events=list(events) if events else None,
            filter=filter_ or None,
            deadline_days=days,
            created_by=allowed.name,
            now=now,
        )
    except subs.InvalidSubscription as exc:
        session.rollback()
        error = (exc.field, str(exc))
        return _page(request, session, state, now, form=form, error=error, status_code=422)
    session.commit()
    return _revealing(request, state, sub, secret, "created", now)


def _subscription_or_404(
    request: Request,
    session: Session,
    state: SessionState,
    now: dt.datetime,
    sub_id: int,
    csrf_token: str,
) -> WebhookSubscription | Response:
    """The subscription a form acts on, once the sign-in (and CSRF token) allow it, or the page
    refusing the request (as `_allowed`, or 404)."""
    allowed = _allowed(request, session, state, now, csrf_token)
    if isinstance(allowed, Response):
        return allowed
    sub = subs.get_subscription(session, sub_id)
    if sub is None:
        return _refuse(
            request,
            state,
            now,
            _("There is no subscription #%(id)s.") % {"id": sub_id},
            404,
            next_path=PAGE,
        )
    return sub


@router.get("/webhooks/{subscription_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    subscription_id: DbId, request: Request, session: SessionDep, now: NowDep, state: WebSessionDep
) -> Response:
    """The confirmation asked before a subscription is deleted."""
    sub = _subscription_or_404(request, session, state, now, subscription_id, "")
    if isinstance(sub, Response):
        return sub
    return _render(request, "webhook_delete.html", {"sub": sub}, state, now=now)


@router.post("/webhooks/{subscription_id}/delete", response_model=None)
def delete(
    subscription_id: DbId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    sub = _subscription_or_404(request, session, state, now, subscription_id, csrf_token)
    if isinstance(sub, Response):
        return sub
    subs.delete_subscription(session, sub, now=now)
    session.commit()
    return _redirect(request, PAGE)


@router.post("/webhooks/{subscription_id}/rotate-secret", response_model=None)
def rotate(
    subscription_id: DbId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    sub = _subscription_or_404(request, session, state, now, subscription_id, csrf_token)
    if isinstance(sub, Response):
        return sub
    secret = subs.rotate_secret(session, sub, now=now)
    session.commit()
    return _revealing(request, state, sub, secret, "rotated", now)


@router.post("/webhooks/{subscription_id}/enable", response_model=None)
def enable(
    subscription_id: DbId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    sub = _subscription_or_404(request, session, state, now, subscription_id, csrf_token)
    if isinstance(sub, Response):
        return sub
    subs.enable_subscription(session, sub)
    session.commit()
    return _redirect(request, f"{PAGE}#sub-{subscription_id}")


@router.post("/webhooks/{subscription_id}/deliveries/{delivery_id}/replay", response_model=None)
def replay(
    subscription_id: DbId,
    delivery_id: DbId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    sub = _subscription_or_404(request, session, state, now, subscription_id, csrf_token)
    if isinstance(sub, Response):
        return sub
    try:
        delivery = subs.replayable_delivery(session, subscription_id, delivery_id)
    except subs.ReplayRefused as exc:
        errors = {subscription_id: _("Nothing was replayed: %(why)s.") % {"why": exc}}
        return _page(request, session, state, now, sub_errors=errors, status_code=exc.status)
    subs.replay_delivery(session, delivery, now=now)
    session.commit()
    return _redirect(request, f"{PAGE}#sub-{subscription_id}")
