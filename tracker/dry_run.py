"""A claim's dry run: what saving it would do, against the stored data, without keeping anything.

Shared by `POST /api/v1/claims:dry-run` and `tracker claims dry-run`: the claim is written and
evaluated inside the caller's transaction exactly as a save would, then everything is rolled back.
It says which indicators the claim reads, their latest value (and a fetched vintage held back by a
plausibility gate, if any), when the deciding period's data is expected (period end + publication
lag) and whether that is by the deadline, and the status now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from tracker.claims import CheckResult, ClaimFile, ClaimIssue, apply_claim, sync_listings
from tracker.criteria import criterion_indicators
from tracker.evaluation import EvaluationResult
from tracker.indicators import gates_of
from tracker.models import Claim, Indicator
from tracker.observations import observations_as_of
from tracker.quarantine import pending_quarantines
from tracker.sources.base import period_end
from tracker.status import evaluate_claims, lock_evaluation_runs


def target_periods(spec: dict[str, Any]) -> list[str]:
    """The periods whose data decides a criterion (the period, or a window's end)."""
    periods = []
    if spec.get("period"):
        periods.append(str(spec["period"]))
    window = spec.get("window")
    if isinstance(window, dict) and window.get("end"):
        periods.append(str(window["end"]))
    return periods


def release_date(period: str, indicator: Indicator) -> dt.date:
    """When a period's data is expected: the period's end plus the indicator's publication lag."""
    return period_end(period) + dt.timedelta(days=indicator.publication_lag_days)


@dataclass(frozen=True)
class IndicatorPreview:
    """One indicator a claim reads: its latest known value and when the deciding data is due."""

    key: str
    unit: str | None
    latest_period: str | None
    latest_value: float | None
    target_period: str | None
    target_data_expected_on: dt.date | None
    published_before_deadline: bool | None  # None: no deadline, or nothing to expect
    # a fetched vintage held back by a plausibility gate: "fetch run 12: <why>" (None: none)
    quarantined: str | None = None
    gates: dict[str, Any] | None = None  # the plausibility gates in force (tracker.indicators)


@dataclass
class DryRun:
    """What saving a claim would do now; nothing of it was kept."""

    claim: ClaimFile
    exists: bool  # a claim with this slug is stored: saving would amend it
    indicators: list[IndicatorPreview]
    status: EvaluationResult | None
    warnings: list[ClaimIssue] = field(default_factory=list)


def dry_run_claim(
    session: Session,
    claim: ClaimFile,
    *,
    now: dt.datetime,
    origin: str,
    note: str | None = None,
    listings: CheckResult | None = None,
) -> DryRun:
    """Save `claim` (after the claimants, sources and indicators of `listings`, when given) and
    evaluate it at `now`, then roll the session back whatever happens.

    Raises ClaimValidationError when saving would be refused (e.g. a claimant not stored, or a
    criteria change without a revision note), as the save itself would.
    """
    label = claim.source_label
    warnings = list(claim.warnings)
    try:
        exists = session.exec(select(Claim.id).where(col(Claim.slug) == claim.slug)).first()
        if exists is not None:
            warnings.append(
                ClaimIssue(
                    label,
                    claim.line_of("slug"),
                    "slug",
                    f"a claim with slug {claim.slug!r} exists: saving would amend it",
                    "warning",
                )
            )
        lock_evaluation_runs(session)  # before any write, as a save does (see status)
        if listings is not None:
            sync_listings(session, listings, now=now)
        result = apply_claim(session, claim, origin=origin, author="dry-run", note=note, now=now)
        assert result.claim.id is not None
        evaluations = evaluate_claims(session, now=now, claim_ids=[result.claim.id])
        indicators = _indicator_previews(session, claim)
    finally:
        session.rollback()  # nothing a dry run did is kept
    said = " ".join(w.message for w in warnings)
    for item in indicators:
        # the claims lint already warns, with the field path, when it knows the indicator
        if item.published_before_deadline is False and (
            f"data for {item.target_period} is expected" not in said
        ):
            warnings.append(
                ClaimIssue(
                    label,
                    claim.line_of("deadline"),
                    "deadline",
                    f"{item.key}: data for {item.target_period} is expected on "
                    f"{item.target_data_expected_on}, after the deadline {claim.deadline}",
                    "warning",
                )
            )
    return DryRun(
        claim=claim,
        exists=exists is not None,
        indicators=indicators,
        status=evaluations[0] if evaluations else None,
        warnings=list(dict.fromkeys(warnings)),
    )


def _indicator_previews(session: Session, claim: ClaimFile) -> list[IndicatorPreview]:
    keys: list[str] = []
    targets: dict[str, str] = {}
    for criterion in claim.criteria:
        spec = criterion.model_dump(mode="json", exclude_none=True)
        for key in criterion_indicators(criterion):
            if key not in keys:
                keys.append(key)
            for period in target_periods(spec):
                targets[key] = max(period, targets.get(key, period))
    rows = {
        i.key: i for i in session.exec(select(Indicator).where(col(Indicator.key).in_(keys))).all()
    }
    ids = [r.id for r in rows.values() if r.id is not None]
    values = observations_as_of(session, ids)
    held = pending_quarantines(session, ids)
    out = []
    for key in keys:
        row = rows.get(key)
        series = [p for p in values.get(row.id or -1, []) if p.value is not None] if row else []
        latest = series[-1] if series else None
        target = targets.get(key)
        expected = release_date(target, row) if row is not None and target else None
        pending = held.get(row.id or -1) if row is not None else None
        out.append(
            IndicatorPreview(
                key=key,
                unit=row.unit if row else None,
                latest_period=latest.period if latest else None,
                latest_value=latest.value if latest else None,
                target_period=target,
                target_data_expected_on=expected,
                published_before_deadline=(
                    expected <= claim.deadline if expected and claim.deadline else None
                ),
                quarantined=(
                    f"fetch run {pending.fetch_run_id}: {pending.reason}" if pending else None
                ),
                gates=gates_of(row).model_dump(mode="json") if row is not None else None,
            )
        )
    return out
