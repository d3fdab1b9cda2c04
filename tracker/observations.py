"""Observations: bitemporal reads (what was known as of a time) and, in ingest, writes.

A row holds the value of one period of one indicator from `known_from` until `known_until`
(NULL while current). Reading "as of T" takes rows with known_from <= T < known_until.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from tracker.models import Observation


@dataclass(frozen=True, slots=True)
class ObservedValue:
    """An observation as the evaluator sees it (plain data, no ORM state)."""

    id: int
    indicator_id: int
    period: str
    period_start: dt.date
    value: float | None
    known_from: dt.datetime
    known_until: dt.datetime | None
    fetch_run_id: int | None


def known_as_of_clause(as_of: dt.datetime | None) -> sa.ColumnElement[bool]:
    """SQL condition selecting the rows known at `as_of` (None: the current rows)."""
    table = Observation.__table__.c  # type: ignore[attr-defined]
    if as_of is None:
        return table.known_until.is_(None)  # type: ignore[no-any-return]
    return sa.and_(
        table.known_from <= as_of,
        sa.or_(table.known_until.is_(None), table.known_until > as_of),
    )


def observations_as_of(
    session: Session, indicator_ids: Sequence[int], as_of: dt.datetime | None = None
) -> dict[int, list[ObservedValue]]:
    """Values of the given indicators as known at `as_of`, by indicator, sorted by period.

    One query for all indicators (no N+1).
    """
    if not indicator_ids:
        return {}
    table = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = (
        sa.select(
            table.id,
            table.indicator_id,
            table.period,
            table.period_start,
            table.value,
            table.known_from,
            table.known_until,
            table.fetch_run_id,
        )
        .where(table.indicator_id.in_(list(indicator_ids)), known_as_of_clause(as_of))
        .order_by(table.indicator_id, table.period_start)
    )
    result: dict[int, list[ObservedValue]] = defaultdict(list)
    for row in session.execute(stmt):
        result[row.indicator_id].append(ObservedValue(*row))
    return dict(result)
