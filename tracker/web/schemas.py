"""Request and response models of the HTTP API (/api/v1), with descriptions and examples.

Builders (`claim_out`, `status_out`, ...) turn query results into these models in one place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tracker.models import (
    Claim,
    ClaimRevision,
    Criterion,
    Evaluation,
    Resolution,
)
from tracker.queries import ClaimDetail, ClaimItem, TrackRecord


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- problems ---


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the bad field.", examples=["criteria.0.period"])
    location: str = Field(default="body", description="body, query, path or header.")
    message: str = Field(examples=["Field required"])
    type: str | None = Field(default=None, examples=["missing"])
    line: int | None = Field(default=None, description="Line in the submitted document, if known.")


class Problem(BaseModel):
    """RFC 9457 problem details (media type application/problem+json)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/problems/conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "a claim with slug 'agi-2026' already exists",
                    "instance": "/api/v1/claims",
                }
            ]
        }
    )
    type: str = Field(default="about:blank", description="URI reference naming the problem type.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(
        default=None, description="For 422: each bad field with its message."
    )


# --- status ---


class Metric(_Out):
    value: float | None = Field(default=None, examples=[2.34])
    unit: str | None = Field(default=None, examples=["1"])
    period: str | None = Field(default=None, description="Data period.", examples=["2025"])


class Projection(_Out):
    value: float | None = Field(default=None, examples=[2.9])
    low: float | None = Field(default=None, examples=[2.7])
    high: float | None = Field(default=None, examples=[3.1])
    at: str | None = Field(default=None, description="Period projected to.", examples=["2030"])
    model: str | None = Field(default=None, examples=["log_linear"])


