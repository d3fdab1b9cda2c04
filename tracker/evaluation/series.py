"""Series access for the evaluator: expression points, periods, windows, lookback, waits."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tracker.criteria import (
    AggregateCriterion,
    Criterion,
    Difference,
    GrowthCriterion,
    IndicatorRef,
    JudgedCriterion,
    Ratio,
    RelativeThreshold,
    SeriesExpr,
    SignalCriterion,
    Sum,
    ThresholdCriterion,
    expression_indicators,
)
from tracker.evaluation.model import ClaimFacts, Evidence, Memo, Metric, SeriesData, SeriesPoint
from tracker.periods import FREQUENCY_KIND, default_grace_days, next_period, periods_between
from tracker.periods import period_end as _period_end
from tracker.periods import period_kind as _period_kind
from tracker.periods import period_start as _period_start

# How far back from a series' latest point the fit may reach, by frequency (days).
LOOKBACK_DAYS: dict[str, int] = {
    "annual": 15 * 366,
    "quarterly": 5 * 366,
    "monthly": 2 * 366,
    "weekly": 183,
    "daily": 60,
}
LOG_LINEAR_UNITS = frozenset(
    {"TWh", "GWh", "MWh", "kWh", "PWh", "EJ", "FLOP", "FLOP/s", "USD", "EUR", "GW", "MW"}
)
MODEL_LOG_LINEAR = "log-linear"
# Period strings repeat across claims and evaluations: parse each once.
period_start = functools.lru_cache(maxsize=65_536)(_period_start)
period_end = functools.lru_cache(maxsize=65_536)(_period_end)
period_kind = functools.lru_cache(maxsize=65_536)(_period_kind)
MODEL_LINEAR = "linear"


# --- numbers and periods ---


def decimal_year(day: dt.date) -> float:
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


@functools.lru_cache(maxsize=65_536)
def _x(period: str) -> float:
    return decimal_year(period_start(period))


# --- series expressions ---


@dataclass(frozen=True, slots=True)
class _ExprPoint:
    period: str
    start: dt.date
    value: float
    observation_ids: tuple[int, ...]
    fetch_run_ids: tuple[int, ...]
    known_from: dt.datetime


class _MissingSeries(LookupError):
    pass


def _expr_key(expr: SeriesExpr) -> str:
    if isinstance(expr, IndicatorRef):
        return f"i:{expr.indicator}"
    if isinstance(expr, Ratio):
        return f"r({_expr_key(expr.ratio[0])},{_expr_key(expr.ratio[1])})"
    if isinstance(expr, Difference):
        return f"d({_expr_key(expr.difference[0])},{_expr_key(expr.difference[1])})"
    return "s(" + ",".join(_expr_key(e) for e in expr.sum) + ")"


def _expr_points(
    expr: SeriesExpr, series: Mapping[str, SeriesData], memo: Memo | None = None
) -> list[_ExprPoint]:
    """The expression evaluated period by period (periods present in every operand), sorted."""
    if memo is not None:
        if type(expr) is IndicatorRef:  # the common case, without building the generic key
            data = series.get(expr.indicator)
            if data is None:
                raise _MissingSeries(expr.indicator)
            key: tuple[Any, ...] = ("expr1", expr.indicator, id(data))
            hit = memo.get(key)
            if hit is None:
                hit = memo[key] = (data, _expr_points(expr, series))  # data: keeps id unique
            return hit[1]  # type: ignore[no-any-return]
        datas = tuple(series.get(k) for k in expression_indicators(expr))
        key = ("expr", _expr_key(expr), tuple(id(d) for d in datas))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (datas, _expr_points(expr, series))  # datas: keeps ids unique
        return hit[1]  # type: ignore[no-any-return]
    if isinstance(expr, IndicatorRef):
        data = series.get(expr.indicator)
        if data is None:
            raise _MissingSeries(expr.indicator)
        return [
            _ExprPoint(
                p.period,
                p.period_start,
                float(p.value),
                (p.observation_id,) if p.observation_id is not None else (),
                (p.fetch_run_id,) if p.fetch_run_id is not None else (),
                p.known_from,
            )
            for p in data.points
            if p.value is not None and math.isfinite(p.value)
        ]
    if isinstance(expr, Ratio | Difference):
        operands = list(expr.ratio if isinstance(expr, Ratio) else expr.difference)
    else:
        operands = list(expr.sum)
    parts = [{p.period: p for p in _expr_points(e, series)} for e in operands]
    common = set(parts[0]).intersection(*parts[1:])
    out: list[_ExprPoint] = []
    for period in common:
        items = [part[period] for part in parts]
        values = [item.value for item in items]
        if isinstance(expr, Ratio):
            if values[1] == 0:
                continue
            value = values[0] / values[1]
        elif isinstance(expr, Difference):
            value = values[0] - values[1]
        else:
            value = math.fsum(values)
        out.append(
            _ExprPoint(
                period,
                items[0].start,
                value,
                tuple(i for item in items for i in item.observation_ids),
                tuple(i for item in items for i in item.fetch_run_ids),
                max(item.known_from for item in items),
            )
        )
    out.sort(key=lambda p: (p.start, p.period))
    return out


def _expr_model(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> str:
    if isinstance(expr, Ratio):
        return MODEL_LOG_LINEAR
    keys = expression_indicators(expr)
    hints = {series[k].projection_model for k in keys if k in series}
    if hints == {MODEL_LOG_LINEAR}:
        return MODEL_LOG_LINEAR
    if hints == {MODEL_LINEAR}:
        return MODEL_LINEAR
    if isinstance(expr, IndicatorRef | Sum) and all(
        k in series and series[k].unit in LOG_LINEAR_UNITS for k in keys
    ):
        return MODEL_LOG_LINEAR
    return MODEL_LINEAR


def _expr_meta(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> tuple[str, int, int]:
    """(frequency, publication lag, revision window) of an expression: the slowest operand's."""
    datas = [series[k] for k in expression_indicators(expr) if k in series]
    if not datas:
        return "annual", 0, 0
    return (
        datas[0].frequency,
        max(d.publication_lag_days for d in datas),
        max(d.revision_window_days for d in datas),
    )


