"""Fan-out and delivery of outbox events, run by the scheduler-lease holder every few seconds.

One run (`run_once`):
1. fan out every event not yet dispatched: its body (the event, the claim and its status as
   the API serves it) is fixed once, and one WebhookDelivery per matching live subscription
   is inserted (unique per event and subscription), in one transaction with `dispatched_at`;
2. write the deadline notices now due (once per claim, subscription and deadline);
3. send each due delivery: first *claim* it (attempt row and `sending` committed before the
   request), then check the destination again, POST it signed (Standard Webhooks) without
   following redirects, with timeouts and a capped body read, and record the answer.
   A crash between claim and answer leaves a `sending` row whose claim expires: the next run
   sends it again with the same webhook-id (receivers de-duplicate on it). Timeouts, 429
   (Retry-After honoured) and 5xx are retried with exponential backoff and jitter until
   `webhook_retry_hours`; a subscription failing for `webhook_disable_after_hours` without a
   success is disabled with the reason.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.models import (
    Claim,
    Claimant,
    Evaluation,
    FetchRun,
    Lifecycle,
    Resolution,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from tracker.webhooks import events as ev
from tracker.webhooks.destinations import (
    RefusedDestination,
    Resolver,
    allowed_hosts,
    check_destination,
    pinned,
    system_resolver,
)
from tracker.webhooks.signing import signature_header

log = logging.getLogger(__name__)
FANOUT_BATCH = 500
SEND_BATCH = 50
CLAIM_MARGIN = dt.timedelta(seconds=2)
USER_AGENT = "tracker-webhooks/1"
_RESOLVED = ("resolved_true", "resolved_false", "resolved_partial", "void", "ambiguous")


# --- fan-out ---


def _claim_facts(session: Session, claim_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not claim_ids:
        return {}
    rows = session.execute(
        sa.select(Claim, col(Claimant.slug))
        .join(Claimant, col(Claimant.id) == col(Claim.claimant_id))
        .where(col(Claim.id).in_(list(set(claim_ids))))
    ).all()
    return {claim.id: {"claim": claim, "claimant": slug} for claim, slug in rows}


def matches(sub: WebhookSubscription, event_type: str, claims: Sequence[dict[str, Any]]) -> bool:
    """Whether `sub` wants this event about these claims (facts: claim row, claimant slug)."""
    if sub.events and event_type not in sub.events:
        return False
    wanted = sub.filter or {}
    if not wanted:
        return True
    for facts in claims:
        claim: Claim = facts["claim"]
        if "claims" in wanted and claim.slug not in wanted["claims"]:
            continue
        if "tags" in wanted and not set(wanted["tags"]) & set(claim.tags or []):
            continue
        if "claimant" in wanted and facts["claimant"] not in wanted["claimant"]:
            continue
        return True
    return False


def _claim_block(claim: Claim, claimant: str, public_url: str) -> dict[str, Any]:
    return {
        "slug": claim.slug,
        "title": claim.title,
        "claimant": claimant,
        "deadline": claim.deadline.isoformat() if claim.deadline else None,
        "tags": list(claim.tags or []),
        "url": f"{public_url}/claims/{claim.slug}" if public_url else f"/claims/{claim.slug}",
        "api_url": f"{public_url}/api/v1/claims/{claim.slug}",
    }


def build_payload(
    session: Session, event: WebhookEvent, facts: dict[str, Any] | None, public_url: str
) -> dict[str, Any]:
    """The JSON body: {type, timestamp, data}; data holds the event's own fields and, for a
    claim, the claim and its status as the API serves it (the evaluation the event is about,
    else the claim's current one)."""
    from tracker.web import schemas  # the API's shapes: an edge, imported when used

    data: dict[str, Any] = dict(event.data or {})
    data["event_id"] = event.uid
    if facts is not None:
        claim: Claim = facts["claim"]
        data["claim"] = _claim_block(claim, facts["claimant"], public_url)
        evaluation_id = event.evaluation_id or claim.status_evaluation_id
        evaluation = session.get(Evaluation, evaluation_id) if evaluation_id else None
        data["status"] = schemas.status_out(evaluation, claim).model_dump(mode="json")
    if event.resolution_id is not None:
        resolution = session.get(Resolution, event.resolution_id)
        if resolution is not None:
            judged = session.get(Claim, resolution.claim_id)
            deadline = judged.deadline if judged is not None else None
            out = schemas.resolution_out(resolution, deadline)  # marks early/overriding verdicts
            data["resolution"] = out.model_dump(mode="json")
    return {"type": event.type, "timestamp": event.created_at.isoformat(), "data": data}


def _quarantine_claims(session: Session, event: WebhookEvent) -> list[int]:
    from tracker.status import claims_using_indicators

    run = session.get(FetchRun, event.fetch_run_id) if event.fetch_run_id else None
    if run is None or run.indicator_id is None:
        return []
    return claims_using_indicators(session, [run.indicator_id])


def fan_out(session: Session, settings: Settings, *, now: dt.datetime) -> int:
    """Dispatch undispatched events (oldest first, a batch); the number of deliveries made."""
    events = list(
        session.exec(
            select(WebhookEvent)
            .where(col(WebhookEvent.dispatched_at).is_(None))
            .order_by(col(WebhookEvent.id))
            .limit(FANOUT_BATCH)
        ).all()
    )
    if not events:
        return 0
    subs = list(
        session.exec(
            select(WebhookSubscription).where(
                col(WebhookSubscription.deleted_at).is_(None),
                col(WebhookSubscription.disabled_at).is_(None),
            )
        ).all()
    )
    related = {e.id: _quarantine_claims(session, e) for e in events if e.type == ev.QUARANTINED}
    facts = _claim_facts(
        session,
        [e.claim_id for e in events if e.claim_id] + [i for ids in related.values() for i in ids],
    )
    rows: list[dict[str, Any]] = []
    for event in events:
        own = facts.get(event.claim_id) if event.claim_id else None
        about = [own] if own else [facts[i] for i in related.get(event.id, []) if i in facts]
        if event.type == ev.QUARANTINED:
            event.data = {**event.data, "claims": sorted(f["claim"].slug for f in about)}
        event.payload = build_payload(session, event, own, settings.public_url)
        event.dispatched_at = now
        session.add(event)
        for sub in subs:
            if event.subscription_id is not None and event.subscription_id != sub.id:
                continue
            if sub.created_at > event.created_at:
                continue  # subscribed after the change happened
            if event.type == ev.QUARANTINED and not about and sub.filter:
                continue
            if not matches(sub, event.type, about or ([] if sub.filter else [{}])):
                continue
            rows.append(
                {
                    "event_id": event.id,
                    "subscription_id": sub.id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        session.execute(sa.insert(WebhookDelivery.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def queue_deadline_notices(session: Session, *, now: dt.datetime) -> int:
    """Outbox rows for claims whose deadline is within a subscription's deadline_days: once per
    claim, subscription and deadline (dedupe_key). Unresolved, active claims only."""
    subs = [
        s
        for s in session.exec(
            select(WebhookSubscription).where(
                col(WebhookSubscription.deleted_at).is_(None),
                col(WebhookSubscription.disabled_at).is_(None),
            )
        ).all()
        if not s.events or ev.DEADLINE_APPROACHING in s.events
    ]
    if not subs:
        return 0
    today = now.date()
    horizon = today + dt.timedelta(days=max(s.deadline_days for s in subs))
    rows = session.execute(
        sa.select(Claim, col(Claimant.slug))
        .join(Claimant, col(Claimant.id) == col(Claim.claimant_id))
        .where(
            col(Claim.deadline).is_not(None),
            col(Claim.deadline) >= today,
            col(Claim.deadline) <= horizon,
            col(Claim.lifecycle) == Lifecycle.active.value,
            sa.or_(col(Claim.status_state).is_(None), col(Claim.status_state).not_in(_RESOLVED)),
        )
    ).all()
    wanted: list[dict[str, Any]] = []
    for claim, claimant in rows:
        assert claim.id is not None and claim.deadline is not None
        for sub in subs:
            assert sub.id is not None
            if claim.deadline > today + dt.timedelta(days=sub.deadline_days):
                continue
            if not matches(sub, ev.DEADLINE_APPROACHING, [{"claim": claim, "claimant": claimant}]):
                continue
            wanted.append(
                {
                    "type": ev.DEADLINE_APPROACHING,
                    "claim_id": claim.id,
                    "subscription_id": sub.id,
                    "dedupe_key": ev.deadline_key(sub.id, claim.id, claim.deadline),
                    "data": {
                        "deadline": claim.deadline.isoformat(),
                        "days_left": (claim.deadline - today).days,
                        "deadline_days": sub.deadline_days,
                    },
                }
            )
    if not wanted:
        return 0
    done = set(
        session.execute(
            sa.select(col(WebhookEvent.dedupe_key)).where(
                col(WebhookEvent.dedupe_key).in_([w["dedupe_key"] for w in wanted])
            )
        ).scalars()
    )
    new = [w for w in wanted if w["dedupe_key"] not in done]
    for row in new:
        row.update(uid=ev.new_uid(), created_at=now, evaluation_id=None, resolution_id=None)
        row.update(fetch_run_id=None)
    if new:
        session.execute(sa.insert(WebhookEvent.__table__), new)  # type: ignore[attr-defined]
    return len(new)


# --- sending ---


@dataclass(frozen=True)
class Answer:
    outcome: str  # ok | retry | failed | refused
    http_status: int | None
    latency_ms: int
    error: str | None
    retry_after: float | None = None


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def backoff(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempts` + 1: base·2^(n-1), capped, with ±25 % jitter."""
    base = min(settings.webhook_retry_base * 2 ** max(attempts - 1, 0), settings.webhook_retry_max)
    return float(base * (rng or random).uniform(0.75, 1.25))


def make_client(settings: Settings) -> httpx.Client:
    """The webhook client: no redirects followed, connect/read timeouts, no proxies from the
    environment, no cookies kept between deliveries."""
    timeout = httpx.Timeout(
        connect=settings.webhook_timeout_connect,
        read=settings.webhook_timeout_read,
        write=settings.webhook_timeout_read,
        pool=settings.webhook_timeout_connect,
    )
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def send(
    client: httpx.Client,
    settings: Settings,
    sub: WebhookSubscription,
    *,
    msg_id: str,
    body: bytes,
    now: dt.datetime,
    resolve: Resolver = system_resolver,
) -> Answer:
    """One signed POST to the subscription's URL (after checking the destination again)."""
    started = time.monotonic()

    def ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        addresses = check_destination(
            sub.url, allowed_hosts(settings.webhook_allowed_hosts), resolve=resolve
        )
    except RefusedDestination as exc:
        return Answer("refused", None, ms(), f"refused destination: {exc}")
    target, host_header = pinned(sub.url, addresses[0])
    host = urlsplit(sub.url).hostname or ""
    timestamp = int(now.timestamp())
    secrets_ = [sub.secret]
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        secrets_.append(sub.previous_secret)
    headers = {
        "host": host_header,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }
    try:
        extensions = {"sni_hostname": host} if target.startswith("https:") else {}
        with client.stream(
            "POST", target, content=body, headers=headers, extensions=extensions
        ) as response:
            read = 0
            budget = settings.webhook_timeout_connect + settings.webhook_timeout_read
            for chunk in response.iter_bytes():
                read += len(chunk)
                if read >= settings.webhook_max_response_bytes:
                    break  # the answer's body is not needed beyond a glimpse
                if time.monotonic() - started > budget:
                    break  # a body trickling in slowly: the status is the answer
            status = response.status_code
            retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    except httpx.TimeoutException as exc:
        return Answer("retry", None, ms(), f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Answer("retry", None, ms(), f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return Answer("ok", status, ms(), None)
    if status == 429 or status >= 500 or status == 408:
        return Answer("retry", status, ms(), f"HTTP {status}", retry_after)
    if 300 <= status < 400:
        return Answer("failed", status, ms(), f"HTTP {status}: redirects are not followed")
    return Answer("failed", status, ms(), f"HTTP {status}")


def _claim(
    engine: Engine, delivery_id: int, *, now: dt.datetime, holder: str, hold: dt.timedelta
) -> tuple[WebhookDelivery, WebhookAttempt, WebhookSubscription, WebhookEvent] | None:
    """Claim a due delivery for one attempt, committed before anything is sent: its attempt
    row is the proof. None when it is no longer due (another run took it)."""
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return None
        table = WebhookDelivery.__table__  # type: ignore[attr-defined]
        due = sa.or_(
            sa.and_(table.c.status == "pending", table.c.next_attempt_at <= now),
            sa.and_(table.c.status == "sending", table.c.claimed_until < now),
        )
        taken = session.execute(
            sa.update(table)
            .where(table.c.id == delivery_id, table.c.attempts == delivery.attempts, due)
            .values(status="sending", attempts=delivery.attempts + 1, claimed_until=now + hold)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        att_t = WebhookAttempt.__table__  # type: ignore[attr-defined]
        session.execute(  # an attempt cut short by a crash: it never got an answer
            sa.update(att_t)
            .where(att_t.c.delivery_id == delivery_id, att_t.c.outcome.is_(None))
            .values(
                outcome="interrupted",
                error="the delivering process stopped before an answer was recorded",
            )
        )
        attempt = WebhookAttempt(
            delivery_id=delivery_id,
            number=delivery.attempts + 1,
            started_at=now,
            holder=holder,
            replay=delivery.delivered_at is not None,
        )
        session.add(attempt)
        session.commit()
        session.refresh(delivery)
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        event = session.get(WebhookEvent, delivery.event_id)
        assert sub is not None and event is not None
        return delivery, attempt, sub, event


def _record(
    engine: Engine,
    settings: Settings,
    delivery_id: int,
    attempt_id: int,
    answer: Answer,
    *,
    now: dt.datetime,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        attempt = session.get(WebhookAttempt, attempt_id)
        assert delivery is not None and attempt is not None
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        assert sub is not None
        attempt.finished_at = now
        attempt.outcome = answer.outcome
        attempt.http_status = answer.http_status
        attempt.latency_ms = answer.latency_ms
        attempt.error = answer.error
        delivery.claimed_until = None
        if answer.outcome == "ok":
            delivery.status = "delivered"
            delivery.delivered_at = now
            delivery.last_error = None
            sub.failing_since = None
        else:
            delivery.last_error = answer.error
            gave_up_at = delivery.created_at + dt.timedelta(hours=settings.webhook_retry_hours)
            wait = backoff(delivery.attempts, settings)
            if answer.retry_after is not None:
                wait = max(wait, min(answer.retry_after, 86400.0))
            retry_at = now + dt.timedelta(seconds=wait)
            if answer.outcome == "failed" or retry_at > gave_up_at:
                delivery.status = "failed"
            else:
                delivery.status = "pending"
                delivery.next_attempt_at = retry_at
            sub.failing_since = sub.failing_since or now
            failing_for = now - sub.failing_since
            if sub.disabled_at is None and failing_for >= dt.timedelta(
                hours=settings.webhook_disable_after_hours
            ):
                sub.disabled_at = now
                sub.disabled_reason = (
                    f"disabled after failing since {sub.failing_since.isoformat()} without a "
                    f"successful delivery; last error: {answer.error}"
                )
                log.warning("webhook subscription %s disabled: %s", sub.id, sub.disabled_reason)
        session.add_all([attempt, delivery, sub])
        session.commit()
    log.info(
        "webhook delivery %s attempt %s: %s%s",
        delivery_id,
        attempt.number,
        answer.outcome,
        f" ({answer.error})" if answer.error else "",
    )


def due_deliveries(session: Session, *, now: dt.datetime, limit: int = SEND_BATCH) -> list[int]:
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    sub = WebhookSubscription.__table__  # type: ignore[attr-defined]
    return list(
        session.execute(
            sa.select(table.c.id)
            .join(sub, sub.c.id == table.c.subscription_id)
            .where(
                sub.c.deleted_at.is_(None),
                sub.c.disabled_at.is_(None),
                sa.or_(
                    sa.and_(table.c.status == "pending", table.c.next_attempt_at <= now),
                    sa.and_(table.c.status == "sending", table.c.claimed_until < now),
                ),
            )
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        ).scalars()
    )


def body_bytes(event: WebhookEvent) -> bytes:
    """The delivered body: the payload fixed at fan-out, the same bytes on every retry."""
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()


def run_once(
    engine: Engine,
    settings: Settings,
    *,
    holder: str,
    client: httpx.Client,
    check_lease: Callable[[], None] = lambda: None,
    resolve: Resolver = system_resolver,
) -> int:
    """One run of the delivery job; the number of attempts made. `check_lease` raises when
    this process no longer holds the scheduler lease (it is asked before each send)."""
    now = utcnow()
    check_lease()
    with Session(engine, expire_on_commit=False) as session:
        queue_deadline_notices(session, now=now)
        fan_out(session, settings, now=now)
        session.commit()
        due = due_deliveries(session, now=now)
    hold = (
        dt.timedelta(seconds=settings.webhook_timeout_connect + 2 * settings.webhook_timeout_read)
        + CLAIM_MARGIN
    )
    made = 0
    for delivery_id in due:
        check_lease()
        now = utcnow()
        claimed = _claim(engine, delivery_id, now=now, holder=holder, hold=hold)
        if claimed is None:
            continue
        _delivery, attempt, sub, event = claimed
        answer = send(
            client,
            settings,
            sub,
            msg_id=event.uid,
            body=body_bytes(event),
            now=now,
            resolve=resolve,
        )
        assert attempt.id is not None
        _record(engine, settings, delivery_id, attempt.id, answer, now=utcnow())
        made += 1
    return made
