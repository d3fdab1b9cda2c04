"""Declaring a new indicator without editing indicators.yaml: its catalogue entry checked (the
entry's fields, then the series parameters by the source's own `series_params`), a dry-run fetch
through the shared HTTP client showing its first and last values, and the save (the row, marked
origin `api`, and an append-only IndicatorRevision). `tracker claims export` writes such
indicators back to indicators.yaml, so the files and the database agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from tracker.indicators import IndicatorEntry, entry_to_row_values
from tracker.models import Indicator, IndicatorRevision, Origin
from tracker.sources import REGISTRY
from tracker.sources.base import IndicatorSpec, Point, SourceError
from tracker.sources.params import ParamIssue, check_params, declared_params


class DeclarationError(Exception):
    """The declaration is refused: each issue names its field (`params.country`, `unit`, …)."""

    def __init__(self, issues: list[ParamIssue]) -> None:
        super().__init__("; ".join(f"{i.field}: {i.message}" for i in issues))
        self.issues = issues


class DeclarationConflict(Exception):
    """An indicator with this key is stored already."""


def declarable_sources() -> dict[str, Any]:
    """The sources whose series can be declared here, by name (those stating `series_params`)."""
    return {name: s for name, s in sorted(REGISTRY.items()) if declared_params(s) is not None}


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validate_declaration(data: Any) -> IndicatorEntry:
    """A catalogue entry from a declaration (JSON object), or DeclarationError naming every bad
    field at once. The source must be a known adapter stating its series parameters."""
    if not isinstance(data, Mapping):
        raise DeclarationError([ParamIssue("body", "expected a JSON object")])
    issues: list[ParamIssue] = []
    try:
        entry = IndicatorEntry.model_validate(dict(data))
    except ValidationError as exc:
        for error in exc.errors():
            issues.append(ParamIssue(_field(tuple(error["loc"])), str(error["msg"])))
        entry = None
    source_name = data.get("source")
    if not source_name:
        if not any(i.field == "source" for i in issues):
            issues.append(ParamIssue("source", "choose a source"))
    elif source_name not in REGISTRY:
        known = ", ".join(sorted(declarable_sources()))
        issues.append(
            ParamIssue("source", f"unknown source {source_name!r}; expected one of: {known}")
        )
    else:
        raw = data.get("params")
        if raw is not None and not isinstance(raw, Mapping):
            issues.append(ParamIssue("params", "expected an object of the series parameters"))
        else:
            cleaned, param_issues = check_params(REGISTRY[str(source_name)], raw or {})
            issues.extend(param_issues)
            if entry is not None and not param_issues:
                entry = entry.model_copy(update={"params": cleaned})
    if issues or entry is None:
        raise DeclarationError(issues)
    return entry


@dataclass(frozen=True)
class FetchPreview:
    """What one fetch of a declared series gave, nothing of it kept."""

    ok: bool
    unit: str
    points: int = 0
    first: Point | None = None
    last: Point | None = None
    urls: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None


def preview_fetch(http: Any, entry: IndicatorEntry) -> FetchPreview:
    """Fetch the series once through `http` (the shared HttpFetcher: its timeouts, retries, size
    cap, redirect policy and redaction), parse it, and keep nothing. A failed fetch is a preview
    with `ok` false and the error, never an exception."""
    assert entry.source is not None
    source = REGISTRY[entry.source]
    spec = IndicatorSpec(
        key=entry.key,
        source=entry.source,
        params=dict(entry.params),
        unit=entry.unit,
        frequency=entry.frequency,
    )
    received: list[Any] = []
    try:
        with http.fetch_deadline() as received:
            result = source.fetch(http, spec)
            values = sorted(
                (p for p in result.points if p.value is not None), key=lambda p: p.period
            )
    except SourceError as exc:
        return FetchPreview(
            ok=False,
            unit=entry.unit,
            urls=[r.url for r in (exc.responses or received)],
            error=str(exc),
            error_kind=exc.kind,
        )
    urls = [r.url for r in result.responses]
    if not values:
        return FetchPreview(
            ok=False,
            unit=entry.unit,
            urls=urls,
            error="the source gave no values",
            error_kind="empty",
        )
    return FetchPreview(
        ok=True, unit=entry.unit, points=len(values), first=values[0], last=values[-1], urls=urls
    )


def declare_indicator(
    session: Session, entry: IndicatorEntry, *, author: str | None, now: dt.datetime
) -> Indicator:
    """Store a new indicator (origin `api`) and its first IndicatorRevision; does not commit.
    DeclarationConflict when the key is stored (the unique key also settles races)."""
    if session.exec(select(Indicator.id).where(col(Indicator.key) == entry.key)).first():
        raise DeclarationConflict(entry.key)
    row = Indicator(
        key=entry.key,
        **entry_to_row_values(entry),
        origin=Origin.api,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        IndicatorRevision(
            indicator_id=row.id,
            version=1,
            change="created",
            content=entry.model_dump(mode="json", exclude_none=True),
            origin=Origin.api,
            author=author,
            created_at=now,
        )
    )
    session.flush()
    return row
