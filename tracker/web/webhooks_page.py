"""The signed-in page listing webhook subscriptions and their delivery attempts (/webhooks).

Read-only: subscriptions are managed over the API (tracker.web.api_webhooks). Only a signed-in
reviewer sees it: it names destination URLs; secrets are never shown.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tracker.web.dashboard import WebSessionDep, _refuse, _render
from tracker.web.deps import NowDep, SessionDep
from tracker.web.guard import GuardedRoute
from tracker.webhooks.events import EVENT_TYPES
from tracker.webhooks.subscriptions import live_subscriptions, subscription_deliveries

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)
PAGE_DELIVERIES = 20


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request, session: SessionDep, now: NowDep, state: WebSessionDep
) -> HTMLResponse:
    if not state.session.signed_in:
        return _refuse(
            request,
            state,
            now,
            "Sign in to see webhook subscriptions and their deliveries.",
            status_code=401,
            next_path="/webhooks",
        )
    rows = [
        (sub, subscription_deliveries(session, sub.id or 0, limit=PAGE_DELIVERIES))
        for sub in live_subscriptions(session)
    ]
    return _render(
        request,
        "webhooks.html",
        {"subscriptions": rows, "event_types": EVENT_TYPES},
        state,
        now=now,
    )
