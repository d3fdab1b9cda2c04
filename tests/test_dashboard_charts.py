"""Plain-words criteria and chart data: each criterion type as a sentence; chart points with
superseded vintages computed as they stood; the Chart.js configuration carries the threshold,
projection band and deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from dashboard_seed import NOW, make_fetch_run, make_indicator, make_observation
from sqlmodel import Session

from tracker.models import Evaluation
from tracker.web.charts import build_claim_charts, decimal_year
from tracker.web.wording import describe_criterion, format_number, parse_criterion

TITLES = {
    "cn": "China electricity generation",
    "us": "US electricity generation",
    "fda": "FDA approvals",
}
RATIO = {"ratio": [{"indicator": "cn"}, {"indicator": "us"}]}


@pytest.mark.parametrize(
    ("spec", "sentence"),
    [
        (
            {"key": "k", "type": "threshold", "series": RATIO, "period": "2030", "threshold": 3.0},
            "ratio of China electricity generation to US electricity generation in 2030 ≥ 3",
        ),
        (
            {
                "key": "k",
                "type": "threshold",
                "series": {"indicator": "fda"},
                "mode": "any_time_within",
                "window": {"start": "2026", "end": "2030"},
                "comparator": "<",
                "threshold": 2.1,
            },
            "FDA approvals < 2.1 at any time from 2026 to 2030",
        ),
        (
            {
                "key": "k",
                "type": "growth",
                "series": {"indicator": "fda"},
                "measure": "cagr",
                "window": {"start": "2025", "end": "2030"},
                "threshold": 0.05,
            },
            "annual growth rate of FDA approvals from 2025 to 2030 ≥ 5 %/yr",
        ),
        (
            {"key": "k", "type": "growth", "series": {"indicator": "fda"}, "threshold": 10},
            "growth of FDA approvals each year over the year before, as a yearly factor, "
            "≥ 10x per year",
        ),
        (
            {
                "key": "k",
                "type": "aggregate",
                "series": {"indicator": "fda"},
                "window": {"start": "2026", "end": "2035"},
                "threshold": {
                    "baseline": {"start": "2014", "end": "2023"},
                    "factor": 1.5,
                },
            },
            "mean of FDA approvals over 2026–2035 ≥ 1.5× the mean of the same series "
            "over 2014–2023",
        ),
        (
            {"key": "k", "type": "judged", "rubric": "Is AGI broadly acknowledged?"},
            "A reviewer decides: Is AGI broadly acknowledged?",
        ),
        (
            {
                "key": "k",
                "type": "signal",
                "role": "context",
                "series": {"difference": [{"indicator": "cn"}, {"indicator": "us"}]},
            },
            "Context signal: difference between China electricity generation and US electricity "
            "generation (shown beside the claim, never used to resolve it)",
        ),
    ],
)
def test_each_criterion_type_reads_as_a_sentence(spec, sentence):
    assert describe_criterion(spec, TITLES) == sentence


def test_an_unreadable_spec_falls_back_to_its_description():
    assert describe_criterion({"type": "mystery", "description": "as written"}, {}) == "as written"


def test_number_formatting():
    assert format_number(10583.0, "TWh") == "10,583 TWh"
    assert format_number(2.3414, "1") == "2.341"
    assert format_number(5e26, "FLOP") == "5e+26 FLOP"
    assert format_number(None) == "—"
    assert format_number(0.06, "probability") == "6 % probability"


def test_chart_points_show_revised_vintages_as_they_stood(engine):
    with Session(engine) as session:
        cn = make_indicator(session, "cn", title="China", unit="TWh")
        us = make_indicator(session, "us", title="US", unit="TWh")
        run = make_fetch_run(session, cn)
        t0, t1 = NOW - dt.timedelta(days=100), NOW - dt.timedelta(days=10)
        make_observation(session, cn, "2024", 10000.0, known_from=t0, run=run)
        # the US 2024 value was revised: 4000 (known t0..t1) → 4400 (known from t1)
        make_observation(session, us, "2024", 4000.0, known_from=t0, known_until=t1, run=run)
        make_observation(session, us, "2024", 4400.0, known_from=t1, run=run)
        evaluation = Evaluation(
            claim_id=0,
            claim_version=1,
            evaluated_at=NOW,
            as_of=NOW,
            state="open",
            reason="r",
            threshold=3.0,
            comparator=">=",
            projection_value=2.9,
            projection_low=2.6,
            projection_high=3.2,
            projection_at="2030",
            projection_model="log_linear",
            fingerprint="x",
            evaluator_version="t",
        )
        criterion = parse_criterion(
            {"key": "r", "type": "threshold", "series": RATIO, "period": "2030", "threshold": 3.0}
        )
        charts = build_claim_charts(
            session,
            [("r", criterion)],
            {"cn": cn, "us": us},
            deadline=dt.date(2030, 12, 31),
            evaluation=evaluation,
        )
    [chart] = charts
    assert [(p.period, round(p.y, 4)) for p in chart.current_points] == [("2024", 2.2727)]
    assert sorted(round(p.y, 4) for p in chart.superseded_points) == [2.5]
    config = chart.config()
    labels = [d["label"] for d in config["data"]["datasets"]]
    assert "earlier vintages (revised since)" in labels
    assert "threshold ≥ 3" in labels
    assert "deadline 2030-12-31" in labels
    band = next(d for d in config["data"]["datasets"] if d["label"] == "projection range")
    assert band["data"][-1] == {"x": 2030.0, "y": 3.2} and band["fill"] == "-1"
    assert config["options"]["scales"]["y"]["title"]["text"] == "ratio"
    assert "projected 2.9 for 2030 (range 2.6 to 3.2)" in chart.aria_label()
    assert decimal_year(dt.date(2030, 12, 31)) == pytest.approx(2030.997, abs=1e-3)
