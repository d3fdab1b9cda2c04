"""Request and response models of the HTTP API (/api/v1), with descriptions and examples.

Builders (`claim_out`, `status_out`, ...) turn query results into these models in one place.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tracker import verdict_marks
from tracker.i18n.content import claim_text
from tracker.i18n.reasons import public_details, reason_text
from tracker.models import (
    Claim,
    ClaimRevision,
    Criterion,
    Evaluation,
    Resolution,
)
from tracker.queries import ClaimDetail, ClaimItem, ClaimRef, TrackRecord
from tracker.web.problems import PROBLEM_TITLES
from tracker.web.wording import trend_uncertain

API_PREFIX = "/api/v1"


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _examples(*examples: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` giving a model's whole-object examples."""
    return {"examples": list(examples)}


# Whole-object examples, from the essay's claims (reused where one model nests another).
EX_METRIC: dict[str, Any] = {"value": 2.342, "unit": "1", "period": "2025"}
EX_PROJECTION: dict[str, Any] = {
    "value": 3.002,
    "low": 2.782,
    "high": 3.24,
    "at": "2030",
    "model": "log-linear, from the latest point",
}
EX_STATUS: dict[str, Any] = {
    "state": "open",
    "trend": "on_track",
    "uncertain": True,
    "probability": 0.51,
    "reason": "2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030; trend +5.10 %/yr, "
    "projected 3.002 (2.78–3.24): the band includes 3.0, so this could go either way",
    "metric": EX_METRIC,
    "threshold": 3.0,
    "comparator": ">=",
    "margin": -0.658,
    "progress": 0.781,
    "projection": EX_PROJECTION,
    "required_growth": 0.0508,
    "observed_growth": 0.051,
    "data_expected_on": "2031-06-29",
    "evaluated_at": "2026-11-28T09:00:00Z",
    "as_of": "2026-11-28T09:00:00Z",
    "replay": False,
    "details": {
        "criteria": [
            {
                "key": "generation-ratio-2030",
                "role": "resolves",
                "target_period": "2030",
                "data_expected_on": "2031-06-29",
                "details": {"next_period": "2026", "next_data_expected_on": "2027-06-29"},
            }
        ]
    },
}
EX_PARTY: dict[str, Any] = {"slug": "elon-musk", "name": "Elon Musk", "kind": "person"}
EX_SUMMARY: dict[str, Any] = {
    "slug": "china-power-3x-us-2030",
    "title": "By 2030 China's electricity production will be three times the US's",
    "deadline": "2030-12-31",
    "kind": "hard",
    "lifecycle": "active",
    "tags": ["energy", "electricity", "china"],
    "claimant": EX_PARTY,
    "version": 1,
    "updated_at": "2026-11-27T09:00:00Z",
    "status": EX_STATUS,
}
EX_QUOTE: dict[str, Any] = {
    "original": "2030年には中国の電力生産量が米国の3倍になる",
    "language": "ja",
    "en": "By 2030 China's electricity production will be three times that of the US.",
}
EX_SOURCE: dict[str, Any] = {
    "slug": "essay-musk-interview-2026",
    "title": "イーロン・マスクが語る未来 (essay on the Moonshots podcast #220 interview)",
    "url": "https://example.org/essay",
    "language": "ja",
    "published_on": "2026-01-10",
    "published_precision": "day",
    "archived_sha256": "9f2c4e8a" + "0" * 56,
}
EX_CRITERION: dict[str, Any] = {
    "key": "generation-ratio-2030",
    "role": "resolves",
    "type": "threshold",
    "version": 1,
    "spec": {
        "type": "threshold",
        "series": {
            "ratio": [
                {"indicator": "owid.electricity_generation.chn"},
                {"indicator": "owid.electricity_generation.usa"},
            ]
        },
        "comparator": ">=",
        "threshold": 3.0,
        "unit": "1",
        "mode": "at_period",
        "period": "2030",
    },
}
EX_SIGNAL: dict[str, Any] = {
    "key": "generation-china",
    "role": "context",
    "type": "signal",
    "version": 1,
    "spec": {"type": "signal", "series": {"indicator": "owid.electricity_generation.chn"}},
}
EX_RESOLUTION: dict[str, Any] = {
    "id": 7,
    "outcome": "false",
    "method": "manual",
    "decided_by": "reviewer-ann",
    "decided_at": "2027-01-05T10:00:00Z",
    "rationale": "No publicly available system met the rubric by 2026-12-31.",
    "evidence": ["https://example.org/agi-review-2026"],
    "provisional": False,
    "final_after": None,
    "claim_version": 1,
    "supersedes_id": None,
    "superseded_by_id": None,
    "early": False,
    "overrides": False,
}
EX_VARIANT_LINK: dict[str, Any] = {
    "slug": "china-power-3x-us-2026",
    "title": "By 2026 China's electricity production will be three times the US's "
    "(NetEase Tech's reading)",
    "lifecycle": "active",
    "url": "/api/v1/claims/china-power-3x-us-2026",
    "page_url": "/claims/china-power-3x-us-2026",
}
EX_CLAIM: dict[str, Any] = {
    **EX_SUMMARY,
    "quote": EX_QUOTE,
    "reporter": {"slug": "essay-author", "name": "Essay author", "kind": "person"},
    "source_document": EX_SOURCE,
    "stated_on": "2026-01-06",
    "stated_precision": "day",
    "stated_note": "Date of the interview (Moonshots podcast #220).",
    "window": {"start": "2030-01-01", "end": "2030-12-31"},
    "deadline_interpretation": "「2030年には」 read as 'in 2030': the annual value for 2030.",
    "deadline_alternative": "Any year up to and including 2030.",
    "origin": "file",
    "operationalised_by": "tracker",
    "variant_of": None,
    "variants": [EX_VARIANT_LINK],
    "probability": None,
    "content_hash": "3b1f0c9e" + "0" * 56,
    "criteria": [EX_CRITERION],
    "context_signals": [EX_SIGNAL],
    "resolution": None,
    "as_of": None,
}
EX_REVISION: dict[str, Any] = {
    "version": 2,
    "change": "updated",
    "note": "clarify the interpretation of 'by 2030'",
    "diff": "--- v1\n+++ v2\n-deadline_interpretation: by 2030\n"
    "+deadline_interpretation: in 2030\n",
    "criteria_changed": False,
    "content_hash": "3b1f0c9e" + "0" * 56,
    "origin": "api",
    "author": "editor-bo",
    "created_at": "2026-11-20T08:30:00Z",
}
EX_DRY_RUN_INDICATOR: dict[str, Any] = {
    "key": "owid.electricity_generation.chn",
    "unit": "TWh",
    "latest_period": "2025",
    "latest_value": 10583.0,
    "target_period": "2030",
    "target_data_expected_on": "2031-06-29",
    "published_before_deadline": False,
    "quarantined": None,
    "gates": {
        "max_revision": 0.5,
        "min": 0.0,
        "max": 100000.0,
        "max_row_drop": 0.1,
        "complete_body": True,
    },
}


