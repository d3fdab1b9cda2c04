"""The data API under /api/v1: the indicator catalogue with its data health (tracker.data_health,
the same states the dashboard and /readyz show), observations as known on any date (bitemporal,
with the page each came from and the quarantined values held back beside them), the fetch runs
that produced them (every page, newest first), and a reviewer's accept or reject of a
quarantined vintage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tracker.clock import utcnow
from tracker.data_health import (
    STALE_AFTER_INTERVALS,
    HealthState,
    health_changed_at,
    indicator_health,
)
from tracker.i18n.catalogs import _
from tracker.models import ApiToken, FetchRun, FetchStatus, Indicator, QuarantineDecision
from tracker.observations import observations_as_of, quarantined_as_of
from tracker.quarantine import QuarantineConflict, review_vintage
from tracker.web.api import PROBLEM_RESPONSES, ResolveToken
from tracker.web.caching import conditional_response
from tracker.web.deps import (
    AsOfError,
    NowDep,
    SessionDep,
    SettingsDep,
    as_of_problem,
    get_now,
    read_as_of,
)
from tracker.web.guard import DbId, GuardedRoute
from tracker.web.problems import ProblemError
from tracker.web.provenance import Page, QuarantineView, page_of, pages_of, quarantine_views

router = APIRouter(
    prefix="/api/v1",
    tags=["data"],
    responses=PROBLEM_RESPONSES,
    route_class=GuardedRoute,
)


EX_PAGE_REF: dict[str, Any] = {
    "number": 1,
    "url": "https://ourworldindata.org/grapher/electricity-generation.csv?v=1&csvType=filtered"
    "&useColumnShortNames=true&country=CHN",
    "sha256": "c0ffee" + "0" * 58,
}
EX_OBSERVATION: dict[str, Any] = {
    "period": "2025",
    "value": 10583.0,
    "known_from": "2026-11-26T03:00:02Z",
    "known_until": None,
    "fetch_run_id": 42,
    "page": EX_PAGE_REF,
}
EX_QUARANTINED_VALUE: dict[str, Any] = {
    "period": "2025",
    "value": 10.0,
    "in_use": 10583.36,
    "known_from": "2026-12-04T03:00:01Z",
    "known_until": None,
    "fetch_run_id": 57,
    "reason": "electricity-generation.csv: the CSV ends inside its last row "
    "'China,CHN,2025,10' (no final line break: cut short); 2025: 10,583.4 revised to 10 "
    "(99.9 %), more than the 50 % a period that had ended may move",
}
EX_PAGES: list[Any] = [
    {
        "number": 1,
        "url": "https://api.worldbank.org/v2/country/CHN/indicator/SP.POP.TOTL?format=json"
        "&per_page=1000&page=1",
        "status": 200,
        "bytes": 11870,
        "sha256": "d00d" + "0" * 60,
        "content_type": "application/json",
        "periods": {"rows": 25, "first": "2000", "last": "2024"},
    },
    {
        "number": 2,
        "url": "https://api.worldbank.org/v2/country/CHN/indicator/SP.POP.TOTL?format=json"
        "&per_page=1000&page=2",
        "status": 200,
        "bytes": 4790,
        "sha256": "beef" + "0" * 60,
        "content_type": "application/json",
        "periods": {"rows": 10, "first": "1990", "last": "1999"},
    },
]


EX_FINDINGS: list[Any] = [
    {
        "gate": "body",
        "message": "electricity-generation.csv: the CSV ends inside its last row "
        "'China,CHN,2025,10' (no final line break: cut short)",
        "period": None,
    },
    {
        "gate": "revision",
        "message": "2025: 10,583.4 revised to 10 (99.9 %), more than the 50 % a period that "
        "had ended may move",
        "period": "2025",
    },
]
EX_DECISIONS: list[Any] = [
    {
        "action": "quarantined",
        "decided_at": "2026-12-04T03:00:01Z",
        "decided_by": "tracker",
        "reason": EX_QUARANTINED_VALUE["reason"],
        "by_fetch_run_id": None,
    },
    {
        "action": "rejected",
        "decided_at": "2026-12-04T09:12:40Z",
        "decided_by": "reviewer-ana",
        "reason": "OWID's CSV was cut off; the next fetch was whole.",
        "by_fetch_run_id": None,
    },
]
EX_QUARANTINE: dict[str, Any] = {
    "state": "rejected",
    "reason": EX_QUARANTINED_VALUE["reason"],
    "findings": EX_FINDINGS,
    "findings_total": 2,
    "decisions": EX_DECISIONS,
}


class IndicatorOut(BaseModel):
    """One series of the catalogue and the health of its fetches."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "owid.electricity_generation.chn",
                    "title": "Electricity generation, China",
                    "source": "owid",
                    "unit": "TWh",
                    "frequency": "annual",
                    "refresh": "weekly",
                    "last_fetch_status": "ok",
                    "last_fetch_at": "2026-11-27T03:00:00Z",
                    "last_fetch_error": None,
                    "last_success_at": "2026-11-27T03:00:02Z",
                    "last_error_at": None,
                    "next_update_expected": "2027-06-15",
                    "last_updated_upstream": "2026-06-20",
                    "health": "ok",
                    "health_reason": "fetched 2026-11-27; next check within a week",
                    "needs_setting": None,
                    "bundled_retrieved_on": None,
                    "stale": False,
                    "failing": False,
                }
            ]
        }
    )

    key: str = Field(description="Catalogue key, e.g. `owid.electricity_generation.chn`.")
    title: str | None = None
    source: str = Field(description="Adapter name (owid, worldbank, ember, fred, …).")
    unit: str
    frequency: str = Field(description="annual | monthly | daily | point")
    refresh: str = Field(description="Fetch cadence: daily, weekly, monthly or `every Nh`.")
    last_fetch_status: str | None = Field(
        description="Status of the latest fetch run: ok | error | running (null: never fetched)."
    )
    last_fetch_at: dt.datetime | None = Field(description="When the latest fetch run started.")
    last_fetch_error: str | None = Field(description="Error of the latest fetch, if it failed.")
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    next_update_expected: dt.date | None = Field(
        description="When the upstream says it publishes next (e.g. OWID nextUpdate)."
    )
    last_updated_upstream: dt.date | None
    health: HealthState = Field(
        description=(
            "never_fetched (no data, no fetch yet) | needs_key (the source needs an API key "
            "that is not configured; see `needs_setting`) | bundled (only the shipped snapshot "
            "so far; see `bundled_retrieved_on`) | ok | stale (no successful fetch for "
            f"{STALE_AFTER_INTERVALS} refresh intervals; see `stale`) | quarantined (a fetched "
            "vintage failed a plausibility gate and is held back until a later fetch confirms "
            "it or a reviewer accepts it; see `health_reason` and /api/v1/fetch-runs"
            "?quarantined=true) | failing (the latest fetch failed; see `last_fetch_error`)."
        )
    )
    health_reason: str = Field(description="Why, in one sentence an operator can act on.")
    needs_setting: str | None = Field(
        description="The missing setting, e.g. TRACKER_FRED_API_KEY (null: none missing)."
    )
    bundled_retrieved_on: str | None = Field(
        description="Retrieval date of the bundled snapshot loaded for it (null: none loaded)."
    )
    stale: bool = Field(
        description=(
            f"No successful fetch for {STALE_AFTER_INTERVALS} refresh intervals, counted from "
            "the last success or, if none ever succeeded, from when tracking the indicator "
            "began; true whatever `health` says (a failing indicator can be stale too). The "
            "same definition as the dashboard's stale badge and /readyz `stale_indicators`."
        )
    )
    failing: bool = Field(description="The latest fetch failed after the last success.")


