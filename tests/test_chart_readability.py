"""Charts that say something: a one-point series inside the frame, growth claims with the path
their rate requires, no stray legend entries, and the chance of coming true as the headline."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

from dashboard_seed import NOW

from tracker.criteria import GrowthCriterion
from tracker.web.charts import ChartPoint, ClaimChart, required_growth_path
from tracker.web.dashboard import _templates


def _points(values: dict[int, float]) -> list[ChartPoint]:
    return [
        ChartPoint(str(year), float(year), y, True, NOW, None, ()) for year, y in values.items()
    ]


def test_a_one_point_series_sits_inside_the_chart():
    chart = ClaimChart(key="k", title="population", unit="people", points=_points({2024: 8.1e9}))
    config = chart.config()
    x, y = config["options"]["scales"]["x"], config["options"]["scales"]["y"]
    assert x["min"] < 2024 < x["max"]
    assert y["suggestedMin"] < 8.1e9 < y["suggestedMax"]
    assert config["data"]["datasets"][0]["pointRadius"] == 5  # sparse: large points
    # a series with spread gets no padding and normal points
    many = ClaimChart(
        key="k",
        title="t",
        unit="1",
        points=_points({y: float(y - 2000) for y in range(2010, 2020)}),
    ).config()
    assert "suggestedMin" not in many["options"]["scales"]["y"]
    assert many["data"]["datasets"][0]["pointRadius"] == 3


def test_a_windowed_cagr_claim_draws_the_path_its_rate_requires():
    criterion = GrowthCriterion.model_validate(
        {
            "key": "g",
            "type": "growth",
            "series": {"indicator": "x"},
            "measure": "cagr",
            "comparator": ">=",
            "threshold": 0.1,
            "window": {"start": "2020", "end": "2030"},
        }
    )
    found = required_growth_path(_points({2019: 90.0, 2020: 100.0, 2024: 130.0}), criterion, None)
    assert found is not None
    path, label = found
    assert label == "required path (≥ 10.0 %/yr)"
    assert path[0] == (2020.0, 100.0)
    assert path[-1][0] == 2030.0 and math.isclose(path[-1][1], 100.0 * 1.1**10)


def test_an_open_ended_factor_claim_draws_from_the_sustained_rate_base():
    criterion = GrowthCriterion.model_validate(
        {
            "key": "g",
            "type": "growth",
            "series": {"indicator": "x"},
            "measure": "annual_factor",
            "comparator": ">=",
            "threshold": 10.0,
        }
    )
    points = _points({2015: 1.0, 2019: 10.0, 2020: 20.0, 2024: 1e4})
    found = required_growth_path(points, criterion, dt.date(2030, 12, 31))
    assert found is not None
    path, label = found
    assert label == "required path (≥ 10.0x a year)"
    assert path[0] == (2019.0, 10.0)  # five years before the latest value (2024)
    assert path[-1][0] == 2025.0 and math.isclose(path[-1][1], 10.0 * 10**6)
    chart = ClaimChart(key="k", title="t", unit="FLOP", points=points)
    chart.required_path, chart.required_label = path, label
    datasets = chart.config()["data"]["datasets"]
    assert any(d["label"] == label and d["borderDash"] for d in datasets)
    assert "required path (≥ 10.0x a year): from 10.0 in 2019 to 10.0 million in 2025" in (
        chart.aria_label()
    )


def test_a_band_edge_is_not_a_legend_entry():
    for projection in (
        {"value": 3.0, "low": 2.0, "high": 4.0, "at": "2030", "x": 2030.0, "model": "trend"},
        {
            "value": 3.0,
            "low": 2.0,
            "high": 4.0,
            "at": "2035",
            "x": 2035.0,
            "x0": 2026.0,
            "function": "mean",
            "window": ["2026", "2035"],
        },
    ):
        chart = ClaimChart(
            key="k",
            title="t",
            unit="1",
            points=_points({2023: 1.0, 2024: 2.0}),
            threshold=3.0,
            comparator=">=",
            projection=projection,
        )
        datasets = chart.config()["data"]["datasets"]
        hidden = [d["label"] for d in datasets if d.get("hideInLegend")]
        assert hidden == ["projection, lower bound"]
        assert "projection range" in [d["label"] for d in datasets if not d.get("hideInLegend")]


def _headline(ev: object) -> str:
    module = _templates().env.get_template("_macros.html").make_module({})
    return str(module.probability_headline(ev))


def test_the_chance_is_the_headline_when_known_and_absent_otherwise():
    assert "62 % chance" in _headline(SimpleNamespace(probability=0.62))
    assert "100 % chance" in _headline(SimpleNamespace(probability=1.0))
    assert _headline(SimpleNamespace(probability=None)).strip() == ""
    assert _headline(SimpleNamespace()).strip() == ""  # before the trust work adds the field
    assert _headline(None).strip() == ""