# --- problems ---


class FieldError(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "field": "criteria.0.period",
                "location": "body",
                "message": "Field required",
                "type": "missing",
                "line": 24,
            }
        )
    )
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
    type: str = Field(
        default="about:blank",
        description=(
            "URI reference naming the problem type: /api/v1/problems/<code>, each code with "
            "one title: "
            + "; ".join(f"`{code}` ({title})" for code, title in PROBLEM_TITLES.items())
            + ". GET the URI for what the type means and what to do (/api/v1/problems lists all)."
        ),
    )
    title: str = Field(description="The same for every problem of one type.")
    status: int
    detail: str
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(
        default=None, description="For 422: each bad field with its message."
    )


# --- status ---


class Metric(_Out):
    model_config = ConfigDict(json_schema_extra=_examples(EX_METRIC))
    value: float | None = Field(default=None, examples=[2.34])
    unit: str | None = Field(default=None, examples=["1"])
    period: str | None = Field(default=None, description="Data period.", examples=["2025"])


class Projection(_Out):
    model_config = ConfigDict(json_schema_extra=_examples(EX_PROJECTION))
    value: float | None = Field(default=None, examples=[2.9])
    low: float | None = Field(default=None, examples=[2.7])
    high: float | None = Field(default=None, examples=[3.1])
    at: str | None = Field(default=None, description="Period projected to.", examples=["2030"])
    model: str | None = Field(
        default=None,
        description="How it was projected, e.g. the fitted trend's growth from the latest point.",
        examples=["log-linear, from the latest point"],
    )


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
                        "value": 3.002,
                        "low": 2.782,
                        "high": 3.24,
                        "at": "2030",
                        "model": "log-linear, from the latest point",
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
        default=None,
        description="on_track, off_track, insufficient_data, not_applicable. insufficient_data "
        "also when there is a projection but its range is too wide to call (the reason says "
        '"too uncertain to call", as the dashboard does).',
    )
    uncertain: bool = Field(
        default=False,
        description=(
            "True when the trend (on_track or off_track, decided by the projected value) is "
            "uncertain: the projection's range includes the threshold, so it could go either "
            'way. The dashboard shows it as "on track (uncertain)".'
        ),
    )
    probability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "The chance the claim's criterion is met at the deadline, from the projection's "
            "predictive distribution (Student-t in fitted space); 1 or 0 once resolved (true; "
            "false or partial); null when there is no projection to read it from (and for "
            "judged, void, ambiguous, withdrawn claims and evaluations before evaluator 1.4.0)."
        ),
        examples=[0.62],
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
    review_reason: str | None = Field(
        default=None,
        description='Why a person is asked, with state needs_review: "data_overdue" when data '
        "the claim needs is still missing past its expected date + the indicator's grace (a "
        "reviewer voids the claim or extends the wait); null otherwise.",
        examples=["data_overdue"],
    )
    overdue_since: dt.date | None = Field(
        default=None, description="With data_overdue: when the missing data was expected."
    )


