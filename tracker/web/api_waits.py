"""API: extending the wait for a claim whose data is overdue (tracker.overdue).

A claim whose data is missing past its expected date + grace is `needs_review` with
`review_reason: "data_overdue"`. A reviewer voids it through `POST /claims/{slug}/resolutions`
(outcome `void`, with a note) or extends the wait here; extensions are append-only and listed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from tracker.clock import utcnow
from tracker.models import WaitExtension
from tracker.overdue import InvalidExtension, extend_wait, wait_extensions
from tracker.web.api import PROBLEM_RESPONSES, ClaimDep, ResolveToken, status_cache
from tracker.web.deps import SessionDep
from tracker.web.guard import GuardedRoute
from tracker.web.problems import ProblemError

router = APIRouter(
    prefix="/api/v1", tags=["claims"], responses=PROBLEM_RESPONSES, route_class=GuardedRoute
)

EX_EXTENSION: dict[str, Any] = {
    "wait_until": "2027-03-31",
    "reason": "openFDA announced its 2025 release for March 2027.",
    "decided_by": "reviewer",
    "recorded_at": "2026-11-28T09:00:00Z",
    "overdue_since": "2025-01-30",
}


class ExtendWaitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{k: EX_EXTENSION[k] for k in ("wait_until", "reason")}]},
    )
    wait_until: dt.date = Field(description="Wait for the data until this day (after today).")
    reason: str = Field(min_length=3, max_length=2000, description="Why the wait is extended.")


class WaitExtensionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EX_EXTENSION]})
    wait_until: dt.date
    reason: str
    decided_by: str
    recorded_at: dt.datetime
    overdue_since: dt.date | None = Field(
        default=None, description="When the data that was overdue had been expected."
    )


class ExtendWaitOut(WaitExtensionOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**EX_EXTENSION, "slug": "x", "state": "open"}]}
    )
    slug: str
    state: str | None = Field(description="The claim's state once re-evaluated.")


class WaitExtensionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [EX_EXTENSION]}]})
    items: list[WaitExtensionOut]


@router.post(
    "/claims/{slug}/extend-wait",
    status_code=201,
    response_model=ExtendWaitOut,
    summary="Extend the wait for a claim's overdue data (recorded: who, when, why, new date)",
    description=(
        "Needs scope `resolve`. For a claim in `needs_review` with `review_reason` "
        '"data_overdue" (or still waiting for data): it waits again until `wait_until` has '
        "passed, then goes back to review if the data is still missing. The extension is "
        "appended (earlier ones are kept) and the claim is re-evaluated at once. To give up "
        "instead, record a verdict with outcome `void` and a note. 422 names the field."
    ),
)
def extend_claim_wait(
    request: Request,
    claim: ClaimDep,
    body: ExtendWaitIn,
    session: SessionDep,
    token: ResolveToken,
) -> ExtendWaitOut:
    from tracker.status import lock_evaluation_runs

    now = utcnow()
    assert claim.claim.id is not None
    try:
        lock_evaluation_runs(session, [claim.claim.id])  # as every write that then evaluates
        done = extend_wait(
            session,
            claim.claim,
            wait_until=body.wait_until,
            reason=body.reason,
            decided_by=token.name,
            now=now,
        )
        session.commit()
    except InvalidExtension as exc:
        session.rollback()
        raise ProblemError(
            422,
            str(exc),
            code="validation-error",
            errors=[{"field": exc.field, "location": "body", "message": str(exc)}],
        ) from exc
    status_cache(request).invalidate(claim.claim.slug)
    return ExtendWaitOut(
        **WaitExtensionOut.model_validate(done.extension).model_dump(),
        slug=claim.claim.slug,
        state=done.state,
    )


@router.get(
    "/claims/{slug}/wait-extensions",
    response_model=WaitExtensionList,
    summary="Every extension of a claim's wait for overdue data, oldest first",
    description="Append-only: who extended the wait, when, why, and to which day.",
)
def list_wait_extensions(claim: ClaimDep, session: SessionDep) -> WaitExtensionList:
    assert claim.claim.id is not None
    rows: list[WaitExtension] = wait_extensions(session, claim.claim.id)
    return WaitExtensionList(items=[WaitExtensionOut.model_validate(r) for r in rows])
