"""Verdict edges, written from the rules (issue 13, items 1–3), table-driven on a fixed clock.

The rules:
- a window (aggregate, any_time_within) decides only when every sub-period (day, week, month,
  quarter, year at the series' frequency) is observed, or the indicator declares `gaps: zero`
  (then once the last period's data is due); until then it is undecided and names the missing
  periods: never false before the last period's data is in;
- at_period reads the period's own value (or, for a finer series, its last sub-period's): a
  reading before the period does not decide it, nor one after it; `read: first_on_or_after`
  takes the period's own reading where one exists, else the first reading on or after it
  within `tolerance_days` (a week-dated report can decide a day-dated deadline);
- data still missing at its expected date (period end + publication lag) + grace (by cadence,
  or the indicator's `grace_days`) sends the claim to `needs_review` with review_reason
  "data_overdue" and `overdue_since` (the expected date); a reviewer's extension holds that
  off until its date has passed;
- a revision within the revision window flips a provisional verdict.

Each case names the clock (`now`), the expected state and a piece of the expected reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import TypeAdapter

from tracker.clock import FixedClock, use_clock, utcnow
from tracker.criteria import Criterion
from tracker.evaluation import (
    ClaimFacts,
    EvaluationResult,
    ResolutionFacts,
    SeriesData,
    SeriesPoint,
    evaluate,
)
from tracker.periods import (
    next_period,
    period_end,
    period_of,
    period_start,
    periods_between,
)

_CRITERION: TypeAdapter[Any] = TypeAdapter(Criterion)


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=dt.UTC)


def series(
    values: dict[str, float],
    *,
    frequency: str,
    lag: int = 0,
    revision: int = 0,
    grace: int | None = None,
    gaps: str = "unknown",
    known: dict[str, str] | None = None,
    extra: tuple[tuple[str, float, str], ...] = (),
) -> SeriesData:
    """A series `s`: each value known at its period end + lag (or `known[period]`); `extra`
    adds later vintages (period, value, known day)."""
    points = []
    for n, (period, value) in enumerate(values.items()):
        day = (known or {}).get(period) or (period_end(period) + dt.timedelta(days=lag)).isoformat()
        points.append(SeriesPoint(period, period_start(period), value, n + 1, 1, at(day, 0)))
    for n, (period, value, day) in enumerate(extra):
        points.append(SeriesPoint(period, period_start(period), value, 1000 + n, 2, at(day, 0)))
    return SeriesData(
        "s",
        "count",
        frequency,
        lag,
        revision,
        tuple(points),
        grace_days=grace,
        gaps=gaps,
    )


def days(
    first: str, last: str, value: float = 10.0, skip: tuple[str, ...] = ()
) -> dict[str, float]:
    out: dict[str, float] = {}
    day = dt.date.fromisoformat(first)
    while day <= dt.date.fromisoformat(last):
        if day.isoformat() not in skip:
            out[day.isoformat()] = value
        day += dt.timedelta(days=1)
    return out


def each(first: str, last: str, value: float, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """Every period from `first` to `last` (of their kind), but `skip`."""
    out: dict[str, float] = {}
    period = first
    while True:
        if period not in skip:
            out[period] = value
        if period == last:
            return out
        period = next_period(period)


@dataclass(frozen=True)
class Case:
    id: str
    criterion: dict[str, Any]
    data: SeriesData
    now: str
    deadline: str
    state: str
    reason: str  # a piece of the expected reason
    checks: dict[str, Any] = field(default_factory=dict)  # result attribute -> expected value
    wait_until: str | None = None
    resolution: ResolutionFacts | None = None
    replay: bool = False  # evaluate as of `now` (vintages known later are ignored)


def daily_sum(threshold: float = 100.0) -> dict[str, Any]:
    return {
        "key": "k",
        "type": "aggregate",
        "series": {"indicator": "s"},
        "function": "sum",
        "window": {"start": "2026-07-01", "end": "2026-07-10"},
        "comparator": ">=",
        "threshold": threshold,
    }


def window_crit(kind: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "key": "k",
        "type": kind,
        "series": {"indicator": "s"},
        "window": {"start": start, "end": end},
        "comparator": ">=",
        "threshold": 100.0,
    }
    if kind == "threshold":
        spec["mode"] = "any_time_within"
    spec.update(extra)
    return spec


def at_period(period: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": "k",
        "type": "threshold",
        "series": {"indicator": "s"},
        "mode": "at_period",
        "period": period,
        "comparator": ">=",
        "threshold": 100.0,
        **extra,
    }


D = "daily"
STOPPED = days("2026-07-01", "2026-07-05", 8.0)  # the source stops on 07-05: 40 so far
TWO = {"2026-07-01": 60.0, "2026-07-02": 50.0}  # then 8 of 10 days missing
ANNUAL_2026 = at_period("2026")
PROVISIONAL_TRUE = ResolutionFacts("true", "auto", True, at("2027-07-02"), final_after=None)

CASES = [
    # --- daily windows: the cited bug (8 of 10 days missing; the source stops early) ---
    Case(
        "daily sum, all days, met",
        daily_sum(),
        series(days("2026-07-01", "2026-07-10", 12.0), frequency=D, lag=1),
        "2026-07-12",
        "2026-07-10",
        "resolved_true",
        "sum 120 over 2026-07-01..2026-07-10 meets >= 100",
    ),
    Case(
        "daily sum, all days, missed",
        daily_sum(),
        series(days("2026-07-01", "2026-07-10", 5.0), frequency=D, lag=1),
        "2026-07-12",
        "2026-07-10",
        "resolved_false",
        "over 2026-07-01..2026-07-10 misses >= 100; final",
    ),
    Case(
        "daily sum, 8 of 10 days missing: not false",
        daily_sum(),
        series(TWO, frequency=D, lag=1, grace=30),
        "2026-07-12",
        "2026-07-10",
        "awaiting_data",
        "missing 2026-07-03, 2026-07-04, 2026-07-05, 2026-07-06, "
        "2026-07-07, 2026-07-08 and 2 more (8 of 10 periods)",
        {"outcome": None},
    ),
    Case(
        "daily sum, the source stops before the deadline: not false",
        daily_sum(),
        series(STOPPED, frequency=D, lag=1),
        "2026-07-12",
        "2026-07-10",
        "awaiting_data",
        "missing 2026-07-06, 2026-07-07",
        {"outcome": None},
    ),
    Case(
        "daily sum, stopped source overdue past grace (7 days)",
        daily_sum(),
        series(STOPPED, frequency=D, lag=1),
        "2026-07-15",
        "2026-07-10",
        "needs_review",
        "data overdue since 2026-07-07: 2026-07-06, 2026-07-07",
        {"review_reason": "data_overdue", "overdue_since": dt.date(2026, 7, 7)},
    ),
    Case(
        "daily sum, one day short of grace",
        daily_sum(),
        series(STOPPED, frequency=D, lag=1),
        "2026-07-14",
        "2026-07-10",
        "awaiting_data",
        "missing 2026-07-06",
        {"review_reason": None},
    ),
    Case(
        "daily sum before the window ends, a missing day not yet overdue",
        daily_sum(),
        series(days("2026-07-01", "2026-07-05", 8.0, skip=("2026-07-03",)), frequency=D, lag=1),
        "2026-07-06",
        "2026-07-10",
        "open",
        "missing 2026-07-03 (1 of 10 periods)",
    ),
    Case(
        "daily sum, gaps read as zero, the last day's data not yet due",
        daily_sum(),
        series(TWO, frequency=D, lag=1, gaps="zero"),
        "2026-07-11",
        "2026-07-10",
        "awaiting_data",
        "sum 110 over 2 of 10",
    ),
    Case(
        "daily sum, gaps read as zero, decided once due",
        daily_sum(),
        series(TWO, frequency=D, lag=1, gaps="zero"),
        "2026-07-12",
        "2026-07-10",
        "resolved_true",
        "sum 110 over 2026-07-01..2026-07-10 meets >= 100",
    ),
    Case(
        "daily sum, gaps read as zero, missed",
        daily_sum(200.0),
        series(TWO, frequency=D, lag=1, gaps="zero"),
        "2026-07-12",
        "2026-07-10",
        "resolved_false",
        "sum 110 over 2026-07-01..2026-07-10 misses >= 200",
    ),
    # --- any_time_within with gaps ---
    Case(
        "any time within (daily), a hit decides despite gaps",
        window_crit("threshold", "2026-07-01", "2026-07-10"),
        series({"2026-07-01": 50.0, "2026-07-04": 120.0}, frequency=D),
        "2026-07-05",
        "2026-07-10",
        "resolved_true",
        "120 in 2026-07-04 meets >= 100 within 2026-07-01–2026-07-10",
    ),
    Case(
        "any time within (daily), no hit, a gap: not false",
        window_crit("threshold", "2026-07-01", "2026-07-10"),
        series(days("2026-07-01", "2026-07-10", 50.0, skip=("2026-07-06",)), frequency=D, grace=30),
        "2026-07-12",
        "2026-07-10",
        "awaiting_data",
        "missing 2026-07-06 (1 of 10 periods)",
    ),
    Case(
        "any time within (daily), no hit, every day: false",
        window_crit("threshold", "2026-07-01", "2026-07-10"),
        series(days("2026-07-01", "2026-07-10", 50.0), frequency=D),
        "2026-07-12",
        "2026-07-10",
        "resolved_false",
        "never met >= 100 within 2026-07-01–2026-07-10 (last ",
    ),
    Case(
        "any time within (weekly), a hit in W29 despite W28 missing",
        window_crit("threshold", "2026-W27", "2026-W30"),
        series({"2026-W27": 50.0, "2026-W29": 130.0}, frequency="weekly", lag=3),
        "2026-07-24",
        "2026-07-26",
        "resolved_true",
        "130 in 2026-W29 meets >= 100 within 2026-W27–2026-W30",
    ),
    Case(
        "any time within (weekly), no hit, W28 missing: not false",
        window_crit("threshold", "2026-W27", "2026-W30"),
        series(
            each("2026-W27", "2026-W30", 50.0, skip=("2026-W28",)),
            frequency="weekly",
            lag=3,
            grace=60,
        ),
        "2026-08-05",
        "2026-07-26",
        "awaiting_data",
        "missing 2026-W28 (1 of 4 periods)",
    ),
    Case(
        "any time within (weekly), no hit, every week: false",
        window_crit("threshold", "2026-W27", "2026-W30"),
        series(each("2026-W27", "2026-W30", 50.0), frequency="weekly", lag=3),
        "2026-08-05",
        "2026-07-26",
        "resolved_false",
        "never met >= 100 within 2026-W27–2026-W30",
    ),
    Case(
        "any time within (monthly), no hit, March missing: overdue",
        window_crit("threshold", "2026-01", "2026-06"),
        series(each("2026-01", "2026-06", 50.0, skip=("2026-03",)), frequency="monthly", lag=30),
        "2026-08-15",
        "2026-06-30",
        "needs_review",
        "data overdue since 2026-04-30: 2026-03",
    ),
    # --- weekly, monthly and quarterly aggregate windows with a missing period ---
    Case(
        "weekly sum, every week",
        window_crit("aggregate", "2026-W27", "2026-W30", function="sum"),
        series(each("2026-W27", "2026-W30", 30.0), frequency="weekly", lag=3),
        "2026-07-30",
        "2026-07-26",
        "resolved_true",
        "sum 120 over 2026-W27..2026-W30 meets >= 100",
    ),
    Case(
        "weekly sum, W28 missing: not decided",
        window_crit("aggregate", "2026-W27", "2026-W30", function="sum"),
        series(
            each("2026-W27", "2026-W30", 30.0, skip=("2026-W28",)),
            frequency="weekly",
            lag=3,
            grace=60,
        ),
        "2026-07-30",
        "2026-07-26",
        "awaiting_data",
        "missing 2026-W28 (1 of 4 periods)",
        {"outcome": None},
    ),
    Case(
        "weekly sum, W28 missing past 14 days' grace",
        window_crit("aggregate", "2026-W27", "2026-W30", function="sum"),
        series(each("2026-W27", "2026-W30", 30.0, skip=("2026-W28",)), frequency="weekly", lag=3),
        "2026-08-03",
        "2026-07-26",
        "needs_review",
        "data overdue since 2026-07-15: 2026-W28",
        {"overdue_since": dt.date(2026, 7, 15)},
    ),
    Case(
        "monthly mean, March missing, after the deadline",
        window_crit("aggregate", "2026-01", "2026-06"),
        series(
            each("2026-01", "2026-06", 120.0, skip=("2026-03",)),
            frequency="monthly",
            lag=30,
            grace=90,
        ),
        "2026-07-15",
        "2026-06-30",
        "awaiting_data",
        "missing 2026-03 (1 of 6 periods)",
    ),
    Case(
        "monthly mean, March missing before the deadline, past grace",
        window_crit("aggregate", "2026-01", "2026-06"),
        series(each("2026-01", "2026-04", 120.0, skip=("2026-03",)), frequency="monthly", lag=30),
        "2026-06-15",
        "2026-06-30",
        "needs_review",
        "data overdue since 2026-04-30: 2026-03",
        {"trend": "on_track"},
    ),
    Case(
        "monthly mean, every month: provisional until the revision window ends",
        window_crit("aggregate", "2026-01", "2026-06"),
        series(each("2026-01", "2026-06", 120.0), frequency="monthly", lag=30, revision=60),
        "2026-08-01",
        "2026-06-30",
        "resolved_true",
        "mean 120 over 2026-01..2026-06 meets >= 100; provisional until 2026-09-28",
    ),
    Case(
        "quarterly sum, Q2 missing",
        window_crit("aggregate", "2026-Q1", "2026-Q4", function="sum"),
        series(
            each("2026-Q1", "2026-Q4", 40.0, skip=("2026-Q2",)),
            frequency="quarterly",
            lag=45,
            grace=365,
        ),
        "2027-02-20",
        "2026-12-31",
        "awaiting_data",
        "missing 2026-Q2 (1 of 4 periods)",
    ),
    Case(
        "quarterly sum, every quarter",
        window_crit("aggregate", "2026-Q1", "2026-Q4", function="sum"),
        series(each("2026-Q1", "2026-Q4", 40.0), frequency="quarterly", lag=45),
        "2027-02-20",
        "2026-12-31",
        "resolved_true",
        "sum 160 over 2026-Q1..2026-Q4 meets >= 100",
    ),
    # --- at the deadline: readings before, on and after it ---
    Case(
        "at deadline, a reading before it only",
        at_period("2026-07-19"),
        series({"2026-07-18": 150.0}, frequency=D),
        "2026-07-21",
        "2026-07-19",
        "awaiting_data",
        "waiting for 2026-07-19 data",
    ),
    Case(
        "at deadline, the day's own reading",
        at_period("2026-07-19"),
        series({"2026-07-18": 50.0, "2026-07-19": 150.0, "2026-07-20": 50.0}, frequency=D),
        "2026-07-21",
        "2026-07-19",
        "resolved_true",
        "150 in 2026-07-19 meets >= 100",
    ),
    Case(
        "at deadline, a reading after it only (default read)",
        at_period("2026-07-19"),
        series({"2026-07-24": 150.0}, frequency=D),
        "2026-07-25",
        "2026-07-19",
        "awaiting_data",
        "waiting for 2026-07-19 data",
    ),
    Case(
        "first on or after: a week-dated report on 07-24 decides 07-19",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-07-17": 50.0, "2026-07-24": 150.0}, frequency="weekly"),
        "2026-07-25",
        "2026-07-19",
        "resolved_true",
        "150 in 2026-07-24 meets >= 100",
    ),
    Case(
        "first on or after: the day's own reading preferred",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-07-19": 50.0, "2026-07-24": 150.0}, frequency=D),
        "2026-07-25",
        "2026-07-19",
        "resolved_false",
        "in 2026-07-19 misses >= 100",
    ),
    Case(
        "first on or after: the ISO week holding the day",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-W28": 50.0, "2026-W29": 150.0}, frequency="weekly"),
        "2026-07-25",
        "2026-07-19",
        "resolved_true",
        "150 in 2026-W29 meets >= 100",
    ),
    Case(
        "first on or after: beyond the tolerance",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-07-30": 150.0}, frequency=D),
        "2026-07-31",
        "2026-07-19",
        "awaiting_data",
        "waiting for 2026-07-19 data, expected on 2026-07-26 (overdue)",
    ),
    Case(
        "first on or after: a reading before the day does not count",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-07-18": 150.0}, frequency=D),
        "2026-07-21",
        "2026-07-19",
        "awaiting_data",
        "waiting for 2026-07-19",
    ),
    Case(
        "first on or after: a later reading waits while the day's own may still come (lag 2)",
        at_period("2026-07-19", read="first_on_or_after", tolerance_days=7),
        series({"2026-07-20": 150.0}, frequency=D, lag=2, known={"2026-07-20": "2026-07-20"}),
        "2026-07-21",
        "2026-07-19",
        "awaiting_data",
        "waiting for 2026-07-19",
    ),
    Case(
        "a year read from a monthly series that stopped in March: not decided",
        ANNUAL_2026,
        series(each("2026-01", "2026-03", 50.0), frequency="monthly", lag=30, grace=400),
        "2027-01-15",
        "2026-12-31",
        "awaiting_data",
        "in 2026-03, not yet the end of 2026",
    ),
    Case(
        "a year read from its December reading",
        ANNUAL_2026,
        series(each("2026-01", "2026-12", 150.0), frequency="monthly", lag=30),
        "2027-02-15",
        "2026-12-31",
        "resolved_true",
        "150 in 2026-12 meets >= 100",
    ),
    # --- lags and grace (annual, lag 180: 2026 data expected 2027-06-29; grace 120 days) ---
    Case(
        "annual, before the data is expected",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2027-06-01",
        "2026-12-31",
        "awaiting_data",
        "waiting for 2026 data, expected on 2027-06-29;",
        {"data_expected_on": dt.date(2027, 6, 29)},
    ),
    Case(
        "annual, past the expected date, within grace",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2027-08-01",
        "2026-12-31",
        "awaiting_data",
        "expected on 2027-06-29 (overdue)",
        {"review_reason": None},
    ),
    Case(
        "annual, past expected + grace",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2027-10-28",
        "2026-12-31",
        "needs_review",
        "data overdue since 2027-06-29: data for 2026;",
        {"review_reason": "data_overdue", "overdue_since": dt.date(2027, 6, 29)},
    ),
    Case(
        "annual, on the last day of grace",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2027-10-27",
        "2026-12-31",
        "awaiting_data",
        "(overdue)",
        {"stable_until": dt.date(2027, 10, 28)},
    ),
    Case(
        "annual, the indicator's own grace of a year",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180, grace=365),
        "2027-10-28",
        "2026-12-31",
        "awaiting_data",
        "expected on 2027-06-29 (overdue)",
    ),
    Case(
        "annual, the wait extended by a reviewer",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2027-11-01",
        "2026-12-31",
        "awaiting_data",
        "data overdue since 2027-06-29, wait extended to 2028-01-31",
        {"review_reason": None, "overdue_since": None, "stable_until": dt.date(2028, 2, 1)},
        wait_until="2028-01-31",
    ),
    Case(
        "annual, the extended wait over",
        ANNUAL_2026,
        series(each("2020", "2025", 90.0), frequency="annual", lag=180),
        "2028-02-01",
        "2026-12-31",
        "needs_review",
        "data overdue since 2027-06-29",
        {"review_reason": "data_overdue"},
        wait_until="2028-01-31",
    ),
    Case(
        "open claim whose series went silent: its next release overdue",
        at_period("2030"),
        series(each("2015", "2024", 90.0), frequency="annual", lag=30),
        "2026-11-28",
        "2030-12-31",
        "needs_review",
        "data overdue since 2026-01-30: data for 2025 (the series' next release)",
    ),
    # --- a revision flips a provisional verdict ---
    Case(
        "provisional true",
        ANNUAL_2026,
        series(
            {"2025": 90.0, "2026": 101.0},
            frequency="annual",
            lag=180,
            revision=365,
            known={"2026": "2027-07-01"},
        ),
        "2027-08-01",
        "2026-12-31",
        "resolved_true",
        "101 in 2026 meets >= 100; provisional until 2028-06-30",
    ),
    Case(
        "a revision within the window flips it to false",
        ANNUAL_2026,
        series(
            {"2025": 90.0, "2026": 101.0},
            frequency="annual",
            lag=180,
            revision=365,
            known={"2026": "2027-07-01"},
            extra=(("2026", 99.0, "2027-09-01"),),
        ),
        "2027-10-01",
        "2026-12-31",
        "resolved_false",
        "in 2026 misses >= 100; provisional until 2028-08-31",
        {"outcome": "false", "provisional": True},
        resolution=PROVISIONAL_TRUE,
    ),
    Case(
        "replayed before the revision: still true",
        ANNUAL_2026,
        series(
            {"2025": 90.0, "2026": 101.0},
            frequency="annual",
            lag=180,
            revision=365,
            known={"2026": "2027-07-01"},
            extra=(("2026", 99.0, "2027-09-01"),),
        ),
        "2027-08-15",
        "2026-12-31",
        "resolved_true",
        "101 in 2026 meets >= 100",
        {"outcome": "true"},
        resolution=PROVISIONAL_TRUE,
        replay=True,
    ),
]


@pytest.fixture(autouse=True)
def _fixed_clock():  # type: ignore[no-untyped-def]
    # every case names its own `now`; nothing here may read another clock
    with use_clock(FixedClock(at("2026-11-28", 9))):
        yield


def run(case: Case) -> EvaluationResult:
    facts = ClaimFacts(
        "edge",
        deadline=dt.date.fromisoformat(case.deadline),
        wait_until=dt.date.fromisoformat(case.wait_until) if case.wait_until else None,
        resolution=case.resolution,
    )
    criterion = _CRITERION.validate_python(case.criterion)
    now = at(case.now)
    return evaluate(
        facts, [criterion], {"s": case.data}, now=now, as_of=now if case.replay else None
    )


def test_the_table_has_thirty_cases_or_more() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert utcnow() == at("2026-11-28", 9)  # the fixed clock (cases pass their own `now`)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict_edge(case: Case) -> None:
    result = run(case)
    assert result.state == case.state, result.reason
    assert case.reason in result.reason, result.reason
    for name, expected in case.checks.items():
        value = getattr(result, name)
        if hasattr(value, "value"):  # enums
            value = value.value
        assert value == expected, (name, value, result.reason)
    if case.state == "needs_review" and "review_reason" not in case.checks:
        assert result.review_reason == "data_overdue" and result.overdue_since is not None
    if case.state.startswith("resolved"):
        assert result.review_reason is None and result.overdue_since is None
    # never a decided false while any period of a window is missing
    if result.outcome is not None and result.outcome.value == "false":
        for criterion in result.criteria:
            assert not criterion.details.get("missing_periods"), criterion.details
    # the stored form agrees with the result
    data = result.to_dict()
    assert data["review_reason"] == result.review_reason
    assert data["overdue_since"] == (
        result.overdue_since.isoformat() if result.overdue_since else None
    )


def test_a_weekly_period_round_trips() -> None:
    assert period_of(dt.date(2026, 7, 19), "week") == "2026-W29"
    assert (period_start("2026-W29"), period_end("2026-W29")) == (
        dt.date(2026, 7, 13),
        dt.date(2026, 7, 19),
    )
    assert period_of(dt.date(2027, 1, 1), "week") == "2026-W53"  # ISO: 2026 has 53 weeks
    assert next_period("2026-W53") == "2027-W01"
    assert periods_between("2026-07-13", "2026-07-26", "week") == ["2026-W29", "2026-W30"]
    assert (period_start("2026-Q3"), period_end("2026-Q3")) == (
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 30),
    )
    assert next_period("2026-Q4") == "2027-Q1"


def test_a_week_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        period_start("2025-W53")  # 2025 has 52 ISO weeks
    with pytest.raises(ValueError):
        period_start("2026-Q5")


def test_criteria_parse_weeks_quarters_and_the_read_mode_and_refuse_bad_ones() -> None:
    from pydantic import ValidationError

    weekly = _CRITERION.validate_python(window_crit("aggregate", "2026-W27", "2026-W30"))
    assert weekly.window.start == "2026-W27"
    assert _CRITERION.validate_python(at_period("2026-Q3")).period == "2026-Q3"
    with pytest.raises(ValidationError, match="required with read first_on_or_after"):
        _CRITERION.validate_python(at_period("2026-07-19", read="first_on_or_after"))
    with pytest.raises(ValidationError, match="only with `read: first_on_or_after`"):
        _CRITERION.validate_python(at_period("2026-07-19", tolerance_days=7))
    with pytest.raises(ValidationError, match="first_on_or_after needs `mode: at_period`"):
        _CRITERION.validate_python(
            window_crit("threshold", "2026-W27", "2026-W30", read="first_on_or_after")
        )
    with pytest.raises(ValidationError, match="end on or after the start"):  # by date, not text
        _CRITERION.validate_python(window_crit("aggregate", "2026-07", "2026-W26"))
    with pytest.raises(ValidationError, match="period"):
        _CRITERION.validate_python(at_period("2026-W7"))


LIVE = [c for c in CASES if not c.replay]  # a replay's fingerprint holds its as_of


@pytest.mark.parametrize("case", LIVE, ids=[c.id for c in LIVE])
def test_nothing_changes_before_stable_until(case: Case) -> None:
    """`stable_until` (what lets the daily sweep skip a claim) is never later than the first day
    the passage of time alone changes the result: a window's period ending, data falling
    overdue, an extended wait running out."""
    result = run(case)
    today = at(case.now).date()
    last = result.stable_until or today + dt.timedelta(days=800)
    span = (last - today).days
    for step in sorted({1, span // 3, span // 2, span - 1}):
        if 0 < step < span:
            later = Case(**{**case.__dict__, "now": (today + dt.timedelta(days=step)).isoformat()})
            assert run(later).fingerprint() == result.fingerprint(), (step, run(later).reason)
    if result.stable_until is not None:  # and on that day something may change (it is a bound)
        assert result.stable_until > today