def status_out(evaluation: Evaluation | None, claim: Claim | None = None) -> Status:
    if evaluation is None:
        return Status(state=claim.status_state if claim else None)
    return Status(
        state=evaluation.state,
        trend=evaluation.trend,
        uncertain=trend_uncertain(
            evaluation.trend,
            evaluation.projection_low,
            evaluation.projection_high,
            evaluation.threshold,
        ),
        probability=evaluation.probability,
        reason=reason_text(evaluation),
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
        details=public_details(evaluation.details),
        review_reason=evaluation.review_reason,
        overdue_since=evaluation.overdue_since,
    )


def status_from_result(result: Any, *, replay: bool) -> Status:
    """A Status from a tracker.evaluation.EvaluationResult (metric/projection as objects)."""
    metric = getattr(result, "metric", None)
    projection = getattr(result, "projection", None)
    # the same shape as a stored evaluation's details: one entry per criterion (context included)
    details: dict[str, Any] = public_details(
        {
            "criteria": result.to_dict().get("criteria", []),
            "criteria_reason_parts": [
                getattr(c, "reason_parts", None) for c in getattr(result, "criteria", ())
            ],
        }
    )
    if getattr(result, "outcome", None) is not None:
        details["outcome"] = str(result.outcome)
        details["provisional"] = result.provisional
    trend = str(result.trend) if result.trend is not None else None
    return Status(
        state=str(result.state) if result.state is not None else None,
        trend=trend,
        uncertain=trend_uncertain(
            trend,
            getattr(projection, "low", None),
            getattr(projection, "high", None),
            result.threshold,
        ),
        probability=getattr(result, "probability", None),
        reason=reason_text(result),
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
        review_reason=getattr(result, "review_reason", None),
        overdue_since=getattr(result, "overdue_since", None),
    )


# --- parties ---


class Party(_Out):
    model_config = ConfigDict(json_schema_extra=_examples(EX_PARTY))
    slug: str = Field(examples=["elon-musk"])
    name: str = Field(examples=["Elon Musk"])
    kind: str = Field(default="person", examples=["person"])


class SourceDocumentOut(_Out):
    model_config = ConfigDict(json_schema_extra=_examples(EX_SOURCE))
    slug: str
    title: str
    url: str | None = None
    language: str | None = None
    published_on: dt.date | None = None
    published_precision: str | None = None
    archived_sha256: str | None = None


class Quote(BaseModel):
    model_config = ConfigDict(json_schema_extra=_examples(EX_QUOTE))
    original: str | None = Field(
        default=None, examples=["2030年には中国の電力生産量が米国の3倍になる"]
    )
    language: str | None = Field(default=None, examples=["ja"])
    en: str | None = Field(
        default=None, examples=["By 2030 China's electricity will be 3x the US's"]
    )


class WindowOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples({"start": "2030-01-01", "end": "2030-12-31"})
    )
    start: dt.date | None = None
    end: dt.date | None = None


class CriterionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra=_examples(EX_CRITERION, EX_SIGNAL))
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
    model_config = ConfigDict(json_schema_extra=_examples(EX_RESOLUTION))
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
    early: bool = Field(
        default=False,
        description="Decided on or before the claim's deadline day (tracker.verdict_marks).",
    )
    overrides: bool = Field(
        default=False, description="It supersedes an earlier verdict (which is kept)."
    )


class ClaimSummary(BaseModel):
    """A claim in a list: who, what, when, and its current status."""

    model_config = ConfigDict(json_schema_extra=_examples(EX_SUMMARY))

    slug: str = Field(examples=["china-power-3x-us-2030"])
    title: str = Field(examples=["China's electricity production 3x the US's by 2030"])
    title_lang: str = Field(
        default="en",
        examples=["en"],
        description=(
            "The language of `title`: the reader's (Accept-Language, ?lang=) where the claim "
            "gives its title in it, else en (the English title, untranslated)."
        ),
    )
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
    title, title_lang = claim_text(claim, "title")
    return ClaimSummary(
        slug=claim.slug,
        title=title or claim.title,
        title_lang=title_lang,
        deadline=claim.deadline,
        kind=claim.kind,
        lifecycle=claim.lifecycle,
        tags=list(claim.tags or []),
        claimant=Party.model_validate(item.claimant),
        version=claim.version,
        updated_at=claim.updated_at,
        status=status_out(item.evaluation, claim),
    )


class ClaimLink(BaseModel):
    """Another claim, named and linked: where to read it here (paths on this server)."""

    model_config = ConfigDict(json_schema_extra=_examples(EX_VARIANT_LINK))

    slug: str = Field(examples=["china-power-3x-us-2026"])
    title: str | None = Field(default=None, description="Null when no stored claim has the slug.")
    lifecycle: str | None = Field(
        default=None, examples=["active"], description="draft, active or withdrawn."
    )
    url: str = Field(
        examples=["/api/v1/claims/china-power-3x-us-2026"], description="The claim in this API."
    )
    page_url: str = Field(
        examples=["/claims/china-power-3x-us-2026"], description="The claim's dashboard page."
    )


def claim_link(ref: ClaimRef) -> ClaimLink:
    path = quote(ref.slug, safe="")
    return ClaimLink(
        slug=ref.slug,
        title=ref.title,
        lifecycle=ref.lifecycle,
        url=f"{API_PREFIX}/claims/{path}",
        page_url=f"/claims/{path}",
    )


class ClaimOut(ClaimSummary):
    """A claim with everything needed to judge it: words, parties, criteria, status, verdict."""

    model_config = ConfigDict(json_schema_extra=_examples(EX_CLAIM))

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
    text_lang: dict[str, str] = Field(
        default_factory=dict,
        examples=[{"deadline_interpretation": "ja", "deadline_alternative": "en"}],
        description=(
            "The language of `deadline_interpretation` and `deadline_alternative` when given: "
            "the reader's where the claim gives them in it, else en (untranslated)."
        ),
    )
    translations: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        examples=[{"ja": {"title": "2030年に中国の電力生産量は米国の3倍になる"}}],
        description=(
            "The claim's words in other languages as its file gives them, by language: "
            "title, deadline_interpretation, deadline_alternative and criteria (descriptions "
            "by criterion key)."
        ),
    )
    origin: str = Field(examples=["file"], description="file or api.")
    operationalised_by: str | None = Field(default=None, examples=["tracker"])
    variant_of: ClaimLink | None = Field(
        default=None,
        description=(
            "The claim this one is another reading of (the same statement as another report "
            "renders it), or null."
        ),
    )
    variants: list[ClaimLink] = Field(
        default_factory=list,
        description=(
            "The claims recorded as other readings of this one (their `variant_of` is this "
            "claim), withdrawn ones included; on a replay, those recorded as such by then."
        ),
    )
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
    reading, reading_lang = claim_text(claim, "deadline_interpretation")
    alternative, alternative_lang = claim_text(claim, "deadline_alternative")
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
        deadline_interpretation=reading,
        deadline_alternative=alternative,
        text_lang={
            name: lang
            for name, (text, lang) in (
                ("deadline_interpretation", (reading, reading_lang)),
                ("deadline_alternative", (alternative, alternative_lang)),
            )
            if text is not None
        },
        translations={
            lang: dict(block)
            for lang in ("ja",)
            if isinstance(block := (claim.spec or {}).get(lang), dict)
        },
        origin=claim.origin,
        operationalised_by=claim.operationalised_by,
        variant_of=claim_link(detail.variant_parent) if detail.variant_parent else None,
        variants=[claim_link(v) for v in detail.variants],
        probability=claim.probability,
        content_hash=claim.content_hash,
        criteria=[c for c in criteria if c.role != "context"],
        context_signals=[c for c in criteria if c.role == "context"],
        resolution=(
            resolution_out(detail.resolution, claim.deadline) if detail.resolution else None
        ),
        as_of=as_of,
    )


class ClaimPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {"items": [EX_SUMMARY], "next_cursor": "ZGVhZGxpbmV8MjAzMC0xMi0zMXw5"}
        )
    )
    items: list[ClaimSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null on the last page."
    )


class HistoryPoint(Status):
    model_config = ConfigDict(
        json_schema_extra=_examples({"id": 12, "claim_version": 1, **EX_STATUS})
    )
    id: int
    claim_version: int


class HistoryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "slug": "china-power-3x-us-2030",
                "points": [{"id": 12, "claim_version": 1, **EX_STATUS}],
            }
        )
    )
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
    model_config = ConfigDict(json_schema_extra=_examples(EX_REVISION))
    version: int
    change: str = Field(examples=["updated"], description="created, updated, withdrawn, ...")
    note: str | None = None
    diff: str | None = Field(default=None, description="Unified diff against the previous one.")
    criteria_changed: bool
    content_hash: str
    origin: str
    author: str | None = None
    created_at: dt.datetime
    catalogued: dt.date | None = Field(
        default=None,
        description=(
            "Set on a first version dated from its claim file's `catalogued` day (the file was "
            "reviewed into the catalogue then; this install loaded it later): provenance of "
            "`created_at`."
        ),
    )


class RevisionsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples({"slug": "china-power-3x-us-2030", "revisions": [EX_REVISION]})
    )
    slug: str
    revisions: list[RevisionOut]


def revision_out(row: ClaimRevision) -> RevisionOut:
    from tracker.claims import catalogued_on

    out = RevisionOut.model_validate(row)
    return out.model_copy(update={"catalogued": catalogued_on(row)})


class ResolutionsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples({"slug": "agi-2026", "resolutions": [EX_RESOLUTION]})
    )
    slug: str
    resolutions: list[ResolutionOut] = Field(description="All verdicts, superseded included.")


def resolution_out(row: Resolution, deadline: dt.date | None) -> ResolutionOut:
    """A verdict with its marks (`early` against the claim's `deadline`, `overrides`)."""
    marks = verdict_marks.marks_of(row, deadline)
    out = ResolutionOut.model_validate(row)
    return out.model_copy(update={"early": marks.early, "overrides": marks.overrides})


class DeadlinesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "today": "2026-11-28",
                "within_days": 60,
                "upcoming": [
                    {
                        **EX_SUMMARY,
                        "slug": "agi-2026",
                        "title": "AGI arrives in 2026",
                        "deadline": "2026-12-31",
                        "kind": "judged",
                        "tags": ["ai"],
                        "status": {"state": "open", "reason": "judged by a reviewer"},
                    }
                ],
                "awaiting_data": [],
                "needs_review": [],
            }
        )
    )
    today: dt.date
    within_days: int
    upcoming: list[ClaimSummary] = Field(description="Deadlines from today to today + N days.")
    awaiting_data: list[ClaimSummary] = Field(description="Passed; the data is not out yet.")
    needs_review: list[ClaimSummary] = Field(description="Passed; a reviewer must decide.")


class NotCountedOut(BaseModel):
    """A claim listed in a track record but left out of its counts, and why."""

    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "slug": "china-power-3x-us-2026",
                "reason": "variant_reading",
                "statement": "china-power-3x-us-2030",
            }
        )
    )
    slug: str
    reason: Literal["variant_reading", "withdrawn"]
    statement: str | None = Field(
        default=None,
        description="For a variant reading: the slug of the claim counted for the statement.",
    )