class PageRefOut(BaseModel):
    """The response (page) of a fetch run that gave a value."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_PAGE_REF]})

    number: int = Field(description="1-based position among the run's responses.")
    url: str | None = Field(description="The URL asked, secrets removed.")
    sha256: str | None = Field(description="sha256 of that page's raw body, kept by tracker.")


class ObservationOut(BaseModel):
    """A value as known at the requested time, with its validity interval and provenance."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_OBSERVATION]})

    period: str = Field(description='"2025", "2025-03" or "2025-03-01".')
    value: float | None
    known_from: dt.datetime = Field(description="From when this value was known to tracker.")
    known_until: dt.datetime | None = Field(
        description="When a revision replaced it (null: still current)."
    )
    fetch_run_id: int | None = Field(description="The fetch run that stored it (provenance).")
    page: PageRefOut | None = Field(
        default=None,
        description=(
            "The page of that fetch run whose body gave this period (e.g. World Bank page 2 "
            "for the 1990s); null when the run recorded no periods per page."
        ),
    )


class QuarantinedValueOut(BaseModel):
    """A value of a quarantined vintage: stored, held back, not used by any evaluation."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_QUARANTINED_VALUE]})

    period: str
    value: float | None
    in_use: float | None = Field(
        description="The value in use for the period at the same time (null: none)."
    )
    known_from: dt.datetime = Field(description="When the quarantined vintage was fetched.")
    known_until: dt.datetime | None = Field(
        description="When it was decided (confirmed, accepted, rejected or superseded)."
    )
    fetch_run_id: int | None = Field(description="The quarantined fetch run (its `quarantine`).")
    reason: str = Field(description="The gates the vintage failed.")


class ObservationsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "indicator": "owid.electricity_generation.chn",
                    "unit": "TWh",
                    "as_of": "2026-12-05T23:59:59.999999Z",
                    "observations": [EX_OBSERVATION],
                    "quarantined": [EX_QUARANTINED_VALUE],
                }
            ]
        }
    )
    indicator: str
    unit: str
    as_of: dt.datetime | None = Field(
        description="The instant the values are as known at (end of the as_of day, UTC); null: now."
    )
    observations: list[ObservationOut] = Field(description="The values in use then.")
    quarantined: list[QuarantinedValueOut] = Field(
        default_factory=list,
        description=(
            "Values of a vintage that failed a plausibility gate and was still held back then "
            "(not used; see the fetch run's `quarantine`)."
        ),
    )


class PagePeriodsOut(BaseModel):
    """The periods one page gave."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_PAGES[1]["periods"]]})

    rows: int = Field(description="Points this page gave.")
    first: str | None = Field(description="Its first period.")
    last: str | None = Field(description="Its last period.")


