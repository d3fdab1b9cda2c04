"""Period arithmetic: the calendar periods series and criteria name, as ISO-style strings.

A period is one of

- a year        "2026"
- a quarter     "2026-Q3"      (July to September)
- a month       "2026-07"
- an ISO week   "2026-W29"     (Monday 2026-07-13 to Sunday 2026-07-19; ISO 8601 week numbering,
                               so "2026-W01" starts on the Monday of the week holding 4 January)
- a day         "2026-07-19"

Pure functions, no clock, no I/O: the evaluator (`tracker.evaluation`) and the sources
(`tracker.sources.base` re-exports `period_start` / `period_end`) both use them, so the
evaluator does not import the sources.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

PeriodKind = Literal["year", "quarter", "month", "week", "day"]

# The grammar of a period string (criteria validate against it).
PERIOD_PATTERN = r"^\d{4}(-(\d{2}(-\d{2})?|W\d{2}|Q[1-4]))?$"
_SHAPE = re.compile(PERIOD_PATTERN)

# An indicator's `frequency` → the kind of its periods. "point" series (dated events, prices
# read on a day) are enumerated by day where a window needs every period.
FREQUENCY_KIND: dict[str, PeriodKind] = {
    "annual": "year",
    "quarterly": "quarter",
    "monthly": "month",
    "weekly": "week",
    "daily": "day",
    "point": "day",
}
KIND_FREQUENCY: dict[PeriodKind, str] = {
    "year": "annual",
    "quarter": "quarterly",
    "month": "monthly",
    "week": "weekly",
    "day": "daily",
}


def period_kind(period: str) -> PeriodKind:
    """The kind of a period string; raises ValueError on anything else."""
    n = len(period)
    if n == 4 and period.isdigit():
        return "year"
    if n == 7 and period[4] == "-":
        tag = period[5]
        if tag == "Q":
            return "quarter"
        if period[5:].isdigit():
            return "month"
    if n == 8 and period[4:6] == "-W":
        return "week"
    if n == 10 and period[4] == "-" and period[7] == "-":
        return "day"
    raise ValueError(
        f"not a period: {period!r} (expected e.g. 2026, 2026-Q3, 2026-07, 2026-W29, 2026-07-19)"
    )


def is_period(text: str) -> bool:
    """Whether `text` is a well-formed, real period (e.g. not "2026-13" or "2026-W54")."""
    if not _SHAPE.match(text):
        return False
    try:
        period_start(text)
    except ValueError:
        return False
    return True


def _week_start(year: int, week: int) -> dt.date:
    return dt.date.fromisocalendar(year, week, 1)  # ValueError for a week the year lacks


def period_start(period: str) -> dt.date:
    """The first day of a period ("2025" → 2025-01-01, "2025-W02" → 2025-01-06)."""
    kind = period_kind(period)
    year = int(period[:4])
    if kind == "year":
        return dt.date(year, 1, 1)
    if kind == "quarter":
        quarter = int(period[6])
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4: {period!r}")
        return dt.date(year, 3 * quarter - 2, 1)
    if kind == "month":
        return dt.date(year, int(period[5:7]), 1)
    if kind == "week":
        return _week_start(year, int(period[6:8]))
    return dt.date(year, int(period[5:7]), int(period[8:10]))


def period_end(period: str) -> dt.date:
    """The last day of a period ("2025" → 2025-12-31, "2025-Q1" → 2025-03-31)."""
    kind = period_kind(period)
    if kind == "day":
        return period_start(period)
    if kind == "week":
        return period_start(period) + dt.timedelta(days=6)
    following = next_period(period)
    return period_start(following) - dt.timedelta(days=1)


def period_of(day: dt.date, kind: PeriodKind) -> str:
    """The period of `kind` holding `day` (2026-07-19, "week" → "2026-W29")."""
    if kind == "year":
        return f"{day.year:04d}"
    if kind == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if kind == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if kind == "week":
        iso = day.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    return day.isoformat()


def next_period(period: str) -> str:
    """The period right after `period`, of the same kind."""
    kind = period_kind(period)
    year = int(period[:4])
    if kind == "year":
        return f"{year + 1:04d}"
    if kind == "quarter":
        quarter = int(period[6])
        return f"{year + 1:04d}-Q1" if quarter == 4 else f"{year:04d}-Q{quarter + 1}"
    if kind == "month":
        month = int(period[5:7])
        return f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    if kind == "week":
        return period_of(period_start(period) + dt.timedelta(days=7), "week")
    return (period_start(period) + dt.timedelta(days=1)).isoformat()


# A window is enumerated period by period only up to this many (a century of days).
MAX_PERIODS = 40_000


def periods_between(start: str, end: str, kind: PeriodKind) -> list[str]:
    """Every period of `kind` overlapping the days from `start`'s first to `end`'s last.

    ("2026-07-13", "2026-07-26", "week") → ["2026-W29", "2026-W30"]; a week that straddles a
    window's edge is one of its periods (its reading covers days inside the window).
    """
    first, last = period_start(start), period_end(end)
    out: list[str] = []
    period = period_of(first, kind)
    while period_start(period) <= last:
        out.append(period)
        if len(out) > MAX_PERIODS:
            raise ValueError(f"{start}..{end} holds more than {MAX_PERIODS} {kind} periods")
        period = next_period(period)
    return out


def finer_or_equal(kind: PeriodKind, than: PeriodKind) -> bool:
    """Whether periods of `kind` are no longer than those of `than` (a week is finer than a
    month though it does not nest in one)."""
    order = ("day", "week", "month", "quarter", "year")
    return order.index(kind) <= order.index(than)


# Default grace per cadence: how long after its expected date data may still be missing before
# a person is asked (a release often slips a little; an annual report by weeks).
DEFAULT_GRACE_DAYS: dict[str, int] = {
    "annual": 120,
    "quarterly": 60,
    "monthly": 30,
    "weekly": 14,
    "daily": 7,
    "point": 7,
}


def default_grace_days(frequency: str) -> int:
    """The grace of an indicator of this cadence that declares none."""
    return DEFAULT_GRACE_DAYS.get(frequency, DEFAULT_GRACE_DAYS["annual"])
