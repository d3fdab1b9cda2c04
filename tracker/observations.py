"""Observations: bitemporal reads (what was known as of a time) and the upsert that writes vintages.

A row holds the value of one period of one indicator from `known_from` until `known_until`
(NULL while current). Reading "as of T" takes rows with known_from <= T < known_until that are
not quarantined: a quarantined row (a vintage that failed a plausibility gate) is kept for the
record and read only by what shows it as such (`quarantined_as_of`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from tracker.models import Observation
from tracker.sources.base import ParseError, Point, period_start


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
    """SQL condition selecting the rows in use at `as_of` (None: the current rows): known then,
    and not quarantined. An accepted or confirmed quarantined vintage was inserted again as
    ordinary rows known from its decision, so a replay before the decision does not see it."""
    table = Observation.__table__.c  # type: ignore[attr-defined]
    return sa.and_(_known_at(as_of), table.quarantined == sa.false())


def _known_at(as_of: dt.datetime | None) -> sa.ColumnElement[bool]:
    table = Observation.__table__.c  # type: ignore[attr-defined]
    if as_of is None:
        return table.known_until.is_(None)  # type: ignore[no-any-return]
    return sa.and_(
        table.known_from <= as_of,
        sa.or_(table.known_until.is_(None), table.known_until > as_of),
    )


def _select_observed(indicator_ids: Sequence[int]) -> sa.Select[Any]:
    """The ObservedValue columns of the given indicators' rows (every vintage; add filters)."""
    table = Observation.__table__.c  # type: ignore[attr-defined]
    return sa.select(
        table.id,
        table.indicator_id,
        table.period,
        table.period_start,
        table.value,
        table.known_from,
        table.known_until,
        table.fetch_run_id,
    ).where(table.indicator_id.in_(list(indicator_ids)))


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
        _select_observed(indicator_ids)
        .where(known_as_of_clause(as_of))
        .order_by(table.indicator_id, table.period_start)
    )
    result: dict[int, list[ObservedValue]] = defaultdict(list)
    for row in session.execute(stmt):
        result[row.indicator_id].append(ObservedValue(*row))
    return dict(result)


def all_vintages(session: Session, indicator_ids: Sequence[int]) -> list[ObservedValue]:
    """Every vintage used (current and superseded; not quarantined) of the given indicators, in
    one query, sorted by indicator, period and the time each value became known."""
    if not indicator_ids:
        return []
    table = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = (
        _select_observed(indicator_ids)
        .where(table.quarantined == sa.false())
        .order_by(table.indicator_id, table.period_start, table.known_from)
    )
    return [ObservedValue(*row) for row in session.execute(stmt)]


def quarantined_as_of(
    session: Session, indicator_ids: Sequence[int], as_of: dt.datetime | None = None
) -> dict[int, list[ObservedValue]]:
    """The quarantined values held back at `as_of` (None: now, i.e. still undecided), by
    indicator, sorted by period: what the API and dashboard show beside the values in use."""
    if not indicator_ids:
        return {}
    table = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = (
        _select_observed(indicator_ids)
        .where(_known_at(as_of), table.quarantined == sa.true())
        .order_by(table.indicator_id, table.period_start)
    )
    result: dict[int, list[ObservedValue]] = defaultdict(list)
    for row in session.execute(stmt):
        result[row.indicator_id].append(ObservedValue(*row))
    return dict(result)


def values_in_use(
    session: Session, indicator_id: int, periods: Sequence[str]
) -> dict[str, tuple[float | None, dt.datetime]]:
    """The current value in use of each of `periods` that has one, with since when it is known
    (one query; the periods are one bound parameter)."""
    dialect = session.get_bind().dialect.name
    bound: Any = json.dumps(list(periods)) if dialect == "sqlite" else list(periods)
    rows = session.execute(_select_current(dialect, indicator_id), {"periods": bound})
    return {row.period: (row.value, row.known_from) for row in rows}


def has_values_in_use(session: Session, indicator_id: int) -> bool:
    """Whether any period of the indicator has a current value in use."""
    table = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(
        sa.exists().where(
            table.indicator_id == indicator_id,
            table.known_until.is_(None),
            table.quarantined == sa.false(),
        )
    )
    return bool(session.execute(stmt).scalar())


# --- the write path (used by tracker.ingest and tracker.bundled) ---

UPSERT_BATCH_SIZE = 5_000
REL_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class Counts:
    """What one upsert did: periods first seen, periods whose value changed, and the rest."""

    new: int = 0
    revised: int = 0
    unchanged: int = 0
    seen: int = 0  # points read from the payload, duplicates included


def same_value(a: float | None, b: float | None) -> bool:
    """Equal for the purpose of revisions: both missing, or equal within 1e-12 relative."""
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    return abs(a - b) <= REL_TOLERANCE * max(abs(a), abs(b))


