"""China 3x US power by 2030: the tracker's figures against a hand computation from OWID data.

The data (tests/fixtures/evaluation, from owid/energy-data, see PROVENANCE.md) is read here
independently, and the ratio, required growth and projection are recomputed with the standard
library (statistics.linear_regression), not with tracker code.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import statistics
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from tracker.criteria import Criterion
from tracker.evaluation import ClaimFacts, SeriesData, SeriesPoint, evaluate
from tracker.sources.base import period_start

FIXTURES = Path(__file__).parent / "fixtures"

KNOWN = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _read() -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {"CHN": {}, "USA": {}}
    path = FIXTURES / "evaluation" / "owid_electricity_generation_chn_usa_2000_2025.csv"
    with path.open() as handle:
        for row in csv.DictReader(handle):
            out[row["iso_code"]][int(row["year"])] = float(row["electricity_generation_twh"])
    return out


DATA = _read()


def _series(key: str, values: dict[int, float]) -> SeriesData:
    points = tuple(
        SeriesPoint(str(y), period_start(str(y)), v, y, 1, KNOWN) for y, v in sorted(values.items())
    )
    return SeriesData(key, "TWh", "annual", 180, 365, points)


CRITERION = TypeAdapter(Criterion).validate_python(
    {
        "key": "ratio-2030",
        "type": "threshold",
        "series": {"ratio": [{"indicator": "chn"}, {"indicator": "usa"}]},
        "threshold": 3.0,
        "unit": "1",
        "mode": "at_period",
        "period": "2030",
    }
)


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    facts = ClaimFacts("china-power-3x-us-2030", deadline=dt.date(2030, 12, 31))
    series = {"chn": _series("chn", DATA["CHN"]), "usa": _series("usa", DATA["USA"])}
    return evaluate(facts, [CRITERION], series, now=NOW)


def test_the_data_is_the_published_owid_data() -> None:
    assert DATA["CHN"][2025] == 10583.36 and DATA["USA"][2025] == 4519.79
    assert DATA["CHN"][2024] == 10086.88 and DATA["USA"][2024] == 4391.02
    assert sorted(DATA["CHN"]) == list(range(2000, 2026))


def test_metric_is_the_2025_ratio(result) -> None:  # type: ignore[no-untyped-def]
    ratio_2025 = 10583.36 / 4519.79
    assert result.metric.period == "2025"
    assert result.metric.unit == "1"
    assert result.metric.value == pytest.approx(ratio_2025, rel=1e-12)
    assert round(result.metric.value, 2) == 2.34
    assert round(DATA["CHN"][2024] / DATA["USA"][2024], 2) == 2.30
    assert result.margin == pytest.approx(ratio_2025 - 3.0)
    assert result.progress == pytest.approx(ratio_2025 / 3.0)


def test_required_growth_is_5_08_percent(result) -> None:  # type: ignore[no-untyped-def]
    required = (3.0 / (10583.36 / 4519.79)) ** (1 / 5) - 1
    assert round(required * 100, 2) == 5.08
    assert result.required_growth == pytest.approx(required, rel=1e-12)
    assert "needs +5.1 %/yr to reach 3.0 by 2030" in result.reason


def test_projection_matches_an_independent_least_squares_fit(result) -> None:  # type: ignore[no-untyped-def]
    years = list(range(2016, 2026))  # the last ten points
    logs = [math.log(DATA["CHN"][y] / DATA["USA"][y]) for y in years]
    slope, intercept = statistics.linear_regression(years, logs)
    fitted = [intercept + slope * y for y in years]
    sd = math.sqrt(sum((a - b) ** 2 for a, b in zip(logs, fitted, strict=True)) / (len(years) - 2))
    mean_year = statistics.fmean(years)
    sxx = sum((y - mean_year) ** 2 for y in years)
    se = sd * math.sqrt(1 + 1 / len(years) + (2030 - mean_year) ** 2 / sxx)
    centre = intercept + slope * 2030

    projection = result.projection
    assert projection.model == "log-linear"
    assert projection.at == "2030"
    assert projection.n_points == 10
    assert projection.residual_sd == pytest.approx(sd, rel=1e-9)
    assert projection.value == pytest.approx(math.exp(centre), rel=1e-9)
    t = 2.306004135  # Student t, 95 % two-sided, 10 points - 2 = 8 degrees of freedom
    assert projection.low == pytest.approx(math.exp(centre - t * se), rel=1e-9)
    assert projection.high == pytest.approx(math.exp(centre + t * se), rel=1e-9)
    assert result.trend.value == ("on_track" if math.exp(centre) >= 3.0 else "off_track")
    # the observed growth is the CAGR over the fitted years
    observed = (math.exp(logs[-1]) / math.exp(logs[0])) ** (1 / 9) - 1
    assert result.observed_growth == pytest.approx(observed, rel=1e-12)


def test_data_for_2030_is_expected_half_a_year_after_the_period(result) -> None:  # type: ignore[no-untyped-def]
    assert result.data_expected_on == dt.date(2030, 12, 31) + dt.timedelta(days=180)
