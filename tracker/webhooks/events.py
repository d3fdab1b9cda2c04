"""The outbox: events written in the transaction of the change they describe.

Callers are the places that commit a change: tracker.status (evaluations, automatic and
manual verdicts) and tracker.quarantine (a held-back vintage). Each writer first asks whether
any subscription is live (one indexed read); with none, nothing is written, so a tracker
without webhooks pays one query per batch. Rolled back with the change, an event is never sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.i18n.catalogs import N_
from tracker.models import State, Trend, WebhookEvent, WebhookSubscription

STATE_CHANGED = "claim.state_changed"
TREND_CHANGED = "claim.trend_changed"
NEEDS_REVIEW = "claim.needs_review"
RESOLVED = "claim.resolved"
VERDICT_OVERRIDDEN = "claim.verdict_overridden"
DEADLINE_APPROACHING = "claim.deadline_approaching"
DATA_OVERDUE = "claim.data_overdue"
QUARANTINED = "observation.quarantined"

EVENT_TYPES: dict[str, str] = {
    STATE_CHANGED: N_("the claim's state changed (e.g. open -> awaiting_data)"),
    TREND_CHANGED: N_("the claim's trend flipped between on_track and off_track"),
    NEEDS_REVIEW: N_("the claim now needs a reviewer's verdict"),
    RESOLVED: N_("a verdict was recorded (automatic provisional/final, or a reviewer's)"),
    VERDICT_OVERRIDDEN: N_("a reviewer's verdict replaced an earlier one"),
    DEADLINE_APPROACHING: N_("the claim's deadline is within the subscription's deadline_days"),
    DATA_OVERDUE: N_("data the claim needs is overdue (needs review, reason data_overdue)"),
    QUARANTINED: N_("a fetched vintage failed a plausibility check and is held back"),
}
_FLIPPING = {Trend.on_track.value, Trend.off_track.value}


def new_uid() -> str:
    """A webhook-id: `msg_` and 32 hex digits (unique; the same on every retry of a message)."""
    return f"msg_{uuid.uuid4().hex}"


def webhooks_live(session: Session) -> bool:
    """Whether any subscription is live (not deleted, not disabled): only then are events kept."""
    sub = WebhookSubscription.__table__.c  # type: ignore[attr-defined]
    found = session.execute(
        sa.select(sub.id).where(sub.deleted_at.is_(None), sub.disabled_at.is_(None)).limit(1)
    ).first()
    return found is not None


def _insert(session: Session, rows: list[dict[str, Any]], *, now: dt.datetime) -> None:
    if not rows:
        return
    table = WebhookEvent.__table__  # type: ignore[attr-defined]
    for row in rows:
        row.setdefault("uid", new_uid())
        row.setdefault("created_at", now)
        for name in (
            "claim_id",
            "evaluation_id",
            "resolution_id",
            "fetch_run_id",
            "subscription_id",
            "dedupe_key",
        ):
            row.setdefault(name, None)
        row.setdefault("data", {})
    session.execute(sa.insert(table), rows)


@dataclass(frozen=True)
class StatusMove:
    """One appended evaluation: the claim, the row, the status it follows and the new one."""

    claim_id: int
    evaluation_id: int
    previous_state: str | None
    previous_trend: str | None
    state: str
    trend: str | None
    review_reason: str | None = None


def status_events(move: StatusMove) -> list[tuple[str, dict[str, Any]]]:
    """The events one appended evaluation makes (type, data); none for a claim's first one
    (a claim starting to be tracked is not a change of its status)."""
    if move.previous_state is None:
        return []
    data = {
        "previous_state": move.previous_state,
        "previous_trend": move.previous_trend,
        "state": move.state,
        "trend": move.trend,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    if move.state != move.previous_state:
        out.append((STATE_CHANGED, data))
    if move.trend != move.previous_trend and {move.trend, move.previous_trend} <= _FLIPPING:
        out.append((TREND_CHANGED, data))
    into_review = (
        move.state == State.needs_review.value and move.previous_state != State.needs_review.value
    )
    if into_review:
        out.append((NEEDS_REVIEW, {**data, "review_reason": move.review_reason}))
        if move.review_reason == "data_overdue":
            out.append((DATA_OVERDUE, {**data, "review_reason": move.review_reason}))
    return out


def record_status_moves(session: Session, moves: Iterable[StatusMove], *, now: dt.datetime) -> None:
    """Outbox rows for appended evaluations (called by tracker.status in its transaction)."""
    moves = list(moves)
    if not moves or not webhooks_live(session):
        return
    rows = [
        {
            "type": kind,
            "claim_id": move.claim_id,
            "evaluation_id": move.evaluation_id,
            "data": data,
        }
        for move in moves
        for kind, data in status_events(move)
    ]
    _insert(session, rows, now=now)


def record_resolutions(
    session: Session, resolutions: Iterable[Mapping[str, Any]], *, now: dt.datetime
) -> None:
    """Outbox rows for appended verdicts. Each mapping: claim_id, resolution_id, outcome,
    method, provisional, decided_by, and `overrides` (a reviewer replaced an earlier verdict:
    also claim.verdict_overridden, with the replaced one's outcome as `previous_outcome`)."""
    items = list(resolutions)
    if not items or not webhooks_live(session):
        return
    rows: list[dict[str, Any]] = []
    for item in items:
        data = {
            "outcome": item["outcome"],
            "method": item["method"],
            "provisional": bool(item["provisional"]),
            "final": not item["provisional"],
            "decided_by": item.get("decided_by"),
            "early": item.get("early"),
            "overrides": bool(item.get("overrides")),
            "previous_outcome": item.get("previous_outcome"),
        }
        base = {"claim_id": item["claim_id"], "resolution_id": item["resolution_id"]}
        rows.append({**base, "type": RESOLVED, "data": data})
        if item.get("overrides"):
            rows.append({**base, "type": VERDICT_OVERRIDDEN, "data": data})
    _insert(session, rows, now=now)


def record_quarantine(
    session: Session,
    *,
    fetch_run_id: int,
    indicator_key: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """The outbox row for a vintage held back at ingest (tracker.quarantine)."""
    if not webhooks_live(session):
        return
    _insert(
        session,
        [
            {
                "type": QUARANTINED,
                "fetch_run_id": fetch_run_id,
                "data": {
                    "indicator": indicator_key,
                    "fetch_run_id": fetch_run_id,
                    "reason": reason,
                },
            }
        ],
        now=now,
    )


def deadline_key(subscription_id: int, claim_id: int, deadline: dt.date) -> str:
    """The dedupe key of a deadline notice: once per claim, subscription and deadline."""
    return f"deadline:{subscription_id}:{claim_id}:{deadline.isoformat()}"
