"""GET /api/v1/track-record: tracker's own calls, scored once claims resolve."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tracker.calibration import HORIZON_MONTHS, TrackerRecord, tracker_track_record
from tracker.web.api import PROBLEM_RESPONSES
from tracker.web.caching import conditional_response
from tracker.web.deps import NowDep, SessionDep
from tracker.web.guard import GuardedRoute

router = APIRouter(
    prefix="/api/v1",
    tags=["track record"],
    responses=PROBLEM_RESPONSES,
    route_class=GuardedRoute,
)


EX_CALL: dict[str, Any] = {
    "months": 6,
    "on": "2025-12-31",
    "probability": 0.3,
    "evaluation_id": 412,
    "market": None,
}
EX_HORIZON: dict[str, Any] = {
    "months": 12,
    "tracker_brier": 0.09,
    "tracker_count": 1,
    "claimant_brier": 0.81,
    "claimant_count": 1,
    "market_brier": None,
    "market_count": 0,
}
EX_SCORED: dict[str, Any] = {
    "slug": "china-power-3x-us-2026",
    "title": "China's electricity production 3x the US's by 2026",
    "deadline": "2026-12-31",
    "outcome": 0,
    "claimant_probability": 0.9,
    "calls": [EX_CALL],
}


class CallOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EX_CALL]})

    months: int = Field(description="How many months before the deadline.", examples=[6])
    on: dt.date = Field(description="The day (deadline − months), read as known at its end.")
    probability: float | None = Field(
        description="tracker's stored chance of coming true then (null: none stored yet).",
        examples=[0.62],
    )
    evaluation_id: int | None = Field(description="The stored Evaluation it comes from.")
    market: float | None = Field(
        description="The prediction market's probability then (null: no market for the claim)."
    )


class ScoredClaimOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EX_SCORED]})

    slug: str = Field(examples=["china-power-3x-us-2026"])
    title: str
    deadline: dt.date
    outcome: int = Field(description="1: resolved true; 0: resolved false.", examples=[0])
    claimant_probability: float | None = Field(
        description="The probability stated with the claim (its claim file's `probability`)."
    )
    calls: list[CallOut]


class HorizonOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EX_HORIZON]})

    months: int = Field(examples=[12])
    tracker_brier: float | None = Field(
        description="Mean (p − outcome)² of tracker's chances at this horizon (0 is perfect, "
        "0.25 is always saying ½); null with no scored claim.",
        examples=[0.09],
    )
    tracker_count: int
    claimant_brier: float | None = Field(
        description="The claimants' stated probabilities, over the same claims (those stating one)."
    )
    claimant_count: int
    market_brier: float | None = Field(
        description="The prediction market's probabilities then, over the same claims (those "
        "with a market)."
    )
    market_count: int


class TrackerRecordOut(BaseModel):
    """tracker's own track record: its chances of coming true scored against outcomes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resolved": 1,
                    "horizon_months": list(HORIZON_MONTHS),
                    "horizons": [EX_HORIZON],
                    "claims": [EX_SCORED],
                }
            ]
        }
    )

    resolved: int = Field(description="Claims resolved true or false (each listed in `claims`).")
    horizon_months: list[int]
    horizons: list[HorizonOut]
    claims: list[ScoredClaimOut]


def record_out(record: TrackerRecord) -> TrackerRecordOut:
    return TrackerRecordOut(
        resolved=record.resolved,
        horizon_months=list(HORIZON_MONTHS),
        horizons=[HorizonOut.model_validate(h, from_attributes=True) for h in record.horizons],
        claims=[
            ScoredClaimOut(
                slug=c.slug,
                title=c.title,
                deadline=c.deadline,
                outcome=c.outcome,
                claimant_probability=c.claimant_probability,
                calls=[CallOut.model_validate(call, from_attributes=True) for call in c.calls],
            )
            for c in record.claims
        ],
    )


@router.get(
    "/track-record",
    response_model=TrackerRecordOut,
    summary="tracker's own track record: Brier scores of its chances 12, 6 and 1 month out",
    description=(
        "For each claim resolved true or false, the chance of coming true tracker had stored "
        "12, 6 and 1 month(s) before its deadline (read from the append-only evaluation "
        "history as known at the end of that day; evaluations before evaluator 1.4.0 stored "
        "none), and per horizon the Brier score of those chances, beside the claimants' "
        "stated probabilities and the prediction market's (a signal criterion quoting a "
        "probability) over the same claims. Public unless the server requires a token for "
        "reads (then 401 without a valid one). Conditional GET: the ETag changes only with "
        "the record itself."
    ),
)
def track_record(request: Request, session: SessionDep, now: NowDep) -> Response:
    body = record_out(tracker_track_record(session, now=now))
    return conditional_response(
        request, body.model_dump_json().encode(), "application/json", last_modified=None
    )