class Status(_Out):
    """A claim's status as evaluated (current, or replayed as of a past date)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "state": "open",
                    "trend": "on_track",
                    "reason": "ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030",
                    "metric": {"value": 2.34, "unit": "1", "period": "2025"},
                    "threshold": 3.0,
                    "comparator": ">=",
                    "projection": {
                        "value": 2.9,
                        "low": 2.7,
                        "high": 3.1,
                        "at": "2030",
                        "model": "log_linear",
                    },
                    "evaluated_at": "2026-01-10T12:00:00Z",
                    "as_of": "2026-01-10T12:00:00Z",
                    "replay": False,
                }
            ]
        },
    )
    state: str | None = Field(
        description="upcoming, open, awaiting_data, needs_review, resolved_true, resolved_false, "
        "resolved_partial, void, ambiguous, withdrawn, error; null if never evaluated.",
        examples=["open"],
    )
    trend: str | None = Field(
        default=None, description="on_track, off_track, insufficient_data, not_applicable."
    )
    reason: str | None = Field(default=None, description="Why, in plain words.")
    metric: Metric = Field(default_factory=Metric)
    threshold: float | None = None
    comparator: str | None = Field(default=None, examples=[">="])
    margin: float | None = None
    progress: float | None = None
    projection: Projection = Field(default_factory=Projection)
    required_growth: float | None = Field(default=None, description="Per year, e.g. 0.0508.")
    observed_growth: float | None = None
    data_expected_on: dt.date | None = Field(
        default=None, description="When the deciding period's data is expected."
    )
    evaluated_at: dt.datetime | None = None
    as_of: dt.datetime | None = Field(
        default=None, description="What the tracker knew: data known as of this instant."
    )
    replay: bool = Field(default=False, description="True when replayed with ?as_of=.")
    details: dict[str, Any] = Field(default_factory=dict)


def status_out(evaluation: Evaluation | None, claim: Claim | None = None) -> Status:
    if evaluation is None:
        return Status(state=claim.status_state if claim else None)
    return Status(
        state=evaluation.state,
        trend=evaluation.trend,
        reason=evaluation.reason,
        metric=Metric(
            value=evaluation.metric_value,
            unit=evaluation.metric_unit,
            period=evaluation.metric_period,
        ),
        threshold=evaluation.threshold,
        comparator=evaluation.comparator,
        margin=evaluation.margin,
        progress=evaluation.progress,
        projection=Projection(
            value=evaluation.projection_value,
            low=evaluation.projection_low,
            high=evaluation.projection_high,
            at=evaluation.projection_at,
            model=evaluation.projection_model,
        ),
        required_growth=evaluation.required_growth,
        observed_growth=evaluation.observed_growth,
        data_expected_on=evaluation.data_expected_on,
        evaluated_at=evaluation.evaluated_at,
        as_of=evaluation.as_of,
        details=evaluation.details or {},
    )


def status_from_result(result: Any, *, replay: bool) -> Status:
    """A Status from a tracker.evaluation.EvaluationResult (metric/projection as objects)."""
    metric = getattr(result, "metric", None)
    projection = getattr(result, "projection", None)
    # the same shape as a stored evaluation's details: one entry per criterion (context included)
    details: dict[str, Any] = {"criteria": result.to_dict().get("criteria", [])}
    if getattr(result, "outcome", None) is not None:
        details["outcome"] = str(result.outcome)
        details["provisional"] = result.provisional
    return Status(
        state=str(result.state) if result.state is not None else None,
        trend=str(result.trend) if result.trend is not None else None,
        reason=result.reason,
        metric=Metric.model_validate(metric) if metric is not None else Metric(),
        threshold=result.threshold,
        comparator=result.comparator,
        margin=result.margin,
        progress=result.progress,
        projection=(
            Projection.model_validate(projection) if projection is not None else Projection()
        ),
        required_growth=result.required_growth,
        observed_growth=result.observed_growth,
        data_expected_on=result.data_expected_on,
        evaluated_at=result.evaluated_at,
        as_of=result.as_of,
        replay=replay,
        details=details,
    )


# --- parties ---


class Party(_Out):
    slug: str = Field(examples=["elon-musk"])
    name: str = Field(examples=["Elon Musk"])
    kind: str = Field(default="person", examples=["person"])


class SourceDocumentOut(_Out):
    slug: str
    title: str
    url: str | None = None
    language: str | None = None
    published_on: dt.date | None = None
    published_precision: str | None = None
    archived_sha256: str | None = None


class Quote(BaseModel):
    original: str | None = Field(
        default=None, examples=["2030年には中国の電力生産量が米国の3倍になる"]
    )
    language: str | None = Field(default=None, examples=["ja"])
    en: str | None = Field(
        default=None, examples=["By 2030 China's electricity will be 3x the US's"]
    )


class WindowOut(BaseModel):
    start: dt.date | None = None
    end: dt.date | None = None


class CriterionOut(BaseModel):
    key: str = Field(examples=["ratio-2030"])
    role: str = Field(examples=["resolves"], description="resolves or context.")
    type: str = Field(examples=["threshold"])
    version: int
    spec: dict[str, Any] = Field(description="The criterion as written in the claim file.")


def criterion_out(row: Criterion) -> CriterionOut:
    return CriterionOut(
        key=row.key, role=row.role, type=row.kind, version=row.criteria_version, spec=row.spec
    )


class ResolutionOut(_Out):
    id: int
    outcome: str = Field(examples=["true"], description="true, false, partial, void, ambiguous.")
    method: str = Field(examples=["manual"], description="auto or manual.")
    decided_by: str | None = None
    decided_at: dt.datetime
    rationale: str | None = None
    evidence: list[str] = Field(default_factory=list)
    provisional: bool
    final_after: dt.date | None = None
    claim_version: int
    supersedes_id: int | None = None
    superseded_by_id: int | None = None


class ClaimSummary(BaseModel):
    """A claim in a list: who, what, when, and its current status."""

    slug: str = Field(examples=["china-power-3x-us-2030"])
    title: str = Field(examples=["China's electricity production 3x the US's by 2030"])
    deadline: dt.date | None = Field(examples=["2030-12-31"])
    kind: str = Field(examples=["hard"], description="hard (data-checked) or judged.")
    lifecycle: str = Field(examples=["active"], description="draft, active or withdrawn.")
    tags: list[str] = Field(default_factory=list)
    claimant: Party
    version: int
    updated_at: dt.datetime
    status: Status


def summary_out(item: ClaimItem) -> ClaimSummary:
    claim = item.claim
    return ClaimSummary(
        slug=claim.slug,
        title=claim.title,
        deadline=claim.deadline,
        kind=claim.kind,
        lifecycle=claim.lifecycle,
        tags=list(claim.tags or []),
        claimant=Party.model_validate(item.claimant),
        version=claim.version,
        updated_at=claim.updated_at,
        status=status_out(item.evaluation, claim),
    )


class ClaimOut(ClaimSummary):
    """A claim with everything needed to judge it: words, parties, criteria, status, verdict."""

    quote: Quote
    reporter: Party | None = None
    source_document: SourceDocumentOut | None = None
    stated_on: dt.date | None = None
    stated_precision: str | None = None
    stated_note: str | None = None
    window: WindowOut
    deadline_interpretation: str | None = Field(
        default=None, examples=["during 2030 (the 2030 annual value)"]
    )
    deadline_alternative: str | None = None
    origin: str = Field(examples=["file"], description="file or api.")
    operationalised_by: str | None = Field(default=None, examples=["tracker"])
    variant_of: str | None = None
    probability: float | None = Field(default=None, description="Stated probability, if any.")
    content_hash: str
    criteria: list[CriterionOut]
    context_signals: list[CriterionOut] = Field(
        default_factory=list, description="Criteria with role context (shown, never resolving)."
    )
    resolution: ResolutionOut | None = Field(default=None, description="The current verdict.")
    as_of: dt.datetime | None = Field(
        default=None,
        description=(
            "Set only on a replay (?as_of=): everything in this response (version, title, "
            "deadline, criteria, verdict, status) is as tracker knew it at this instant, the end "
            "of that UTC day. Null when the response shows the present."
        ),
    )


def claim_out(
    detail: ClaimDetail, status: Status | None = None, *, as_of: dt.datetime | None = None
) -> ClaimOut:
    claim = detail.claim
    summary = summary_out(ClaimItem(claim, detail.claimant, detail.evaluation))
    criteria = [criterion_out(c) for c in detail.criteria]
    return ClaimOut(
        **summary.model_dump(exclude={"status"}),
        status=status or summary.status,
        quote=Quote(
            original=claim.quote_original, language=claim.quote_language, en=claim.quote_en
        ),
        reporter=Party.model_validate(detail.reporter) if detail.reporter else None,
        source_document=(
            SourceDocumentOut.model_validate(detail.source_document)
            if detail.source_document
            else None
        ),
        stated_on=claim.stated_on,
        stated_precision=claim.stated_precision,
        stated_note=claim.stated_note,
        window=WindowOut(start=claim.window_start, end=claim.window_end),
        deadline_interpretation=claim.deadline_interpretation,
        deadline_alternative=claim.deadline_alternative,
        origin=claim.origin,
        operationalised_by=claim.operationalised_by,
        variant_of=claim.variant_of,
        probability=claim.probability,
        content_hash=claim.content_hash,
        criteria=[c for c in criteria if c.role != "context"],
        context_signals=[c for c in criteria if c.role == "context"],
        resolution=ResolutionOut.model_validate(detail.resolution) if detail.resolution else None,
        as_of=as_of,
    )


class ClaimPageOut(BaseModel):
    items: list[ClaimSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null on the last page."
    )


class HistoryPoint(Status):
    id: int
    claim_version: int


class HistoryOut(BaseModel):
    slug: str
    points: list[HistoryPoint] = Field(description="Every status change, oldest first.")


def history_point(evaluation: Evaluation) -> HistoryPoint:
    assert evaluation.id is not None
    return HistoryPoint(
        id=evaluation.id,
        claim_version=evaluation.claim_version,
        **status_out(evaluation).model_dump(),
    )


class RevisionOut(_Out):
    version: int
    change: str = Field(examples=["updated"], description="created, updated, withdrawn, ...")
    note: str | None = None
    diff: str | None = Field(default=None, description="Unified diff against the previous one.")
    criteria_changed: bool
    content_hash: str
    origin: str
    author: str | None = None
    created_at: dt.datetime


class RevisionsOut(BaseModel):
    slug: str
    revisions: list[RevisionOut]


def revision_out(row: ClaimRevision) -> RevisionOut:
    return RevisionOut.model_validate(row)


class ResolutionsOut(BaseModel):
    slug: str
    resolutions: list[ResolutionOut] = Field(description="All verdicts, superseded included.")


def resolution_out(row: Resolution) -> ResolutionOut:
    return ResolutionOut.model_validate(row)


class DeadlinesOut(BaseModel):
    today: dt.date
    within_days: int
    upcoming: list[ClaimSummary] = Field(description="Deadlines from today to today + N days.")
    awaiting_data: list[ClaimSummary] = Field(description="Passed; the data is not out yet.")
    needs_review: list[ClaimSummary] = Field(description="Passed; a reviewer must decide.")


class TrackRecordOut(BaseModel):
    """Counts over current verdicts; share_kept = true / (true + false + partial)."""

    claimant: Party
    total: int
    resolved_true: int
    resolved_false: int
    resolved_partial: int
    void: int
    ambiguous: int
    unresolved: int
    share_kept: float | None = None
    mean_lateness_days: float | None = Field(
        default=None,
        description="Mean days from deadline to verdict over claims decided after the deadline.",
    )
    late_verdicts: int = Field(default=0, description="Verdicts given after the deadline.")
    early_verdicts: int = Field(
        default=0, description="Verdicts given on or before the deadline (not in the mean)."
    )
    brier_score: float | None = Field(
        default=None, description="Mean (p − outcome)² over true/false claims stating p."
    )
    brier_count: int = 0
    claims: list[ClaimSummary]


def track_record_out(record: TrackRecord) -> TrackRecordOut:
    return TrackRecordOut(
        claimant=Party.model_validate(record.claimant),
        total=record.total,
        resolved_true=record.resolved_true,
        resolved_false=record.resolved_false,
        resolved_partial=record.resolved_partial,
        void=record.void,
        ambiguous=record.ambiguous,
        unresolved=record.unresolved,
        share_kept=record.share_kept,
        mean_lateness_days=record.mean_lateness_days,
        late_verdicts=record.late_verdicts,
        early_verdicts=record.early_verdicts,
        brier_score=record.brier_score,
        brier_count=record.brier_count,
        claims=[summary_out(i) for i in record.claims],
    )


# --- write requests ---


class AmendIn(BaseModel):
    """A new version of the claim document, with the reason for the change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "note": "clarify the interpretation of 'by 2030'",
                    "claim": {"slug": "china-power-3x-us-2030", "title": "…"},
                }
            ]
        }
    )
    note: str = Field(min_length=3, description="Why the claim changes (always required).")
    claim: dict[str, Any] = Field(description="The whole claim document, as in a claim file.")


class ResolveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "false",
                    "rationale": "No system met the rubric by 2026-12-31.",
                    "evidence": ["https://example.org/report"],
                }
            ]
        },
    )
    outcome: Literal["true", "false", "partial", "void", "ambiguous"]
    rationale: str = Field(min_length=3, description="Why this verdict.")
    evidence: list[str] = Field(default_factory=list, description="Evidence URLs (http/https).")
    note: str | None = Field(
        default=None, description="Required to override an automatic resolution."
    )


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=3, description="Why the claim is withdrawn.")


class DryRunIndicator(BaseModel):
    key: str
    unit: str | None = None
    latest_period: str | None = None
    latest_value: float | None = None
    target_period: str | None = None
    target_data_expected_on: dt.date | None = Field(
        default=None, description="Period end + the indicator's publication lag."
    )
    published_before_deadline: bool | None = Field(
        default=None, description="Whether the target period's data is expected by the deadline."
    )


class DryRunOut(BaseModel):
    valid: bool
    slug: str
    saved: bool = Field(default=False, description="Always false: nothing is written.")
    indicators: list[DryRunIndicator]
    status: Status | None = None
    warnings: list[str] = Field(default_factory=list)


class WriteResult(BaseModel):
    slug: str
    version: int
    action: str = Field(examples=["created"])
    claim: ClaimOut
