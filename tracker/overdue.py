"""Overdue data: claims whose needed data is missing past its expected date + grace.

The evaluator (tracker.evaluation) puts such a claim in `needs_review` with
`review_reason = "data_overdue"` and `overdue_since`. A reviewer then either voids the claim
(a verdict with outcome `void`, through the ordinary resolution path) or extends the wait:
`extend_wait` appends a WaitExtension (who, when, why, the new date) and re-evaluates the claim,
which waits again until that date has passed. Nothing here is ever updated or deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.evaluation import REVIEW_DATA_OVERDUE
from tracker.models import Claim, Evaluation, Lifecycle, State, WaitExtension

MAX_EXTENSION_DAYS = 3 * 366  # a wait is extended by at most about three years at a time


class InvalidExtension(ValueError):
    """The extension cannot be recorded; `field` names the input to fix."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Extended:
    """What `extend_wait` recorded, and the claim's state after re-evaluating it."""

    extension: WaitExtension
    state: str | None


def overdue_clause() -> sa.ColumnElement[bool]:
    """Claims whose data is overdue now: active, in review, and their status evaluation's
    review reason (stored on the claim with the status, `status_review_reason`) says so."""
    return sa.and_(
        col(Claim.lifecycle) == Lifecycle.active.value,
        col(Claim.status_state) == State.needs_review.value,
        col(Claim.status_review_reason) == REVIEW_DATA_OVERDUE,
    )


def overdue_claims_count(session: Session) -> int:
    """How many active claims wait for a reviewer because their data is overdue (read from the
    claims' stored status columns, by index: no claim is joined to its evaluation)."""
    stmt = sa.select(sa.func.count(col(Claim.id))).where(overdue_clause())
    return int(session.execute(stmt).scalar_one())


def overdue_since_by_claim(session: Session, claim_ids: list[int]) -> dict[int, dt.date]:
    """Per claim among `claim_ids` whose data is overdue now: since when."""
    if not claim_ids:
        return {}
    stmt = (
        sa.select(col(Claim.id), col(Evaluation.overdue_since))
        .join(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
        .where(overdue_clause(), col(Claim.id).in_(claim_ids))
    )
    return {cid: since for cid, since in session.execute(stmt) if since is not None}


def wait_extensions(session: Session, claim_id: int) -> list[WaitExtension]:
    """Every extension of a claim's wait, oldest first."""
    return list(
        session.exec(
            select(WaitExtension)
            .where(col(WaitExtension.claim_id) == claim_id)
            .order_by(col(WaitExtension.recorded_at), col(WaitExtension.id))
        ).all()
    )


def extend_wait(
    session: Session,
    claim: Claim,
    *,
    wait_until: dt.date,
    reason: str,
    decided_by: str,
    now: dt.datetime,
) -> Extended:
    """Record that `decided_by` extends the wait for the claim's overdue data to `wait_until`
    (after `now`'s day, at most MAX_EXTENSION_DAYS ahead) because of `reason`, then
    re-evaluate the claim (the caller commits). Raises InvalidExtension naming the field."""
    from tracker.status import evaluate_claims

    today = now.astimezone(dt.UTC).date()
    text = reason.strip()
    if len(text) < 3:
        raise InvalidExtension(
            "say why the wait is extended (at least 3 characters)", field="reason"
        )
    if wait_until <= today:
        raise InvalidExtension(
            f"the new date must be after today ({today.isoformat()})", field="wait_until"
        )
    if wait_until > today + dt.timedelta(days=MAX_EXTENSION_DAYS):
        raise InvalidExtension(
            f"extend by at most {MAX_EXTENSION_DAYS} days at a time", field="wait_until"
        )
    if claim.lifecycle != Lifecycle.active.value:
        raise InvalidExtension("the claim is withdrawn: nothing waits", field="slug")
    current = (
        session.get(Evaluation, claim.status_evaluation_id)
        if claim.status_evaluation_id is not None
        else None
    )
    waiting = {State.open.value, State.upcoming.value, State.awaiting_data.value}
    overdue = current is not None and current.review_reason == REVIEW_DATA_OVERDUE
    if not overdue and claim.status_state not in waiting:
        raise InvalidExtension(
            f"the claim is {claim.status_state or 'not evaluated'}, not waiting for data",
            field="slug",
        )
    assert claim.id is not None
    row = WaitExtension(
        claim_id=claim.id,
        wait_until=wait_until,
        reason=text,
        decided_by=decided_by,
        recorded_at=now,
        overdue_since=current.overdue_since if current is not None else None,
    )
    session.add(row)
    session.flush()
    evaluate_claims(session, now=now, claim_ids=[claim.id])
    session.refresh(claim)
    return Extended(row, claim.status_state)
