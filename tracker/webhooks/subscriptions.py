"""Managing subscriptions: create (the secret is returned once), list, delete, rotate the
secret, replay a delivery. Used by the API (tracker.web.api_webhooks) and the signed-in page.
Nothing here commits: the caller does."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.config import Settings
from tracker.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tracker.webhooks.destinations import (
    RefusedDestination,
    Resolver,
    allowed_hosts,
    check_destination,
    system_resolver,
)
from tracker.webhooks.events import EVENT_TYPES
from tracker.webhooks.signing import new_secret

FILTER_KEYS = ("claims", "tags", "claimant")
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_DEADLINE_DAYS = 366


class InvalidSubscription(ValueError):
    """A subscription field is invalid; `field` names it (for a 422)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _string_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidSubscription(f"{field} must be a list of non-empty strings", field=field)
    return list(dict.fromkeys(v.strip() for v in value))


def normalise_events(events: Any) -> list[str]:
    """The event types asked for (empty: every one); InvalidSubscription naming an unknown one."""
    if events is None:
        return []
    found = _string_list(events, "events")
    unknown = [e for e in found if e not in EVENT_TYPES]
    if unknown:
        raise InvalidSubscription(
            f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}", field="events"
        )
    return found


def normalise_filter(raw: Any) -> dict[str, list[str]]:
    """{"claims": [slug…], "tags": […], "claimant": [slug…]}, each optional (omitted: any)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidSubscription("filter must be an object", field="filter")
    unknown = [k for k in raw if k not in FILTER_KEYS]
    if unknown:
        raise InvalidSubscription(
            f"unknown filter key {unknown[0]!r}; known: {', '.join(FILTER_KEYS)}", field="filter"
        )
    return {k: _string_list(v, f"filter.{k}") for k, v in raw.items() if v is not None}


def check_subscription_url(
    url: Any, settings: Settings, *, resolve: Resolver = system_resolver
) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidSubscription("url is required", field="url")
    if len(url) > 2000:
        raise InvalidSubscription("url is longer than 2000 characters", field="url")
    try:
        check_destination(
            url.strip(), allowed_hosts(settings.webhook_allowed_hosts), resolve=resolve
        )
    except RefusedDestination as exc:
        raise InvalidSubscription(f"refused destination: {exc}", field="url") from None
    return url.strip()


def create_subscription(
    session: Session,
    settings: Settings,
    *,
    url: Any,
    events: Any = None,
    filter: Any = None,
    deadline_days: Any = 7,
    created_by: str | None,
    now: dt.datetime,
    resolve: Resolver = system_resolver,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown to the caller once, never again)."""
    checked_events = normalise_events(events)
    checked_filter = normalise_filter(filter)
    if (
        not isinstance(deadline_days, int)
        or isinstance(deadline_days, bool)
        or not 0 <= deadline_days <= MAX_DEADLINE_DAYS
    ):
        raise InvalidSubscription(
            f"deadline_days must be a whole number from 0 to {MAX_DEADLINE_DAYS}",
            field="deadline_days",
        )
    checked_url = check_subscription_url(url, settings, resolve=resolve)
    secret = new_secret()
    sub = WebhookSubscription(
        url=checked_url,
        events=checked_events,
        filter=checked_filter,
        deadline_days=deadline_days,
        secret=secret,
        created_by=created_by,
        created_at=now,
    )
    session.add(sub)
    session.flush()
    return sub, secret


def live_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(
        session.exec(
            select(WebhookSubscription)
            .where(col(WebhookSubscription.deleted_at).is_(None))
            .order_by(col(WebhookSubscription.id))
        ).all()
    )


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription | None:
    sub = session.get(WebhookSubscription, subscription_id)
    return sub if sub is not None and sub.deleted_at is None else None


def delete_subscription(session: Session, sub: WebhookSubscription, *, now: dt.datetime) -> None:
    """Stop sending to it (its deliveries stay readable); pending deliveries are dropped."""
    sub.deleted_at = now
    session.add(sub)
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    session.execute(
        sa.update(table)
        .where(table.c.subscription_id == sub.id, table.c.status == "pending")
        .values(status="failed", last_error="the subscription was deleted")
    )


def rotate_secret(session: Session, sub: WebhookSubscription, *, now: dt.datetime) -> str:
    """A new secret (returned once); the old one also signs for ROTATION_GRACE, so receivers
    can switch without dropping a delivery."""
    secret = new_secret()
    sub.previous_secret = sub.secret
    sub.previous_secret_until = now + ROTATION_GRACE
    sub.secret = secret
    session.add(sub)
    return secret


def enable_subscription(session: Session, sub: WebhookSubscription) -> None:
    """Undo an automatic disabling (after the receiver was fixed)."""
    sub.disabled_at = None
    sub.disabled_reason = None
    sub.failing_since = None
    session.add(sub)


class ReplayRefused(LookupError):
    """A delivery that cannot be replayed; `status` is the HTTP answer (404 unknown, 409 busy)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def replayable_delivery(
    session: Session, subscription_id: int, delivery_id: int
) -> WebhookDelivery:
    """The subscription's delivery `delivery_id`, if it may be replayed now (ReplayRefused)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise ReplayRefused(
            f"no delivery {delivery_id} for subscription {subscription_id}", status=404
        )
    if delivery.status == "sending":
        raise ReplayRefused("this delivery is being sent right now; retry", status=409)
    return delivery


def replay_delivery(session: Session, delivery: WebhookDelivery, *, now: dt.datetime) -> None:
    """Send a delivery again (same webhook-id and body) at the next run of the delivery job."""
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.claimed_until = None
    session.add(delivery)


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    event_type: str
    event_uid: str
    claim_slug: str | None
    attempts: list[WebhookAttempt]


def subscription_deliveries(
    session: Session, subscription_id: int, *, limit: int = 100
) -> list[DeliveryView]:
    """The subscription's latest deliveries, newest first, each with its attempts."""
    from tracker.models import Claim, WebhookEvent

    rows = session.execute(
        sa.select(WebhookDelivery, col(WebhookEvent.type), col(WebhookEvent.uid), col(Claim.slug))
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .outerjoin(Claim, col(Claim.id) == col(WebhookEvent.claim_id))
        .where(col(WebhookDelivery.subscription_id) == subscription_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    ids = [row[0].id for row in rows]
    attempts: dict[int, list[WebhookAttempt]] = {}
    if ids:
        for attempt in session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(col(WebhookAttempt.number))
        ).all():
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        DeliveryView(row[0], row[1], row[2], row[3], attempts.get(row[0].id or 0, []))
        for row in rows
    ]