def _expr_wait(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> tuple[int, bool]:
    """(grace in days, gaps read as zero) of an expression: the longest grace of its operands;
    gaps read as zero only when every operand declares it."""
    datas = [series[k] for k in expression_indicators(expr) if k in series]
    if not datas:
        return default_grace_days("annual"), False
    grace = max(
        d.grace_days if d.grace_days is not None else default_grace_days(d.frequency) for d in datas
    )
    return grace, all(d.gaps == "zero" for d in datas)


def _in_period(point: _ExprPoint, period: str) -> bool:
    return period_start(period) <= point.start <= period_end(period)


def _point_at(
    points: Sequence[_ExprPoint], period: str, memo: Memo | None = None
) -> _ExprPoint | None:
    """The value for `period`: the exact period, else the last finer point inside it."""
    if memo is not None:
        key = ("at", id(points), period)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _point_at(points, period))  # points: keeps id unique
        return hit[1]  # type: ignore[no-any-return]
    first, last = period_start(period), period_end(period)
    inside = None
    for p in points:
        if p.period == period:
            return p
        if first <= p.start <= last:
            inside = p
    return inside


@functools.lru_cache(maxsize=4096)
def _window_periods(start: str, end: str, frequency: str) -> tuple[str, ...] | None:
    """The periods a window holds at a series' frequency (None when not enumerable: a "point"
    series of dated events or readings has no fixed periods). Windows repeat across claims:
    each is enumerated once."""
    if frequency == "point":
        return None
    kind = FREQUENCY_KIND.get(frequency)
    if kind is None:
        return None
    try:
        return tuple(periods_between(start, end, kind))
    except ValueError:
        return None


def _covered(points: Sequence[_ExprPoint], frequency: str) -> set[str]:
    """The periods (at `frequency`) the points give a reading for: a point's own period, and
    for finer points the period holding them."""
    kind = FREQUENCY_KIND.get(frequency)
    out = {p.period for p in points}
    if kind is not None:
        out.update(_period_of(p.start, kind) for p in points)
    return out


@functools.lru_cache(maxsize=65_536)
def _period_of(day: dt.date, kind: str) -> str:
    from tracker.periods import period_of

    return period_of(day, kind)  # type: ignore[arg-type]


def _first_overdue(periods: Sequence[str], lag: int, grace: int, today: dt.date) -> dt.date | None:
    """The expected date of the first of `periods` whose data is overdue on `today` (expected
    date + grace passed), else None."""
    for period in periods:
        expected = _expected_on(period, lag)
        if today > expected + dt.timedelta(days=grace):
            return expected
        if expected >= today:
            break  # later periods are due later still
    return None