def _clean_value(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _batches(points: Iterable[Point], size: int) -> Iterator[list[Point]]:
    batch: list[Point] = []
    for point in points:
        batch.append(point)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def upsert_points(
    session: Session,
    indicator_id: int,
    points: Iterable[Point],
    *,
    fetch_run_id: int | None,
    known_from: dt.datetime,
    batch_size: int | None = None,
    quarantined: bool = False,
) -> Counts:
    """Write `points` as the vintage known from `known_from`; return what changed.

    `quarantined`: the vintage failed a plausibility gate (tracker.plausibility). What it
    changes is compared with the values in use as usual, but written as quarantined rows that
    close nothing: the values in use stay in use.

    Streams `points` (which may be a lazy parser) in batches: per batch one SELECT of the current
    rows of those periods, one UPDATE closing revised rows (known_until = the new known_from) and
    one bulk INSERT of new and revised values. An unchanged value writes nothing.

    A point with its own `known_from` (a FRED/ALFRED vintage date: midnight UTC of that day) is
    written as of that time; vintages older than the current row of their period are already
    history and count as unchanged.
    Duplicate periods in one payload: the last one wins (within a batch it replaces the earlier
    one; across batches it becomes the next vintage of the same fetch, closed at the same instant).
    Does not commit (the caller's transaction is the unit).
    """
    if known_from.tzinfo is None:
        raise ValueError("known_from must be timezone-aware UTC")
    table = Observation.__table__  # type: ignore[attr-defined]
    cols = table.c
    dialect = session.get_bind().dialect.name
    select_current = _select_current(dialect, indicator_id)
    close_rows = (
        sa.update(table)
        .where(cols.id == sa.bindparam("b_id"), cols.known_until.is_(None))
        .values(known_until=sa.bindparam("b_until"))
    )
    inserter = _BulkInserter(session)
    new = revised = unchanged = seen = 0

    for batch in _batches(points, batch_size or UPSERT_BATCH_SIZE):
        seen += len(batch)
        # period -> list of (known_from, value), in payload order
        by_period: dict[str, list[tuple[dt.datetime, float | None]]] = {}
        for point in batch:
            vintage = _vintage(getattr(point, "known_from", None)) or known_from
            by_period.setdefault(point.period, []).append((vintage, _clean_value(point.value)))
        periods: Any = list(by_period)
        if dialect == "sqlite":
            periods = json.dumps(periods)
        current = {row.period: row for row in session.execute(select_current, {"periods": periods})}
        to_close: list[dict[str, object]] = []
        to_insert: list[list[Any]] = []
        for period, values in by_period.items():
            try:
                start = period_start(period)
            except (ValueError, IndexError) as exc:
                raise ParseError(f"invalid period {period!r}: {exc}") from exc
            if len(values) > 1:
                values = _last_per_vintage(values)
            row = current.get(period)
            held_value = row.value if row is not None else None
            held_from = row.known_from if row is not None else None
            pending: list[Any] | None = None
            for vintage, value in values:
                if held_from is not None and (
                    vintage < held_from or same_value(held_value, value)
                ):  # unchanged, or an older vintage than what we hold: already history
                    unchanged += 1
                    continue
                if pending is not None:
                    pending[5] = vintage  # known_until
                    revised += 1
                elif row is not None:
                    to_close.append({"b_id": row.id, "b_until": vintage})
                    revised += 1
                else:
                    new += 1
                pending = [indicator_id, period, start, value, vintage, None, fetch_run_id]
                to_insert.append(pending)
                held_value, held_from = value, vintage
        if to_close and not quarantined:
            session.execute(close_rows, to_close)
        if to_insert:
            inserter.insert(to_insert, quarantined=quarantined)
    return Counts(new=new, revised=revised, unchanged=unchanged, seen=seen)


_INSERT_COLUMNS = (
    "indicator_id",
    "period",
    "period_start",
    "value",
    "known_from",
    "known_until",
    "fetch_run_id",
    "quarantined",
)


class _BulkInserter:
    """INSERT of many observation rows as one driver-level executemany (PostgreSQL: one COPY,
    several times faster than even a pipelined executemany, and linear in the rows).

    Why not `session.execute(insert(table), rows)`: SQLAlchemy then runs its per-row parameter
    processing (type decorators, dict building), which costs about three times the insert itself
    on SQLite. Here the columns' bind processors are taken from the dialect once, so the stored
    format is exactly what SQLAlchemy would write, and `known_from` (one value per fetch) and
    `known_until` are converted once per distinct value instead of once per row.
    """

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        dialect = self.connection.dialect
        cols = Observation.__table__.c  # type: ignore[attr-defined]
        stmt = sa.insert(Observation.__table__).values(  # type: ignore[attr-defined]
            {name: sa.bindparam(name, type_=cols[name].type) for name in _INSERT_COLUMNS}
        )
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.copy_sql: str | None = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            table = Observation.__table__.name  # type: ignore[attr-defined]
            self.copy_sql = f"COPY {table} ({', '.join(_INSERT_COLUMNS)}) FROM STDIN"
        self.positions: tuple[int, ...] | None = None
        if compiled.positional:
            self.positions = tuple(_INSERT_COLUMNS.index(n) for n in compiled.positiontup or ())
        # dialect_impl: the dialect's own type (e.g. SQLite's DateTime, which formats with
        # microseconds); the generic type's processor would leave that to the driver.
        self.start_processor = (
            cols["period_start"].type.dialect_impl(dialect).bind_processor(dialect)
        )
        self.time_processor = cols["known_from"].type.dialect_impl(dialect).bind_processor(dialect)
        self.flag_processor = cols["quarantined"].type.dialect_impl(dialect).bind_processor(dialect)
        self._times: dict[dt.datetime, Any] = {}

    def _time(self, value: dt.datetime | None) -> Any:
        if value is None or self.time_processor is None:
            return value
        converted = self._times.get(value)
        if converted is None:
            converted = self._times[value] = self.time_processor(value)
        return converted

    def insert(self, rows: list[list[Any]], *, quarantined: bool = False) -> None:
        """Insert rows given as lists in `_INSERT_COLUMNS` order, but for `quarantined` (the
        same for every row of one vintage)."""
        start_processor, time = self.start_processor, self._time
        flag = self.flag_processor(quarantined) if self.flag_processor else quarantined
        if len(self._times) > 10_000:
            self._times.clear()
        out = [
            (
                indicator_id,
                period,
                start_processor(start) if start_processor else start,
                value,
                time(known_from),
                time(known_until),
                run_id,
                flag,
            )
            for indicator_id, period, start, value, known_from, known_until, run_id in rows
        ]
        if self.copy_sql is not None:
            driver = self.connection.connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(self.copy_sql) as copy:  # type: ignore[union-attr]
                for row in out:
                    copy.write_row(row)
            return
        params: Any
        if self.positions is None:
            params = [dict(zip(_INSERT_COLUMNS, row, strict=True)) for row in out]
        elif self.positions == tuple(range(len(_INSERT_COLUMNS))):
            params = out
        else:
            positions = self.positions
            params = [tuple(row[i] for i in positions) for row in out]
        self.connection.exec_driver_sql(self.sql, params)


def _select_current(dialect: str, indicator_id: int) -> Any:
    """The current rows of some periods; the periods are ONE bound parameter where possible.

    A 5,000-element IN list costs SQLAlchemy more to render than the query costs to run, so
    SQLite gets a JSON array (json_each) and PostgreSQL an array. PostgreSQL: one index seek
    per period (a LATERAL subquery with LIMIT, which the planner cannot flatten), whatever the
    table's statistics say. `period = ANY(:periods)` let the planner, on a table not yet
    analysed, scan every current row of the indicator checking each against the whole array:
    a first large ingest was quadratic (100k rows 64 s, 1M not done in 17 min).
    """
    cols = Observation.__table__.c  # type: ignore[attr-defined]
    if dialect == "postgresql":
        table = Observation.__table__.name  # type: ignore[attr-defined]
        return (
            sa.text(
                "SELECT o.id, o.period, o.value, o.known_from "
                "FROM unnest(CAST(:periods AS text[])) AS p(period) CROSS JOIN LATERAL ("
                f"SELECT id, period, value, known_from FROM {table} "
                "WHERE indicator_id = :indicator_id AND quarantined = false "
                "AND known_until IS NULL AND period = p.period LIMIT 1) AS o"
            )
            .bindparams(
                sa.bindparam("periods", type_=postgresql.ARRAY(sa.String())),
                sa.bindparam("indicator_id", value=indicator_id, type_=sa.Integer()),
            )
            .columns(cols.id, cols.period, cols.value, cols.known_from)
        )
    if dialect == "sqlite":
        in_periods = cols.period.in_(sa.text("SELECT value FROM json_each(:periods)"))
    else:
        in_periods = cols.period.in_(sa.bindparam("periods", expanding=True))
    return sa.select(cols.id, cols.period, cols.value, cols.known_from).where(
        cols.indicator_id == indicator_id,
        cols.known_until.is_(None),
        cols.quarantined == sa.false(),
        in_periods,
    )


def _vintage(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a point's known_from must be timezone-aware")
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


def _last_per_vintage(
    values: list[tuple[dt.datetime, float | None]],
) -> list[tuple[dt.datetime, float | None]]:
    """Sort one period's values by vintage; for equal vintages keep the last given."""
    by_vintage: dict[dt.datetime, float | None] = {}
    for vintage, value in values:
        by_vintage[vintage] = value
    return sorted(by_vintage.items())
