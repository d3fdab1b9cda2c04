"""One number formatter (tracker.numbers) for reasons, the API, the dashboard and the CLI.

Each string the audit cited, near-threshold values, short horizons, large values, never "-0.0".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import TypeAdapter

from tracker.cli import claims as cli_claims
from tracker.cli import evaluate as cli_evaluate
from tracker.criteria import Criterion
from tracker.evaluation import ClaimFacts, SeriesData, SeriesPoint, evaluate
from tracker.numbers import (
    change_over,
    format_chance,
    format_change,
    format_number,
    format_pair,
    format_percent,
    format_quantity,
    format_rate,
    horizon_text,
    rate_text,
)
from tracker.sources.base import period_start
from tracker.web import wording

CRITERION: TypeAdapter[Any] = TypeAdapter(Criterion)


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tzinfo=dt.UTC)


def daily(key: str, values: Mapping[str, float], unit: str = "USD") -> SeriesData:
    points = tuple(
        SeriesPoint(p, period_start(p), v, i + 1, 1, at("2026-01-01"))
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData(key, unit, "daily", 0, 0, points)


@pytest.mark.parametrize(
    ("value", "other", "texts"),
    [
        # the audit's case: 69.63 against 69.62 printed "69.6 ... misses <= 69.6"
        (69.63, 69.62, ("69.63", "69.62")),
        (69.62, 69.63, ("69.62", "69.63")),
        (69.6, 69.62, ("69.6", "69.62")),
        (2.99795, 3.0, ("2.998", "3.0")),
        (2.5, 3.0, ("2.5", "3.0")),
        (3.0, 3.0, ("3.0", "3.0")),
        (4600.4, 4600.0, ("4,600.4", "4,600.0")),
        (1.3499e9, 1.35e9, ("1.3499 billion", "1.35 billion")),
        (124_049_000.0, 124_051_000.0, ("124.0 million", "124.1 million")),
        (0.0001, 0.00011, ("0.0001", "0.00011")),
        (-0.0004, 0.0, ("-0.0004", "0")),
    ],
)
def test_a_value_beside_a_threshold_never_prints_as_it(
    value: float, other: float, texts: tuple[str, str]
) -> None:
    assert format_pair(value, other) == texts
    assert format_number(value, other) == texts[0]
    if value != other:
        assert texts[0] != texts[1]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # large values read as words with a decimal ("1.24e+08 persons" on the dashboard)
        (123_968_000.0, "124.0 million"),
        (1.2e9, "1.2 billion"),
        (1_408_975_000.0, "1.409 billion"),
        (999_960_000.0, "1.0 billion"),
        (-3.2e9, "-3.2 billion"),
        (5e26, "5e+26"),
        (0.0, "0"),
        (-0.0, "0"),  # never "-0" or "-0.0"
        (-0.0004, "-0.0004"),
        (-0.04, "-0.04"),
        (2.3415, "2.34"),
        (3.0, "3.0"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_the_dashboard_and_the_reason_print_large_values_alike() -> None:
    # the dashboard's `num` filter is the same formatter, with the unit after it
    assert wording.format_number is format_quantity
    assert format_quantity(1.2397e8, "persons") == "124.0 million persons"
    assert format_quantity(None) == "—"
    assert format_quantity(0.06, "probability") == "6 % probability"
    assert format_quantity(-0.0001 * 100) == "-0.01"  # the page printed "-0" here
    assert format_quantity(69.63, "1", 69.62) == "69.63"


def test_the_cli_prints_with_the_same_formatter() -> None:
    assert vars(cli_evaluate)["format_number"] is format_number
    assert vars(cli_claims)["format_number"] is format_number


@pytest.mark.parametrize(
    ("change", "beside", "text"),
    [
        (0.023, None, "+2.3 %"),
        (-0.0004, None, "-0.04 %"),
        (0.0, None, "0.0 %"),
        (0.05081, 0.05069, "+5.08 %"),
    ],
)
def test_format_change(change: float, beside: float | None, text: str) -> None:
    assert format_change(change, beside) == text


def test_rates_are_annualised_only_over_a_year_or_more() -> None:
    # +411.7 %/yr from a 15-day horizon: say the change over those 15 days instead
    assert (
        rate_text(4.117, 15 / 365, 15)
        == f"{format_change(change_over(4.117, 15 / 365))} in 15 days"
    )
    assert "%/yr" not in rate_text(4.117, 15 / 365, 15)
    assert rate_text(0.0508, 5.0, 1826) == "+5.1 %/yr"
    assert rate_text(0.0508, 1.0, 365) == "+5.1 %/yr"
    assert horizon_text(1) == "1 day" and horizon_text(182) == "6 months"
    # the change over one horizon orders as the rates do (so the verdict still reads)
    assert change_over(0.2, 0.5) > change_over(0.1, 0.5)
    assert change_over(0.1, 1.0) == pytest.approx(0.1)


def test_chances_read_as_whole_percentages() -> None:
    assert format_chance(0.62) == "62 % chance"
    assert format_percent(0.004) == "<1 %" and format_percent(0.996) == ">99 %"
    assert format_percent(0.0) == "0 %" and format_percent(1.0) == "100 %"


def test_rate_never_prints_negative_zero() -> None:
    assert format_rate(-0.0) == "0.0 %/yr"
    assert format_rate(-0.000456) == "-0.05 %/yr"


# --- the reason texts, near their thresholds ---


def _at_period(values: Mapping[str, float], threshold: float, comparator: str, period: str) -> Any:
    crit = CRITERION.validate_python(
        {
            "key": "level",
            "type": "threshold",
            "series": {"indicator": "price"},
            "comparator": comparator,
            "threshold": threshold,
            "period": period,
        }
    )
    return crit, {"price": daily("price", values)}


def test_a_decided_value_beside_its_threshold_reads_apart() -> None:
    criterion, data = _at_period({"2026-07-16": 69.63}, 69.62, "<=", "2026-07-16")
    result = evaluate(
        ClaimFacts("oil", deadline=dt.date(2026, 7, 16)), [criterion], data, now=at("2026-07-20")
    )
    assert result.state == "resolved_false"
    assert "69.63 in 2026-07-16 misses <= 69.62" in result.reason
    assert "69.6 in" not in result.reason


def test_a_value_so_far_beside_its_threshold_reads_apart() -> None:
    criterion, data = _at_period({"2026-07": 69.619}, 69.62, "<=", "2026-07")
    result = evaluate(ClaimFacts("oil"), [criterion], data, now=at("2026-07-10"))
    assert "69.619 so far in 2026-07 (meets <= 69.62)" in result.reason


def test_a_day_horizon_is_not_annualised() -> None:
    days = {f"2026-07-{d:02d}": 60.0 * 1.004**d for d in range(1, 11)}
    criterion, data = _at_period(days, 70.0, ">=", "2026-07-25")
    result = evaluate(ClaimFacts("oil"), [criterion], data, now=at("2026-07-11"))
    assert result.required_growth is not None and result.required_growth > 1  # per year
    assert "%/yr" not in result.reason
    needed = 70.0 / days["2026-07-10"] - 1  # by hand, the change over the 15 days
    assert f"needs {format_change(needed)} in 15 days to reach 70.0 by 2026-07-25" in (
        result.reason
    )
    assert "trend +" in result.reason and "% in 15 days, projected" in result.reason


def test_a_multi_year_horizon_stays_per_year() -> None:
    years = {str(y): 100.0 * 1.05 ** (y - 2015) for y in range(2015, 2026)}
    crit = CRITERION.validate_python(
        {
            "key": "level",
            "type": "threshold",
            "series": {"indicator": "gen"},
            "comparator": ">=",
            "threshold": 200.0,
            "period": "2030",
        }
    )
    points = tuple(
        SeriesPoint(p, period_start(p), v, i + 1, 1, at("2026-01-01"))
        for i, (p, v) in enumerate(sorted(years.items()))
    )
    data = {"gen": SeriesData("gen", "TWh", "annual", 180, 365, points)}
    result = evaluate(ClaimFacts("gen"), [crit], data, now=at("2026-06-01"))
    assert "%/yr to reach 200 by 2030" in result.reason
    assert math.isfinite(result.required_growth or math.nan)


def test_a_projection_beside_its_threshold_reads_apart_and_the_threshold_reads_alike() -> None:
    years = {str(y): 40.0 + 3.0 * (y - 2015) + (0.8 if y % 2 else -0.8) for y in range(2015, 2026)}
    points = tuple(
        SeriesPoint(p, period_start(p), v, i + 1, 1, at("2026-01-01"))
        for i, (p, v) in enumerate(sorted(years.items()))
    )
    data = {"x": SeriesData("x", "count", "annual", 180, 365, points)}

    def reason_at(threshold: float) -> Any:
        crit = CRITERION.validate_python(
            {
                "key": "level",
                "type": "threshold",
                "series": {"indicator": "x"},
                "comparator": "<=",
                "threshold": threshold,
                "period": "2030",
            }
        )
        return evaluate(ClaimFacts("x"), [crit], data, now=at("2026-06-01"))

    projected = reason_at(1000.0).projection
    assert projected is not None
    near = float(format_number(projected.value)) + 1e-3  # prints as the projection at 3 figures
    assert format_number(near) == format_number(projected.value)
    result = reason_at(near)
    value_text, threshold_text = format_pair(projected.value, near)
    assert value_text != threshold_text
    assert f"to reach {threshold_text} by 2030" in result.reason
    assert f"projected {value_text} (" in result.reason
    assert f"the band includes {threshold_text}," in result.reason
    # the verdict agrees with the figures the reader is shown
    assert (result.trend == "on_track") == (projected.value <= near)


def test_the_cli_prints_the_value_and_threshold_apart_and_the_chance() -> None:
    criterion, data = _at_period({"2026-07-16": 69.63}, 69.62, "<=", "2026-07-16")
    decided = evaluate(ClaimFacts("oil"), [criterion], data, now=at("2026-07-20"))
    assert cli_evaluate._metric_text(decided) == "69.63 USD (2026-07-16)"
    assert cli_evaluate._threshold_text(decided) == "<= 69.62"
    days = {f"2026-07-{d:02d}": 60.0 * 1.004**d for d in range(1, 11)}
    criterion, data = _at_period(days, 70.0, ">=", "2026-07-25")
    open_ = evaluate(ClaimFacts("oil"), [criterion], data, now=at("2026-07-11"))
    assert open_.probability is not None
    assert cli_evaluate._projection_text(open_).endswith(f"; {format_chance(open_.probability)}")


def test_the_claim_pages_growth_line_is_worded_as_the_reason() -> None:
    # the dashboard's "Growth needed" row: per year over years, the change over days
    assert wording.growth_needed_text(0.0508, 0.051, "2025", "2030") == (
        "+5.08 %/yr (observed trend +5.10 %/yr)"
    )
    short = wording.growth_needed_text(4.117, 3.0, "2026-07-10", "2026-07-25")
    assert "%/yr" not in short and short.count("in 15 days") == 2
    assert wording.growth_needed_text(0.05, None, None, None) == "+5.0 %/yr"
