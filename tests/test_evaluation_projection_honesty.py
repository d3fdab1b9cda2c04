"""Projections say what they rest on: a recent turn, a band too wide to call, a band that
straddles the threshold; and reasons print large numbers readably."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from test_evaluation_china import CRITERION as CHINA_POWER
from test_evaluation_china import DATA as OWID
from test_evaluation_china import _series as owid_series

from tracker.criteria import Criterion
from tracker.evaluation import (
    UNCERTAIN_RATIO,
    ClaimFacts,
    SeriesData,
    SeriesPoint,
    evaluate,
    too_uncertain,
)
from tracker.sources.base import period_start

FIXTURES = Path(__file__).parent / "fixtures"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
KNOWN = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _world_bank_chn() -> dict[str, float]:
    # Real World Bank SP.POP.TOTL values for China, 2015–2024 (see fixtures PROVENANCE.md): they
    # rise to a 2021 peak of 1,412,360,000 then fall each year to 1,408,975,000 in 2024.
    path = FIXTURES / "sources" / "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
    rows = json.loads(path.read_text())[1]
    return {row["date"]: float(row["value"]) for row in rows}


POPULATION = _world_bank_chn()


def _series(key: str, values: dict[str, float], unit: str) -> SeriesData:
    points = tuple(
        SeriesPoint(p, period_start(p), v, i, 1, KNOWN)
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData(key, unit, "annual", 180, 365, points)


def _criterion(**fields: Any) -> Criterion:
    return TypeAdapter(Criterion).validate_python(fields)


BELOW_1_35_BN = _criterion(
    key="pop-2030",
    type="threshold",
    series={"indicator": "worldbank.population.chn"},
    comparator="<",
    threshold=1.35e9,
    mode="at_period",
    period="2030",
)


def _population(values: dict[str, float]) -> Any:
    data = {"worldbank.population.chn": _series("worldbank.population.chn", values, "persons")}
    return evaluate(ClaimFacts("china-pop"), [BELOW_1_35_BN], data, now=NOW)


def test_the_real_chn_values_turned_in_2021() -> None:
    assert POPULATION["2021"] == 1_412_360_000 and POPULATION["2024"] == 1_408_975_000
    assert max(POPULATION, key=POPULATION.__getitem__) == "2021"


def test_a_projection_follows_the_series_since_its_recent_turn() -> None:
    result = _population(POPULATION)
    p = result.projection
    assert p is not None
    assert p.fit_from == "2021" and p.model == "linear since 2021, from latest" and p.n_points == 4
    assert p.value < POPULATION["2024"]  # falling, not the 1.44 billion of the rising fit
    # the line through 2021..2024 by hand: slope −1.16 million a year, from the 2024 value
    xs, ys = [2021, 2022, 2023, 2024], [POPULATION[str(y)] for y in range(2021, 2025)]
    slope = sum((x - 2022.5) * (y - sum(ys) / 4) for x, y in zip(xs, ys, strict=True)) / 5
    assert round(slope / 1e6, 2) == -1.16
    assert p.value == pytest.approx(POPULATION["2024"] + slope * (2030 - 2024))
    assert p.from_period == "2024" and p.from_value == POPULATION["2024"]
    # its growth: the compound rate from the 2024 value to the projection
    rate = (p.value / POPULATION["2024"]) ** (1 / 6) - 1
    assert result.observed_growth == pytest.approx(rate)
    assert result.observed_growth is not None and result.observed_growth < 0
    assert "since its 2021 turn" in result.reason
    assert result.to_dict()["projection"]["fit_from"] == "2021"


def test_two_falling_years_are_not_yet_a_turn() -> None:
    values = {p: v for p, v in POPULATION.items() if p <= "2023"}  # 2022, 2023 fell
    result = _population(values)
    assert result.projection is not None and result.projection.fit_from is None
    assert result.projection.model == "linear, from the latest point"
    assert result.projection.n_points == 9
    assert "turn" not in result.reason


def test_reasons_print_large_numbers_as_words() -> None:
    result = _population(POPULATION)
    assert "1.409 billion in 2024" in result.reason
    assert "1.35 billion" in result.reason
    assert "e+0" not in result.reason


def test_a_small_growth_rate_is_never_printed_as_zero() -> None:
    below = BELOW_1_35_BN.model_copy(update={"threshold": 1.405e9})
    data = {"worldbank.population.chn": _series("worldbank.population.chn", POPULATION, "persons")}
    result = evaluate(ClaimFacts("china-pop"), [below], data, now=NOW)
    needed = (1.405e9 / 1_408_975_000) ** (1 / 6) - 1  # by hand: −0.047 %/yr
    assert result.required_growth == pytest.approx(needed)
    assert "needs -0.05 %/yr to reach 1.405 billion by 2030" in result.reason  # was "-0.0 %/yr"
    assert "0.0 %/yr" not in result.reason


def test_the_model_text_fits_its_column_even_after_a_daily_turn() -> None:
    # the stored projection_model is at most 40 characters (PostgreSQL enforces it)
    days = [f"2026-03-{d:02d}" for d in range(1, 11)]
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 6.5, 6.0, 5.5]  # a peak on the 7th
    points = tuple(
        SeriesPoint(p, period_start(p), v, i, 1, KNOWN)
        for i, (p, v) in enumerate(zip(days, values, strict=True))
    )
    data = {"d": SeriesData("d", "TWh", "daily", 0, 0, points)}
    criterion = _criterion(
        key="d", type="threshold", series={"indicator": "d"}, threshold=9.0, period="2026-04-30"
    )
    result = evaluate(ClaimFacts("daily"), [criterion], data, now=NOW.replace(month=3, day=11))
    assert result.projection is not None and result.projection.fit_from == "2026-03-07"
    assert result.projection.model == "log-linear since 2026-03-07, from latest"
    assert len(result.projection.model) <= 40


NOISY = {  # a compute share jumping by orders of magnitude from year to year
    "2018": 0.02,
    "2019": 3.0,
    "2020": 0.001,
    "2021": 5.0,
    "2022": 0.004,
    "2023": 2.0,
    "2024": 0.01,
    "2025": 0.8,
}
EXCEEDS_WORLD = _criterion(
    key="share-2030",
    type="threshold",
    series={"indicator": "share"},
    threshold=1.0,
    unit="1",
    mode="at_period",
    period="2030",
)


def test_a_band_spanning_orders_of_magnitude_is_too_uncertain_to_call() -> None:
    data = {"share": _series("share", NOISY, "1")}
    data["share"] = SeriesData("share", "1", "annual", 180, 365, data["share"].points, "log-linear")
    result = evaluate(ClaimFacts("ai-share"), [EXCEEDS_WORLD], data, now=NOW)
    p = result.projection
    assert p is not None and p.high / p.low > UNCERTAIN_RATIO  # the numbers are kept
    assert too_uncertain(p)
    assert result.trend is not None and result.trend.value == "insufficient_data"
    assert result.criteria[0].trend is not None
    assert result.criteria[0].trend.value == "insufficient_data"
    assert "too uncertain to call" in result.reason


def test_a_tight_band_is_not_too_uncertain() -> None:
    result = _population(POPULATION)
    assert result.projection is not None and not too_uncertain(result.projection)
    assert result.trend is not None and result.trend.value == "off_track"
    assert "too uncertain" not in result.reason


def test_a_band_that_straddles_the_threshold_says_it_could_go_either_way() -> None:
    data = {"chn": owid_series("chn", OWID["CHN"]), "usa": owid_series("usa", OWID["USA"])}
    result = evaluate(ClaimFacts("china-power-3x-us-2030"), [CHINA_POWER], data, now=NOW)
    p = result.projection
    assert p is not None and p.low < 3.0 < p.high
    assert result.trend is not None and result.trend.value == "on_track"  # the rule
    assert "the band includes 3.0, so this could go either way" in result.reason


def test_a_band_clear_of_the_threshold_makes_no_such_claim() -> None:
    result = _population(POPULATION)
    assert result.projection is not None and result.projection.low > 1.35e9
    assert "either way" not in result.reason


def test_a_band_beyond_the_float_range_is_too_uncertain_not_a_crash() -> None:
    # found by hypothesis (test_evaluation_is_deterministic): three points, a 1,600x swing
    # (then; projected from the latest point, the band overflows with a 10,000x swing)
    data = {"share": _series("share", {"2016": 0.5, "2017": 5000.0, "2018": 0.5}, "1")}
    data["share"] = SeriesData("share", "1", "annual", 180, 365, data["share"].points, "log-linear")
    result = evaluate(ClaimFacts("ai-share"), [EXCEEDS_WORLD], data, now=NOW)
    assert result.projection is not None and result.projection.high == float("inf")
    assert result.trend is not None and result.trend.value == "insufficient_data"
    assert "too uncertain to call" in result.reason
    assert result.to_dict()["projection"]["high"] is None
    assert result.fingerprint()
