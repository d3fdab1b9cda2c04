"""Growth claims without a window: the trend follows the sustained rate, not one noisy year."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter

from tracker.criteria import Criterion
from tracker.evaluation import TREND_YEARS, ClaimFacts, SeriesData, SeriesPoint, evaluate
from tracker.sources.base import period_start

NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
# Largest training run per year (Epoch AI notable models, as bundled): 2024 dipped below 2023.
FLOP = {
    "2020": 3.14e23,
    "2021": 2.047e24,
    "2022": 2.7415e24,
    "2023": 5.0e25,
    "2024": 3.8e25,
    "2025": 5.0e26,
}
TEN_X = TypeAdapter(Criterion).validate_python(
    {
        "key": "g",
        "type": "growth",
        "series": {"indicator": "flop"},
        "measure": "annual_factor",
        "threshold": 10,
    }
)


def flop_series(values: dict[str, float]) -> SeriesData:
    points = tuple(
        SeriesPoint(p, period_start(p), v, i, 1, NOW - dt.timedelta(days=30))
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData("flop", "FLOP", "annual", 90, 365, points)


def test_a_jump_after_a_dip_does_not_make_ten_x_a_year_on_track() -> None:
    result = evaluate(ClaimFacts("ai-10x"), [TEN_X], {"flop": flop_series(FLOP)}, now=NOW)
    yoy = FLOP["2025"] / FLOP["2024"]
    sustained = (FLOP["2025"] / FLOP["2020"]) ** (1 / TREND_YEARS)
    assert result.metric is not None and result.metric.value == pytest.approx(yoy)  # 13.2x
    assert sustained == pytest.approx(4.37, abs=0.01)
    assert result.observed_growth == pytest.approx(sustained - 1)
    assert result.trend is not None and result.trend.value == "off_track"
    assert "sustained over 2020–2025" in result.reason


def test_with_two_years_only_the_single_year_decides_the_trend() -> None:
    two = {"2024": FLOP["2024"], "2025": FLOP["2025"]}
    result = evaluate(ClaimFacts("ai-10x"), [TEN_X], {"flop": flop_series(two)}, now=NOW)
    assert result.trend is not None and result.trend.value == "on_track"
    assert "sustained" not in result.reason