class PageOut(BaseModel):
    """One response of a fetch run (each page of a multi-page fetch), as kept for provenance."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_PAGES[1]]})

    number: int = Field(description="1-based position among the run's responses.")
    url: str | None = Field(description="The URL asked, secrets removed.")
    status: int | None = Field(description="HTTP status.")
    bytes: int | None = Field(description="Size of the raw body kept.")
    sha256: str | None = Field(description="sha256 of the raw body kept.")
    content_type: str | None = None
    periods: PagePeriodsOut | None = Field(
        description="The periods this page gave (null: none, e.g. a metadata response)."
    )


class FindingOut(BaseModel):
    """One plausibility gate a vintage failed."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_FINDINGS[1]]})

    gate: str = Field(description="revision | range | rows | body")
    message: str
    period: str | None = None


class QuarantineDecisionOut(BaseModel):
    """One decision on a quarantined vintage (append-only)."""

    model_config = ConfigDict(json_schema_extra={"examples": EX_DECISIONS})

    action: str = Field(description="quarantined | confirmed | accepted | rejected | superseded")
    decided_at: dt.datetime
    decided_by: str | None = Field(
        description="The reviewer (token name), or `tracker` for a decision at a fetch."
    )
    reason: str
    by_fetch_run_id: int | None = Field(description="The later fetch that confirmed/superseded.")


