"""Declaring indicators over the API (scope `claims:write`): `POST /api/v1/indicators:dry-run`
checks a declaration and fetches its series once, showing the first and last values, storing
nothing; `POST /api/v1/indicators` stores it (tracker.indicator_declarations), and the scheduler
fetches it from then on like every other indicator.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from tracker.clock import utcnow
from tracker.i18n.catalogs import _
from tracker.indicator_declarations import (
    DeclarationConflict,
    DeclarationError,
    FetchPreview,
    declare_indicator,
    preview_fetch,
    validate_declaration,
)
from tracker.indicators import IndicatorEntry
from tracker.web.api import PROBLEM_RESPONSES, WriteToken, json_bytes
from tracker.web.deps import SessionDep, SourceHttpDep
from tracker.web.guard import GuardedRoute
from tracker.web.problems import ProblemError

router = APIRouter(
    prefix="/api/v1", tags=["data"], responses=PROBLEM_RESPONSES, route_class=GuardedRoute
)

EX_DECLARATION: dict[str, Any] = {
    "key": "worldbank.population.ind",
    "title": "Population, India",
    "source": "worldbank",
    "params": {"indicator": "SP.POP.TOTL", "country": "IND"},
    "unit": "persons",
    "frequency": "annual",
    "publication_lag_days": 190,
    "revision_window_days": 730,
    "refresh": "weekly",
}
DeclarationBody = Annotated[
    dict[str, Any],
    Body(
        description=(
            "An indicators.yaml entry: key, title, source, params (the source's series "
            "parameters), unit, frequency, publication_lag_days, revision_window_days, "
            "refresh, and optionally grace_days, gaps, plausibility, note."
        ),
        examples=[EX_DECLARATION],
    ),
]


EX_FIRST: dict[str, Any] = {"period": "1960", "value": 435000000.0}
EX_LAST: dict[str, Any] = {"period": "2024", "value": 1450935791.0}
EX_FETCH: dict[str, Any] = {
    "ok": True,
    "unit": "persons",
    "points": 65,
    "first": EX_FIRST,
    "last": EX_LAST,
    "urls": [
        "https://api.worldbank.org/v2/country/IND/indicator/SP.POP.TOTL?format=json"
        "&per_page=1000&page=1"
    ],
    "error": None,
    "error_kind": None,
}


class PointOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EX_LAST]})

    period: str = Field(description='"2024", "2024-03", …')
    value: float


class FetchPreviewOut(BaseModel):
    """What one fetch of the series gave (nothing of it stored)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EX_FETCH]})

    ok: bool = Field(description="The fetch succeeded and gave at least one value.")
    unit: str = Field(description="The unit the declaration gives the values.")
    points: int = Field(description="How many values the fetch gave.")
    first: PointOut | None = Field(description="The earliest period's value.")
    last: PointOut | None = Field(description="The latest period's value.")
    urls: list[str] = Field(description="The URLs asked (secrets removed).")
    error: str | None = Field(description="Why the fetch failed (null: it did not).")
    error_kind: str | None = Field(description="http | timeout | parse | empty | config | …")


class IndicatorDryRunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"valid": True, "saved": False, "indicator": EX_DECLARATION, "fetch": EX_FETCH}
            ]
        }
    )

    valid: bool
    saved: bool = Field(description="Always false: a dry run stores nothing.")
    indicator: dict[str, Any] = Field(description="The entry as it would be stored.")
    fetch: FetchPreviewOut


class IndicatorDeclaredOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": EX_DECLARATION["key"],
                    "action": "created",
                    "origin": "api",
                    "indicator": EX_DECLARATION,
                }
            ]
        }
    )

    key: str
    action: str = Field(description="created")
    origin: str = Field(description="api: declared here (`tracker claims export` writes it).")
    indicator: dict[str, Any] = Field(description="The entry as stored.")


def declaration_problem(exc: DeclarationError) -> ProblemError:
    errors = [
        {"field": i.field, "location": "body", "message": i.message, "type": "indicator_error"}
        for i in exc.issues
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ProblemError(
        422,
        _("the indicator declaration is invalid: %(fields)s") % {"fields": fields},
        code="validation-error",
        errors=errors,
    )


def _conflict(key: str) -> ProblemError:
    return ProblemError(
        409,
        _("an indicator with key %(key)r already exists; pick another key") % {"key": key},
        code="conflict",
        title="Conflict",
    )


def entry_json(entry: IndicatorEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude_none=True)


def preview_out(preview: FetchPreview) -> FetchPreviewOut:
    def point(p: Any) -> PointOut | None:
        return PointOut(period=p.period, value=p.value) if p is not None else None

    return FetchPreviewOut(
        ok=preview.ok,
        unit=preview.unit,
        points=preview.points,
        first=point(preview.first),
        last=point(preview.last),
        urls=preview.urls,
        error=preview.error,
        error_kind=preview.error_kind,
    )


@router.post(
    "/indicators:dry-run",
    response_model=IndicatorDryRunOut,
    summary="Check an indicator declaration and fetch its series once, storing nothing",
    description=(
        "Needs a token with scope `claims:write`. Validates the entry (422 naming each bad "
        "field, the series parameters checked by the source), then fetches the series through "
        "tracker's HTTP client (timeouts, retries, size cap) and answers its first and last "
        "values with their periods and the unit. A failed fetch is `fetch.ok: false` with the "
        "error. Nothing is stored."
    ),
)
def dry_run_indicator(
    _token: WriteToken, payload: DeclarationBody, http: SourceHttpDep
) -> IndicatorDryRunOut:
    try:
        entry = validate_declaration(payload)
    except DeclarationError as exc:
        raise declaration_problem(exc) from exc
    preview = preview_fetch(http, entry)  # a sync route: in the thread pool, off the loop
    return IndicatorDryRunOut(
        valid=True, saved=False, indicator=entry_json(entry), fetch=preview_out(preview)
    )


@router.post(
    "/indicators",
    status_code=201,
    response_model=IndicatorDeclaredOut,
    summary="Declare a new indicator; the scheduler fetches it from then on",
    description=(
        "Needs a token with scope `claims:write`. The body is an indicators.yaml entry (see "
        "`tracker claims schema --indicators`); the series parameters are checked by the "
        "source. Answers 201 with a Location header, 409 when the key exists, 422 naming each "
        "bad field. The declaration is kept as a revision (who, when, what); `tracker claims "
        "export` writes it to indicators.yaml."
    ),
)
def declare(_token: WriteToken, payload: DeclarationBody, session: SessionDep) -> Response:
    try:
        entry = validate_declaration(payload)
    except DeclarationError as exc:
        raise declaration_problem(exc) from exc
    try:
        declare_indicator(session, entry, author=_token.name, now=utcnow())
        session.commit()
    except (DeclarationConflict, IntegrityError) as exc:
        session.rollback()
        raise _conflict(entry.key) from exc
    body = IndicatorDeclaredOut(
        key=entry.key, action="created", origin="api", indicator=entry_json(entry)
    )
    return Response(
        content=json_bytes(body),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/api/v1/indicators/{entry.key}/observations"},
    )
