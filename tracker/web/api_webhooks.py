"""Webhook subscriptions over the API (/api/v1/subscriptions), token scope `subscriptions`.

Create answers 201 with the signing secret (`whsec_…`), shown only then (and by rotate-secret);
a destination that is not http(s) or resolves to a non-public address (unless listed in
TRACKER_WEBHOOK_ALLOWED_HOSTS) answers 422 naming the field `url`. Every read needs the scope
too: subscriptions name URLs that may be private to their owner.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from tracker.clock import utcnow
from tracker.i18n.catalogs import _
from tracker.models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookSubscription
from tracker.web.api import PROBLEM_RESPONSES, require_scope
from tracker.web.deps import SessionDep, SettingsDep
from tracker.web.guard import GuardedRoute
from tracker.web.problems import ProblemError
from tracker.webhooks import subscriptions as subs
from tracker.webhooks.events import EVENT_TYPES

EX_SUBSCRIPTION: dict[str, Any] = {
    "id": 1,
    "url": "https://hooks.example.org/tracker",
    "events": ["claim.resolved", "claim.needs_review"],
    "filter": {"tags": ["ai"]},
    "deadline_days": 7,
    "created_by": "newsroom",
    "created_at": "2026-11-28T09:00:00Z",
    "failing_since": None,
    "disabled_at": None,
    "disabled_reason": None,
    "active": True,
}
EX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a documentation example
EX_ATTEMPT: dict[str, Any] = {
    "number": 1,
    "started_at": "2026-11-28T09:00:02Z",
    "finished_at": "2026-11-28T09:00:02Z",
    "outcome": "ok",
    "http_status": 200,
    "latency_ms": 84,
    "error": None,
    "replay": False,
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


router = APIRouter(
    prefix="/api/v1", tags=["webhooks"], responses=PROBLEM_RESPONSES, route_class=GuardedRoute
)
SubscriptionsToken = Annotated[ApiToken, require_scope("subscriptions")]


class SubscriptionOut(BaseModel):
    model_config = _examples(EX_SUBSCRIPTION)

    id: int
    url: str
    events: list[str]
    filter: dict[str, list[str]]
    deadline_days: int
    created_by: str | None
    created_at: dt.datetime
    failing_since: dt.datetime | None
    disabled_at: dt.datetime | None
    disabled_reason: str | None
    active: bool


class SubscriptionCreated(SubscriptionOut):
    model_config = _examples({**EX_SUBSCRIPTION, "secret": EX_SECRET})

    secret: str


class SecretOut(BaseModel):
    model_config = _examples(
        {"id": 1, "secret": EX_SECRET, "previous_secret_valid_until": "2026-11-29T09:00:00Z"}
    )

    id: int
    secret: str
    previous_secret_valid_until: dt.datetime | None


class AttemptOut(BaseModel):
    model_config = _examples(EX_ATTEMPT)

    number: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str | None
    http_status: int | None
    latency_ms: int | None
    error: str | None
    replay: bool


class DeliveryOut(BaseModel):
    model_config = _examples(
        {
            "id": 7,
            "event_id": "msg_2f1c0d8e9b7a4c3d8e1f0a2b3c4d5e6f",
            "event_type": "claim.resolved",
            "claim": "colossus2-grid-wait-one-year",
            "status": "delivered",
            "attempts": 1,
            "next_attempt_at": None,
            "created_at": "2026-11-28T09:00:01Z",
            "delivered_at": "2026-11-28T09:00:02Z",
            "last_error": None,
            "attempt_log": [EX_ATTEMPT],
        }
    )

    id: int
    event_id: str
    event_type: str
    claim: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    attempt_log: list[AttemptOut]


def subscription_out(sub: WebhookSubscription) -> SubscriptionOut:
    assert sub.id is not None
    return SubscriptionOut(
        id=sub.id,
        url=sub.url,
        events=list(sub.events or EVENT_TYPES),
        filter=dict(sub.filter or {}),
        deadline_days=sub.deadline_days,
        created_by=sub.created_by,
        created_at=sub.created_at,
        failing_since=sub.failing_since,
        disabled_at=sub.disabled_at,
        disabled_reason=sub.disabled_reason,
        active=sub.disabled_at is None and sub.deleted_at is None,
    )


def _attempt_out(row: WebhookAttempt) -> AttemptOut:
    return AttemptOut.model_validate(row, from_attributes=True)


def delivery_out(view: subs.DeliveryView) -> DeliveryOut:
    d: WebhookDelivery = view.delivery
    assert d.id is not None
    return DeliveryOut(
        id=d.id,
        event_id=view.event_uid,
        event_type=view.event_type,
        claim=view.claim_slug,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        last_error=d.last_error,
        attempt_log=[_attempt_out(a) for a in view.attempts],
    )


def _invalid(exc: subs.InvalidSubscription) -> ProblemError:
    return ProblemError(
        422,
        str(exc),
        code="validation-error",
        errors=[{"field": exc.field, "location": "body", "message": str(exc)}],
    )


def _found(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = subs.get_subscription(session, subscription_id)
    if sub is None:
        raise ProblemError(
            404,
            _("no subscription with id %(id)s") % {"id": subscription_id},
            code="not-found",
            title="Not Found",
        )
    return sub


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe a URL to signed webhooks (the secret is shown only in this answer)",
    description=(
        "Needs scope `subscriptions`. Body: `url` (http or https, a public destination unless "
        "its host is in TRACKER_WEBHOOK_ALLOWED_HOSTS), optional `events` (omitted: every "
        f"event: {', '.join(EVENT_TYPES)}), optional `filter` (`claims`, `tags`, `claimant`: "
        "lists of slugs/tags; omitted: every claim) and `deadline_days` (for "
        "claim.deadline_approaching; default 7). Deliveries follow the Standard Webhooks "
        "spec, signed with the `secret` (whsec_…) of this answer; it is never shown again "
        "(rotate it with rotate-secret). A refused destination or bad field answers 422."
    ),
)
def create_subscription(
    body: Annotated[dict[str, Any], Body()],
    session: SessionDep,
    settings: SettingsDep,
    token: SubscriptionsToken,
) -> SubscriptionCreated:
    unknown = sorted(set(body) - {"url", "events", "filter", "deadline_days"})
    if unknown:
        raise _invalid(subs.InvalidSubscription(f"unknown field {unknown[0]!r}", field=unknown[0]))
    try:
        sub, secret = subs.create_subscription(
            session,
            settings,
            url=body.get("url"),
            events=body.get("events"),
            filter=body.get("filter"),
            deadline_days=body.get("deadline_days", 7),
            created_by=token.name,
            now=utcnow(),
        )
    except subs.InvalidSubscription as exc:
        session.rollback()
        raise _invalid(exc) from exc
    session.commit()
    return SubscriptionCreated(**subscription_out(sub).model_dump(), secret=secret)


@router.get(
    "/subscriptions",
    response_model=list[SubscriptionOut],
    summary="Every subscription (never its secret)",
    description=(
        "Needs scope `subscriptions`. Every subscription not deleted, oldest first; a disabled "
        "one has `active` false and says why in `disabled_reason`. Secrets are never listed."
    ),
)
def list_subscriptions(session: SessionDep, _token: SubscriptionsToken) -> list[SubscriptionOut]:
    return [subscription_out(s) for s in subs.live_subscriptions(session)]


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    summary="One subscription (never its secret); `disabled_reason` says why it stopped",
    description="Needs scope `subscriptions`. 404 for an unknown or deleted id.",
)
def get_subscription(
    subscription_id: int, session: SessionDep, _token: SubscriptionsToken
) -> SubscriptionOut:
    return subscription_out(_found(session, subscription_id))


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Delete a subscription: nothing more is sent (its delivery log stays)",
    description=(
        "Needs scope `subscriptions`. Answers 204; deliveries not yet sent are dropped "
        "(marked failed); the attempts already made stay in the database."
    ),
)
def delete_subscription(
    subscription_id: int, session: SessionDep, _token: SubscriptionsToken
) -> Response:
    subs.delete_subscription(session, _found(session, subscription_id), now=utcnow())
    session.commit()
    return Response(status_code=204)


@router.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    response_model=SecretOut,
    summary="A new signing secret (shown once); the old one also signs for 24 hours",
    description=(
        "Needs scope `subscriptions`. Until `previous_secret_valid_until` every delivery "
        "carries two v1 signatures (new and old secret), so a receiver can switch secrets "
        "without rejecting a delivery."
    ),
)
def rotate_secret(
    subscription_id: int, session: SessionDep, _token: SubscriptionsToken
) -> SecretOut:
    sub = _found(session, subscription_id)
    secret = subs.rotate_secret(session, sub, now=utcnow())
    session.commit()
    assert sub.id is not None
    return SecretOut(
        id=sub.id, secret=secret, previous_secret_valid_until=sub.previous_secret_until
    )


@router.post(
    "/subscriptions/{subscription_id}/enable",
    response_model=SubscriptionOut,
    summary="Enable a subscription that was disabled after failing deliveries",
    description=(
        "Needs scope `subscriptions`. A subscription whose deliveries failed for "
        "TRACKER_WEBHOOK_DISABLE_AFTER_HOURS (72) without a success is disabled; after fixing "
        "the receiver, enable it: its pending deliveries are sent again."
    ),
)
def enable_subscription(
    subscription_id: int, session: SessionDep, _token: SubscriptionsToken
) -> SubscriptionOut:
    sub = _found(session, subscription_id)
    subs.enable_subscription(session, sub)
    session.commit()
    return subscription_out(sub)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="The subscription's latest deliveries, newest first, each with every attempt",
    description=(
        "Each delivery is one event sent to this subscription (`event_id` is its webhook-id); "
        "`attempt_log` lists every try with its outcome (ok, retry, failed, refused, "
        "interrupted), HTTP status, latency and error."
    ),
)
def list_deliveries(
    subscription_id: int, session: SessionDep, _token: SubscriptionsToken
) -> list[DeliveryOut]:
    _found(session, subscription_id)
    return [delivery_out(v) for v in subs.subscription_deliveries(session, subscription_id)]


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again (same webhook-id and body) on the next delivery run",
    description=(
        "Needs scope `subscriptions`. Answers 202 with the delivery, now pending: the "
        "scheduler sends it within seconds, freshly timestamped and signed, logged as a replay "
        "attempt. 409 while it is being sent."
    ),
)
def replay(
    request: Request,
    subscription_id: int,
    delivery_id: int,
    session: SessionDep,
    _token: SubscriptionsToken,
) -> DeliveryOut:
    _found(session, subscription_id)
    try:
        delivery = subs.replayable_delivery(session, subscription_id, delivery_id)
    except subs.ReplayRefused as exc:
        if exc.status == 404:
            raise ProblemError(404, str(exc), code="not-found", title="Not Found") from None
        raise ProblemError(409, str(exc), code="conflict") from None
    subs.replay_delivery(session, delivery, now=utcnow())
    session.commit()
    view = next(
        v
        for v in subs.subscription_deliveries(session, subscription_id, limit=10_000)
        if v.delivery.id == delivery_id
    )
    return delivery_out(view)
