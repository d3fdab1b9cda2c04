"""The data API under /api/v1: the indicator catalogue with its data health (tracker.data_health,
the same states the dashboard and /readyz show), observations as known on any date (bitemporal),
and the fetch runs that produced them (provenance, newest first).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlmodel import Session, select

from tracker.data_health import (
    STALE_AFTER_INTERVALS,
    HealthState,
    health_changed_at,
    indicator_health,
)
from tracker.models import FetchRun, FetchStatus, Indicator
from tracker.observations import observations_as_of
from tracker.web.api import PROBLEM_RESPONSES, read_access
from tracker.web.caching import conditional_response
from tracker.web.deps import NowDep, SessionDep, SettingsDep
from tracker.web.problems import ProblemError

router = APIRouter(
    prefix="/api/v1",
    tags=["data"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(read_access)],
)


EX_OBSERVATION: dict[str, Any] = {
    "period": "2025",
    "value": 10583.0,
    "known_from": "2026-11-26T03:00:02Z",
    "known_until": None,
    "fetch_run_id": 42,
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
            f"{STALE_AFTER_INTERVALS} refresh intervals; see `stale`) | failing (the latest "
            "fetch failed; see `last_fetch_error`)."
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


class ObservationsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "indicator": "owid.electricity_generation.chn",
                    "unit": "TWh",
                    "as_of": "2026-11-27T23:59:59.999999Z",
                    "observations": [EX_OBSERVATION],
                }
            ]
        }
    )
    indicator: str
    unit: str
    as_of: dt.datetime | None = Field(
        description="The instant the values are as known at (end of the as_of day, UTC); null: now."
    )
    observations: list[ObservationOut]


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


@router.get(
    "/indicators",
    response_model=list[IndicatorOut],
    summary="The indicator catalogue with the data health of each series",
    description=(
        "Every indicator of the catalogue (e.g. `owid.electricity_generation.chn`, "
        "`epoch.max_training_compute`), with its unit, frequency, refresh cadence, the latest "
        "fetch run and its health: never_fetched, needs_key (with the missing setting), "
        "bundled, ok, stale or failing, each with a reason an operator can act on. The same "
        "states the dashboard and /readyz report. Public unless the server requires a token "
        "for reads (then 401 without a valid one). Conditional GET: ETag, and Last-Modified "
        "(the newest fetch, error or catalogue change, or the moment an indicator turned "
        "stale as the clock passed); send them back for a 304."
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
        raise ProblemError(404, f"no indicator with key {key!r}", code="not-found")
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
        dt.date | None,
        Query(
            description=(
                "YYYY-MM-DD: the values as tracker knew them at the end of that day (UTC). "
                "Omitted: the current values."
            )
        ),
    ] = None,
) -> ObservationsOut:
    indicator = _indicator_or_404(session, key)
    assert indicator.id is not None
    at = end_of_day(as_of) if as_of is not None else None
    rows = observations_as_of(session, [indicator.id], at).get(indicator.id, [])
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
            )
            for r in rows
        ],
    )


@router.get(
    "/fetch-runs",
    response_model=list[FetchRunOut],
    summary="Fetch runs, newest first, with their errors (provenance of every stored value)",
    description=(
        "Each fetch of an upstream source: the URL asked (secrets removed), HTTP status, "
        "attempts, size and sha256 of the raw body kept, rows new / revised / unchanged, and "
        "the error kind and message of a failed run. Filter by `indicator` key (404 if "
        "unknown) and `status` (ok, error, running); `limit` caps the count (1–1000, default "
        "100; 422 outside). Public unless the server requires a token for reads (then 401 "
        "without a valid one)."
    ),
)
def list_fetch_runs(
    session: SessionDep,
    indicator: Annotated[str | None, Query(description="Only runs of this indicator key.")] = None,
    status: Annotated[FetchStatus | None, Query(description="ok | error | running")] = None,
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
    return [
        FetchRunOut(
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
        )
        for run, key in session.execute(stmt).all()
    ]
