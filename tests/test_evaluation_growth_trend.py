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
    sustained = (FLOP["2025"] / FLOP["2020"]) ** (1 / TREND_YEARS)
    assert sustained == pytest.approx(4.37, abs=0.01)
    assert result.observed_growth == pytest.approx(sustained - 1)
    assert result.trend is not None and result.trend.value == "off_track"
    assert "sustained over 2020–2025" in result.reason


def test_the_headline_of_a_growth_claim_without_a_window_is_the_sustained_rate() -> None:
    # (this replaces an assertion that the headline metric was the single year, 13.2x, beside
    # "off track": the metric, margin and progress now agree with the trend)
    result = evaluate(ClaimFacts("ai-10x"), [TEN_X], {"flop": flop_series(FLOP)}, now=NOW)
    yoy = FLOP["2025"] / FLOP["2024"]
    sustained = (FLOP["2025"] / FLOP["2020"]) ** (1 / TREND_YEARS)
    assert result.metric is not None
    assert result.metric.value == pytest.approx(sustained) and result.metric.period == "2020..2025"
    assert result.margin == pytest.approx(sustained - 10)
    assert result.progress == pytest.approx(sustained / 10)
    details = result.criteria[0].details
    assert details["latest_year_value"] == pytest.approx(yoy)  # 13.2x
    assert details["latest_year_period"] == "2025" and details["latest_year_over"] == "2024"
    assert result.reason.startswith(
        "4.37x/yr sustained over 2020–2025 (misses >= 10.0x/yr); 13.2x in 2025 over 2024"
    )


def test_a_growth_claim_with_a_deadline_still_evaluates() -> None:
    claim = ClaimFacts("ai-10x", deadline=dt.date(2030, 12, 31))
    result = evaluate(claim, [TEN_X], {"flop": flop_series(FLOP)}, now=NOW)
    assert result.metric is not None and result.metric.period == "2020..2025"
    assert result.trend is not None and result.trend.value == "off_track"


def test_with_two_years_only_the_single_year_decides_the_trend() -> None:
    two = {"2024": FLOP["2024"], "2025": FLOP["2025"]}
    result = evaluate(ClaimFacts("ai-10x"), [TEN_X], {"flop": flop_series(two)}, now=NOW)
    assert result.trend is not None and result.trend.value == "on_track"
    assert "sustained" not in result.reason
    assert result.metric is not None and result.metric.period == "2025"
    assert result.margin == pytest.approx(FLOP["2025"] / FLOP["2024"] - 10)