def _in_window(point: _ExprPoint, start: str, end: str) -> bool:
    return period_start(start) <= point.start <= period_end(end)


# --- preparing inputs ---


def needed_since(criteria: Sequence[Criterion]) -> dict[str, dt.date]:
    """Per indicator, the earliest period start a criterion names (windows, baselines, periods).

    With `LOOKBACK_DAYS`, this bounds which observations an evaluation can use, so that the
    persistence layer loads only those (see `tracker.status`).
    """
    since: dict[str, dt.date] = {}

    def note(expr: SeriesExpr, period: str) -> None:
        day = period_start(period)
        for key in expression_indicators(expr):
            if key not in since or day < since[key]:
                since[key] = day

    for c in criteria:
        if isinstance(c, JudgedCriterion | SignalCriterion):
            continue
        if isinstance(c, ThresholdCriterion):
            if c.period is not None:
                note(c.series, c.period)
            if c.window is not None:
                note(c.series, c.window.start)
        elif c.window is not None:
            note(c.series, c.window.start)
        if isinstance(c.threshold, RelativeThreshold):
            base = c.threshold.baseline
            note(base.series or c.series, base.start)
    return since


def remember_since(memo: Memo, criteria: Sequence[Criterion]) -> dict[str, dt.date]:
    """`needed_since(criteria)`, kept in `memo` for the evaluation of this same sequence (the
    loader needs it first, to bound what it reads)."""
    since = needed_since(criteria)
    memo[("since", id(criteria))] = (criteria, since)  # the sequence: keeps its id unique
    return since


def lookback_start(latest: dt.date, frequency: str) -> dt.date | None:
    """The earliest period start the fit may use, given a series' latest point (None: any)."""
    days = LOOKBACK_DAYS.get(frequency)
    if days is None:
        return None
    return latest - dt.timedelta(days=days)


def _prepare(
    series: Mapping[str, SeriesData],
    criteria: Sequence[Criterion],
    as_of: dt.datetime | None,
    memo: Memo | None = None,
) -> dict[str, SeriesData]:
    """Keep, per period, the latest vintage known at `as_of`, trimmed to what can be used.

    `memo` may already hold `needed_since(criteria)` for this very sequence (`remember_since`).
    """
    since = None
    if memo is not None:
        known = memo.get(("since", id(criteria)))
        if known is not None and known[0] is criteria:
            since = known[1]
    if since is None:
        since = needed_since(criteria)
    prepared: dict[str, SeriesData] = {}
    for key, data in series.items():
        if memo is not None:
            memo_key = ("prep", key, id(data), since.get(key), as_of)
            hit = memo.get(memo_key)
            if hit is None:
                hit = memo[memo_key] = (data, _prepare_one(key, data, since, as_of))
            prepared[key] = hit[1]
        else:
            prepared[key] = _prepare_one(key, data, since, as_of)
    return prepared


def _prepare_one(
    key: str, data: SeriesData, since: Mapping[str, dt.date], as_of: dt.datetime | None
) -> SeriesData:
    chosen: dict[str, SeriesPoint] = {}
    for p in data.points:
        if as_of is not None and p.known_from > as_of:
            continue
        current = chosen.get(p.period)
        if current is None or p.known_from > current.known_from:
            chosen[p.period] = p
    points = sorted(chosen.values(), key=lambda p: (p.period_start, p.period))
    if points:
        bound = lookback_start(points[-1].period_start, data.frequency)
        if bound is not None:
            if key in since:
                bound = min(bound, since[key])
            points = [p for p in points if p.period_start >= bound]
    return replace(data, points=tuple(points))


# --- what every criterion reads ---


@dataclass(frozen=True)
class _Context:
    today: dt.date
    claim: ClaimFacts
    memo: Memo | None = None


def _evidence(points: Sequence[_ExprPoint], memo: Memo | None = None) -> Evidence:
    if memo is not None:  # claims on one series use the same point objects: one Evidence each
        key = ("evidence", *map(id, points))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _evidence(points))  # points: keeps the ids unique
        return hit[1]  # type: ignore[no-any-return]
    obs = sorted({i for p in points for i in p.observation_ids})
    runs = sorted({i for p in points for i in p.fetch_run_ids})
    return Evidence(tuple(obs), tuple(runs))