class QuarantineOut(BaseModel):
    """What became of a quarantined vintage."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_QUARANTINE]})

    state: str = Field(description="pending | confirmed | accepted | rejected | superseded")
    reason: str = Field(description="The gates it failed, in one line.")
    findings: list[FindingOut]
    findings_total: int = Field(description="How many findings (only the first 50 are kept).")
    decisions: list[QuarantineDecisionOut] = Field(description="Oldest first; append-only.")


class FetchRunOut(BaseModel):
    """Provenance of one fetch (the URL has its secrets removed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "indicator": "owid.electricity_generation.chn",
                    "source": "owid",
                    "trigger": "scheduler",
                    "status": "ok",
                    "url": "https://ourworldindata.org/grapher/electricity-generation.csv",
                    "started_at": "2026-11-27T03:00:00Z",
                    "finished_at": "2026-11-27T03:00:02Z",
                    "duration_ms": 1840,
                    "http_status": 200,
                    "attempts": 1,
                    "bytes": 412733,
                    "body_sha256": "c0ffee" + "0" * 58,
                    "rows_seen": 126,
                    "rows_new": 0,
                    "rows_revised": 1,
                    "rows_unchanged": 125,
                    "error_kind": None,
                    "error": None,
                    "quarantined": False,
                    "quarantine": None,
                    "pages": EX_PAGES,
                }
            ]
        }
    )

    id: int
    indicator: str | None
    source: str
    trigger: str = Field(description="scheduler | cli | bundled | api | test")
    status: str = Field(description="running | ok | error")
    url: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    http_status: int | None
    attempts: int
    bytes: int | None
    body_sha256: str | None = Field(description="sha256 of the raw body kept for this run.")
    rows_seen: int
    rows_new: int
    rows_revised: int
    rows_unchanged: int
    error_kind: str | None
    error: str | None
    quarantined: bool = Field(
        description=(
            "The run's vintage failed a plausibility gate and was stored quarantined (not used "
            "until confirmed by a later fetch or accepted by a reviewer); see `quarantine`."
        )
    )
    quarantine: QuarantineOut | None = Field(
        description="Why it was held back and each decision since (null: not quarantined)."
    )
    pages: list[PageOut] = Field(
        description=(
            "Every response the run read, in order: each page of a multi-page fetch with its "
            "URL, size, sha256 and the periods it gave (`url`/`body_sha256` are the first's)."
        )
    )