class TrackRecordOut(BaseModel):
    """Counts over the claimant's statements and their current verdicts.

    total = statements + variant_readings + withdrawn (every claim in `claims`);
    statements = resolved_true + resolved_false + resolved_partial + void + ambiguous +
    unresolved. A withdrawn claim is not counted; a variant reading (another report's reading
    of a statement, `variant_of` another of the claimant's claims) is counted once, through
    that claim. share_kept = true / (true + false + partial).
    """

    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "claimant": EX_PARTY,
                "total": 8,
                "statements": 7,
                "variant_readings": 1,
                "withdrawn": 0,
                "not_counted": [
                    {
                        "slug": "china-power-3x-us-2026",
                        "reason": "variant_reading",
                        "statement": "china-power-3x-us-2030",
                    }
                ],
                "resolved_true": 0,
                "resolved_false": 1,
                "resolved_partial": 0,
                "void": 0,
                "ambiguous": 0,
                "unresolved": 6,
                "share_kept": 0.0,
                "mean_lateness_days": 5.0,
                "late_verdicts": 1,
                "early_verdicts": 0,
                "brier_score": None,
                "brier_count": 0,
                "claims": [EX_SUMMARY],
            }
        )
    )

    claimant: Party
    total: int = Field(description="Every claim listed in `claims`.")
    statements: int = Field(description="The claims counted: total − variant_readings − withdrawn.")
    variant_readings: int = Field(
        description="Other reports' readings of a counted statement: listed, not counted again."
    )
    withdrawn: int = Field(description="Withdrawn claims: listed, not counted.")
    not_counted: list[NotCountedOut] = Field(
        default_factory=list, description="The claims listed but not counted, and why."
    )
    resolved_true: int
    resolved_false: int
    resolved_partial: int
    void: int
    ambiguous: int
    unresolved: int = Field(description="Statements without a current verdict.")
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
        statements=record.statements,
        variant_readings=record.variant_readings,
        withdrawn=record.withdrawn,
        not_counted=[
            NotCountedOut(slug=slug, reason="withdrawn")
            if why == "withdrawn"
            else NotCountedOut(slug=slug, reason="variant_reading", statement=why)
            for slug, why in record.not_counted.items()
        ],
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


def _http_url(value: str) -> str:
    """An absolute http(s) URL with a host (evidence a reader can open)."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s) URL")
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]


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
    evidence: list[HttpUrlText] = Field(
        default_factory=list, description="Evidence URLs (http/https)."
    )
    note: str | None = Field(
        default=None,
        description=(
            "Why: required to override any earlier verdict, to decide before the deadline, "
            "and on a hard claim to contradict the outcome the data decide."
        ),
    )


class WithdrawIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_examples(
            {"note": "duplicate of china-power-3x-us-2030 (same words, same source)"}
        ),
    )
    note: str = Field(min_length=3, description="Why the claim is withdrawn.")


class DryRunIndicator(BaseModel):
    model_config = ConfigDict(json_schema_extra=_examples(EX_DRY_RUN_INDICATOR))
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
    quarantined: str | None = Field(
        default=None,
        description=(
            "A fetched vintage held back by a plausibility gate, not used until confirmed or "
            "accepted: `fetch run <id>: <the gates it failed>` (null: none)."
        ),
    )
    gates: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The plausibility gates in force for the indicator (its catalogue entry's "
            "`plausibility`, else the defaults): max_revision, min, max, max_row_drop, "
            "complete_body."
        ),
    )


class DryRunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {
                "valid": True,
                "slug": "china-power-3x-us-2030",
                "saved": False,
                "indicators": [EX_DRY_RUN_INDICATOR],
                "status": EX_STATUS,
                "warnings": [],
            }
        )
    )
    valid: bool
    slug: str
    saved: bool = Field(default=False, description="Always false: nothing is written.")
    indicators: list[DryRunIndicator]
    status: Status | None = None
    warnings: list[str] = Field(default_factory=list)


class WriteResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples(
            {"slug": "china-power-3x-us-2030", "version": 2, "action": "updated", "claim": EX_CLAIM}
        )
    )
    slug: str
    version: int
    action: str = Field(examples=["created"])
    claim: ClaimOut