@functools.lru_cache(maxsize=8192)
def _overdue_dates(
    expected: dt.date | None, upcoming_due: str | None, grace: int, today: dt.date
) -> tuple[str | None, tuple[dt.date, ...]]:
    """(the earliest overdue due date as ISO text, or None; the days each due date falls
    overdue): the same few dates recur across the claims on one series."""
    allowed = dt.timedelta(days=grace)
    dues = [d for d in (expected, upcoming_due and dt.date.fromisoformat(upcoming_due)) if d]
    late = [due.isoformat() for due in dues if today > due + allowed]
    return (min(late) if late else None), tuple(due + allowed + _ONE_DAY for due in dues)


_ONE_DAY = dt.timedelta(days=1)


_Facts = tuple[str, int, int, str, tuple[str, str] | None]


def _series_facts(
    expr: SeriesExpr, series: Mapping[str, SeriesData], points: list[_ExprPoint], memo: Memo | None
) -> _Facts:
    """(frequency, lag, revision window, projection model, next release) of an expression.

    With a memo, `points` is the memoised list of this expression over these SeriesData, so its
    identity stands for them: computed once per series per run.
    """
    if memo is not None:
        key = ("facts", id(points))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _series_facts(expr, series, points, None))
        return hit[1]  # type: ignore[no-any-return]
    frequency, lag, revision = _expr_meta(expr, series)
    model = _expr_model(expr, series)
    return frequency, lag, revision, model, _next_release(points, frequency, lag)


def _next_release(points: Sequence[_ExprPoint], frequency: str, lag: int) -> tuple[str, str] | None:
    """The period after the latest observed one, and when its data is due (ISO date)."""
    if not points or frequency == "point":
        return None
    latest = points[-1].period
    kind = FREQUENCY_KIND.get(frequency)
    try:
        if kind is None or period_kind(latest) != kind:
            return None
        following = next_period(latest)
    except ValueError:
        return None
    return following, _expected_on(following, lag).isoformat()


def _target_period(
    c: ThresholdCriterion | GrowthCriterion | AggregateCriterion, claim: ClaimFacts
) -> str | None:
    """The period whose data decides a criterion."""
    if isinstance(c, ThresholdCriterion) and c.mode == "at_period":
        return c.period
    window = c.window
    if window is not None:
        return window.end
    return str(claim.deadline.year) if claim.deadline else None


@functools.lru_cache(maxsize=65_536)  # a few periods and lags recur across every claim
def _expected_on(period: str, lag: int) -> dt.date:
    return period_end(period) + dt.timedelta(days=lag)


def _final_after(expected: dt.date, points: Sequence[_ExprPoint], revision: int) -> dt.date:
    known = max([expected, *(p.known_from.date() for p in points)])
    return known + dt.timedelta(days=revision)


def _next_period_over(periods: Sequence[str] | None, today: dt.date) -> list[dt.date]:
    """The day after the window's period running on `today` ends (when a gap in it may show)."""
    for q in periods or ():
        end = period_end(q)
        if end >= today:
            return [end + dt.timedelta(days=1)]
    return []


def _metric_of(point: _ExprPoint, unit: str, memo: Memo | None) -> Metric:
    """A point's value as a Metric: one object per point and unit with a memo (so that many
    results reading a series' latest point share it, and its JSON; see `serialise`)."""
    if memo is None:
        return Metric(point.value, unit, point.period)
    key = ("metric", id(point), unit)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (point, Metric(point.value, unit, point.period))  # keeps id unique
    return hit[1]  # type: ignore[no-any-return]


def _last_subperiod(target: str, point: _ExprPoint) -> str:
    """The last period of `target` at the granularity of `point` ("2030" → "2030-12")."""
    end = period_end(target)
    kind = period_kind(point.period)
    return end.isoformat() if kind == "day" else _period_of(end, kind)


def _on_or_after(points: Sequence[_ExprPoint], target: str, tolerance: int) -> _ExprPoint | None:
    """read first_on_or_after: the target period's own reading, else the first reading whose
    period reaches into the target or starts after it by at most `tolerance` days."""
    first = period_start(target)
    latest_start = period_end(target) + dt.timedelta(days=tolerance)
    best: _ExprPoint | None = None
    for p in points:
        if p.period == target:
            return p
        if p.start > latest_start:
            break  # points are sorted by start
        if period_end(p.period) >= first and (best is None or p.start < best.start):
            best = p
    return best