class ReviewIn(BaseModel):
    """A reviewer's decision on a quarantined vintage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "OWID's CSV was cut off; the next fetch was whole."}]
        },
    )

    reason: str = Field(min_length=3, max_length=2000, description="Why (kept with the decision).")


@router.get(
    "/indicators",
    response_model=list[IndicatorOut],
    summary="The indicator catalogue with the data health of each series",
    description=(
        "Every indicator of the catalogue (e.g. `owid.electricity_generation.chn`, "
        "`epoch.max_training_compute`), with its unit, frequency, refresh cadence, the latest "
        "fetch run and its health: never_fetched, needs_key (with the missing setting), "
        "bundled, ok, stale, quarantined or failing, each with a reason an operator can act "
        "on. The same states the dashboard and /readyz report. Public unless the server "
        "requires a token for reads (then 401 without a valid one). Conditional GET: ETag, "
        "and Last-Modified (the newest fetch, error, quarantine decision or catalogue change, "
        "or the moment an indicator turned stale as the clock passed); send them back for a "
        "304."
    ),
)
def list_indicators(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    health = indicator_health(session, settings, now)
    out = []
    for h in health:
        indicator, latest = h.indicator, h.last_run
        out.append(
            IndicatorOut(
                key=indicator.key,
                title=indicator.title,
                source=indicator.source,
                unit=indicator.unit,
                frequency=indicator.frequency,
                refresh=indicator.refresh,
                last_fetch_status=latest.status if latest else None,
                last_fetch_at=latest.started_at if latest else None,
                last_fetch_error=latest.error if latest else None,
                last_success_at=indicator.last_success_at,
                last_error_at=indicator.last_error_at,
                next_update_expected=indicator.next_update_expected,
                last_updated_upstream=indicator.last_updated_upstream,
                health=h.state,
                health_reason=h.reason,
                needs_setting=h.needs_setting,
                bundled_retrieved_on=h.bundled_retrieved_on,
                stale=h.stale,
                failing=h.failing,
            )
        )
    modified = max((health_changed_at(h, now) for h in health), default=None)
    body = _INDICATORS.dump_json(out)
    return conditional_response(request, body, "application/json", last_modified=modified)


_INDICATORS: TypeAdapter[list[IndicatorOut]] = TypeAdapter(list[IndicatorOut])


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


def _indicator_or_404(session: Session, key: str) -> Indicator:
    indicator = session.exec(select(Indicator).where(Indicator.key == key)).first()
    if indicator is None:
        raise ProblemError(404, _("no indicator with key %(key)r") % {"key": key}, code="not-found")
    return indicator


@router.get(
    "/indicators/{key}/observations",
    response_model=ObservationsOut,
    summary="An indicator's values as known on a date (bitemporal as-of read)",
    description=(
        "The values of one indicator, one per period, as tracker knew them: now, or with "
        "`as_of=YYYY-MM-DD` at the end of that UTC day (a later revision does not show in a "
        "replay). Each value carries its validity interval (`known_from`, `known_until`) and "
        "the fetch run that stored it (see /api/v1/fetch-runs). 404 (problem+json) for an "
        "unknown key, 422 for a malformed date. Public unless the server requires a token for "
        "reads (then 401 without a valid one)."
    ),
)
def indicator_observations(
    key: str,
    session: SessionDep,
    as_of: Annotated[
        # read by deps.read_as_of, as every page and route does (a future day is a 422)
        Annotated[str, WithJsonSchema({"type": "string", "format": "date"})] | None,
        Query(
            description=(
                "YYYY-MM-DD, not after today: the values as tracker knew them at the end of "
                "that day (UTC). Omitted or empty: the current values."
            )
        ),
    ] = None,
) -> ObservationsOut:
    try:
        day = read_as_of(as_of, get_now().date())
    except AsOfError as exc:
        raise as_of_problem(exc) from None
    indicator = _indicator_or_404(session, key)
    assert indicator.id is not None
    at = end_of_day(day) if day is not None else None
    rows = observations_as_of(session, [indicator.id], at).get(indicator.id, [])
    held = quarantined_as_of(session, [indicator.id], at).get(indicator.id, [])
    run_ids = {r.fetch_run_id for r in [*rows, *held] if r.fetch_run_id is not None}
    runs = _runs(session, run_ids)
    pages = {run_id: pages_of(run) for run_id, run in runs.items()}
    views = quarantine_views(session, runs.values(), at)
    in_use = {r.period: r.value for r in rows}

    def page(run_id: int | None, period: str) -> PageRefOut | None:
        found = page_of(pages.get(run_id or -1, []), period)
        if found is None:
            return None
        return PageRefOut(number=found.number, url=found.url, sha256=found.sha256)

    def reason(run_id: int | None) -> str:
        view = views.get(run_id or -1)
        return view.reason if view is not None else "quarantined"

    return ObservationsOut(
        indicator=indicator.key,
        unit=indicator.unit,
        as_of=at,
        observations=[
            ObservationOut(
                period=r.period,
                value=r.value,
                known_from=r.known_from,
                known_until=r.known_until,
                fetch_run_id=r.fetch_run_id,
                page=page(r.fetch_run_id, r.period),
            )
            for r in rows
        ],
        quarantined=[
            QuarantinedValueOut(
                period=r.period,
                value=r.value,
                in_use=in_use.get(r.period),
                known_from=r.known_from,
                known_until=r.known_until,
                fetch_run_id=r.fetch_run_id,
                reason=reason(r.fetch_run_id),
            )
            for r in held
        ],
    )


def _runs(session: Session, ids: set[int]) -> dict[int, FetchRun]:
    if not ids:
        return {}
    found = session.exec(select(FetchRun).where(col(FetchRun.id).in_(sorted(ids)))).all()
    return {run.id: run for run in found if run.id is not None}


def _page_out(page: Page) -> PageOut:
    periods = None
    if page.rows is not None:
        periods = PagePeriodsOut(rows=page.rows, first=page.first, last=page.last)
    return PageOut(
        number=page.number,
        url=page.url,
        status=page.status,
        bytes=page.bytes,
        sha256=page.sha256,
        content_type=page.content_type,
        periods=periods,
    )


def _decision_out(decision: QuarantineDecision) -> QuarantineDecisionOut:
    return QuarantineDecisionOut(
        action=decision.action,
        decided_at=decision.decided_at,
        decided_by=decision.decided_by,
        reason=decision.reason,
        by_fetch_run_id=decision.by_fetch_run_id,
    )


def _quarantine_out(view: QuarantineView | None) -> QuarantineOut | None:
    if view is None:
        return None
    return QuarantineOut(
        state=view.state,
        reason=view.reason,
        findings=[
            FindingOut(
                gate=str(f.get("gate")), message=str(f.get("message")), period=f.get("period")
            )
            for f in view.findings
        ],
        findings_total=view.findings_total,
        decisions=[_decision_out(d) for d in view.decisions],
    )


def _fetch_run_out(
    run: FetchRun, key: str | None, views: Mapping[int, QuarantineView]
) -> FetchRunOut:
    assert run.id is not None
    return FetchRunOut(
        id=run.id,
        indicator=key,
        source=run.source,
        trigger=run.trigger,
        status=run.status,
        url=run.url,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        http_status=run.http_status,
        attempts=run.attempts,
        bytes=run.bytes,
        body_sha256=run.body_sha256,
        rows_seen=run.rows_seen,
        rows_new=run.rows_new,
        rows_revised=run.rows_revised,
        rows_unchanged=run.rows_unchanged,
        error_kind=run.error_kind,
        error=run.error,
        quarantined=run.quarantined,
        quarantine=_quarantine_out(views.get(run.id)),
        pages=[_page_out(p) for p in pages_of(run)],
    )


@router.get(
    "/fetch-runs",
    response_model=list[FetchRunOut],
    summary="Fetch runs, newest first, with their errors (provenance of every stored value)",
    description=(
        "Each fetch of an upstream source: every response it read (`pages`: URL with secrets "
        "removed, HTTP status, size, sha256 of the raw body kept and the periods each page "
        "gave), attempts, rows new / revised / unchanged, the error kind and message of a "
        "failed run, and for a run whose vintage failed a plausibility gate its `quarantine` "
        "(why, and each decision since). Filter by `indicator` key (404 if unknown), `status` "
        "(ok, error, running) and `quarantined`; `limit` caps the count (1–1000, default 100; "
        "422 outside). Public unless the server requires a token for reads (then 401 without a "
        "valid one)."
    ),
)
def list_fetch_runs(
    session: SessionDep,
    indicator: Annotated[str | None, Query(description="Only runs of this indicator key.")] = None,
    status: Annotated[FetchStatus | None, Query(description="ok | error | running")] = None,
    quarantined: Annotated[
        bool | None, Query(description="Only runs whose vintage was (true) or was not quarantined.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many runs.")] = 100,
) -> list[FetchRunOut]:
    runs = FetchRun.__table__.c  # type: ignore[attr-defined]
    indicators = Indicator.__table__.c  # type: ignore[attr-defined]
    stmt = (
        sa.select(FetchRun, indicators.key)
        .outerjoin(Indicator, indicators.id == runs.indicator_id)
        .order_by(runs.started_at.desc(), runs.id.desc())
        .limit(limit)
    )
    if indicator is not None:
        found = _indicator_or_404(session, indicator)
        stmt = stmt.where(runs.indicator_id == found.id)
    if status is not None:
        stmt = stmt.where(runs.status == status.value)
    if quarantined is not None:
        stmt = stmt.where(runs.quarantined == quarantined)
    found_runs = [(run, key) for run, key in session.execute(stmt).all()]
    views = quarantine_views(session, [run for run, _ in found_runs])
    return [_fetch_run_out(run, key, views) for run, key in found_runs]


def _run_or_404(session: Session, run_id: int) -> tuple[FetchRun, str | None]:
    run = session.get(FetchRun, run_id)
    if run is None:
        raise ProblemError(404, _("no fetch run %(id)s") % {"id": run_id}, code="not-found")
    indicator = session.get(Indicator, run.indicator_id) if run.indicator_id else None
    return run, indicator.key if indicator is not None else None


@router.get(
    "/fetch-runs/{run_id}",
    response_model=FetchRunOut,
    summary="One fetch run: every page it read and, if quarantined, what became of it",
    description=(
        "The run's provenance in full: each response (page) with URL, size, sha256 and the "
        "periods it gave, and for a quarantined vintage the gates it failed and every "
        "decision since (confirmed by a later fetch, accepted or rejected by a reviewer, "
        "superseded). 404 (problem+json) for an unknown id."
    ),
)
def get_fetch_run(run_id: DbId, session: SessionDep) -> FetchRunOut:
    run, key = _run_or_404(session, run_id)
    return _fetch_run_out(run, key, quarantine_views(session, [run]))


def _review(
    session: Session, run_id: int, token: ApiToken, body: ReviewIn, *, accept: bool
) -> FetchRunOut:
    from tracker.status import evaluate_claims, lock_evaluation_runs

    run, key = _run_or_404(session, run_id)
    now = utcnow()
    try:
        # the evaluation lock first, as every write that then evaluates takes it (web.api)
        lock_evaluation_runs(session)
        review_vintage(
            session,
            run_id,
            accept=accept,
            decided_by=token.name,
            reason=body.reason.strip(),
            now=now,
        )
        assert run.indicator_id is not None
        evaluate_claims(session, now=now, indicator_ids=[run.indicator_id])
        session.commit()
    except QuarantineConflict as exc:
        session.rollback()
        raise ProblemError(409, str(exc), code="conflict") from exc
    except IntegrityError as exc:
        session.rollback()
        raise ProblemError(409, _("the vintage was decided at the same time; retry")) from exc
    session.refresh(run)
    return _fetch_run_out(run, key, quarantine_views(session, [run]))


REVIEW_DESCRIPTION = (
    "Needs a bearer token with scope `resolve` (401 without one, 403 without the scope). "
    "Only a pending quarantined vintage can be decided (409 otherwise; 404 for an unknown run; "
    "422 without a `reason` of 3 characters or more). The decision is appended with who (the "
    "token's name), when and why; the claims reading the indicator are re-evaluated in the "
    "same transaction. A replay of any earlier date still reads what was in use then."
)


@router.post(
    "/fetch-runs/{run_id}/accept",
    response_model=FetchRunOut,
    summary="Accept a quarantined vintage: its values are used from now on",
    description=REVIEW_DESCRIPTION,
)
def accept_fetch_run(
    run_id: DbId, body: ReviewIn, session: SessionDep, token: ResolveToken
) -> FetchRunOut:
    return _review(session, run_id, token, body, accept=True)


@router.post(
    "/fetch-runs/{run_id}/reject",
    response_model=FetchRunOut,
    summary="Reject a quarantined vintage: its values are never used",
    description=REVIEW_DESCRIPTION,
)
def reject_fetch_run(
    run_id: DbId, body: ReviewIn, session: SessionDep, token: ResolveToken
) -> FetchRunOut:
    return _review(session, run_id, token, body, accept=False)
