"""Plain-words criteria and chart data: each criterion type as a sentence; chart points with
superseded vintages computed as they stood; the Chart.js configuration carries the threshold,
projection band and deadline, a log axis for data over many orders of magnitude; the claim
page's status panel names the next data release and a window's projected mean; first
evaluations are not listed as status changes."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_seed import NOW, make_fetch_run, make_indicator, make_observation, seed_essay
from fastapi.testclient import TestClient
from sqlmodel import Session

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import sync_claims_dir
from tracker.models import Evaluation
from tracker.numbers import format_rate
from tracker.web.app import create_app
from tracker.web.charts import ChartPoint, ClaimChart, build_claim_charts, decimal_year
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
            "ratio of China electricity generation to US electricity generation in 2030 ≥ 3.0",
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
            "annual growth rate of FDA approvals from 2025 to 2030 ≥ 5.0 %/yr",
        ),
        (
            {"key": "k", "type": "growth", "series": {"indicator": "fda"}, "threshold": 10},
            "FDA approvals grows at least 10.0x a year (judged on the rate sustained over the "
            "last 5 years; the latest year over the one before is shown too)",
        ),
        (
            {
                "key": "k",
                "type": "growth",
                "series": {"indicator": "fda"},
                "measure": "cagr",
                "comparator": "<",
                "threshold": 0.05,
            },
            "FDA approvals grows less than 5.0 %/yr (judged on the rate sustained over the "
            "last 5 years; the latest year over the one before is shown too)",
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
    assert format_number(2.3414, "1") == "2.34"  # as the reasons print it
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
    assert "threshold ≥ 3.0" in labels
    assert "deadline 2030-12-31" in labels
    band = next(d for d in config["data"]["datasets"] if d["label"] == "projection range")
    assert band["data"][-1] == {"x": 2030.0, "y": 3.2} and band["fill"] == "-1"
    assert config["options"]["scales"]["y"]["title"]["text"] == "ratio"
    assert "projected 2.9 for 2030 (range 2.6 to 3.2)" in chart.aria_label()
    assert decimal_year(dt.date(2030, 12, 31)) == pytest.approx(2030.997, abs=1e-3)


def test_the_projection_is_drawn_from_the_point_it_was_projected_from(engine):
    """The dashed line starts where the evaluator's projection starts (stored in the details),
    even when the chart has a later point; without it (older evaluations), at the latest point."""
    with Session(engine) as session:
        cn = make_indicator(session, "cn", title="China", unit="TWh")
        run = make_fetch_run(session, cn)
        for year, value in (("2023", 9.0), ("2024", 10.0)):
            make_observation(session, cn, year, value, known_from=NOW, run=run)

        def chart_for(details: dict[str, Any]) -> ClaimChart:
            evaluation = Evaluation(
                claim_id=0,
                claim_version=1,
                evaluated_at=NOW,
                as_of=NOW,
                state="open",
                reason="r",
                threshold=12.0,
                comparator=">=",
                projection_value=11.0,
                projection_low=10.0,
                projection_high=12.5,
                projection_at="2030",
                projection_model="log-linear, from the latest point",
                details=details,
                fingerprint="x",
                evaluator_version="t",
            )
            criterion = parse_criterion(
                {
                    "key": "c",
                    "type": "threshold",
                    "series": {"indicator": "cn"},
                    "period": "2030",
                    "threshold": 12.0,
                }
            )
            [chart] = build_claim_charts(
                session,
                [("c", criterion)],
                {"cn": cn},
                deadline=dt.date(2030, 12, 31),
                evaluation=evaluation,
            )
            return chart

        anchored = chart_for({"projection_from_period": "2023", "projection_from_value": 9.0})
        legacy = chart_for({})

    def line(chart: ClaimChart) -> list[dict[str, float]]:
        datasets = chart.config()["data"]["datasets"]
        return next(d for d in datasets if d["label"].startswith("projection ("))["data"]

    assert line(anchored) == [{"x": 2023.0, "y": 9.0}, {"x": 2030.0, "y": 11.0}]
    assert "projected 11.0 for 2030 (range 10.0 to 12.5) starting from 9.0 in 2023" in (
        anchored.aria_label()
    )
    assert line(legacy) == [{"x": 2024.0, "y": 10.0}, {"x": 2030.0, "y": 11.0}]
    assert "starting from" not in legacy.aria_label()


# --- the claim pages of a fresh install (real claim files, bundled real data, real evaluator) ---

REPO_CLAIMS = Path(__file__).resolve().parents[1] / "claims"
INSTALL_NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
CHART_JSON = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.S)


@pytest.fixture
def fresh_install(settings, engine) -> Iterator[TestClient]:
    """The shipped claims and bundled snapshot, evaluated once at 2026-11-28 09:00 UTC."""
    with Session(engine) as session:
        sync_claims_dir(session, REPO_CLAIMS, now=INSTALL_NOW - dt.timedelta(days=1))
        session.commit()
    load_bundled(engine, now=INSTALL_NOW - dt.timedelta(hours=1))
    with Session(engine) as session:
        status.evaluate_claims(session, now=INSTALL_NOW)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: INSTALL_NOW
    with TestClient(app) as client:
        yield client


def chart_configs(html: str) -> dict[str, dict[str, Any]]:
    return {m.group(1): json.loads(m.group(2)) for m in CHART_JSON.finditer(html)}


def section(html: str, start_id: str, end_id: str) -> str:
    return html[html.index(f'id="{start_id}"') : html.index(f'id="{end_id}"')]


def make_chart(ys: list[float], **extra: Any) -> ClaimChart:
    points = [
        ChartPoint(str(1950 + i), 1950.0 + i, y, True, NOW, None, ()) for i, y in enumerate(ys)
    ]
    return ClaimChart(key="k", title="t", unit="FLOP", points=points, **extra)


def test_log_axis_only_when_positive_values_span_over_three_orders():
    assert make_chart([1.0, 999.0]).config()["options"]["scales"]["y"]["type"] == "linear"
    wide = make_chart([1e15, 5e26])
    assert wide.log_scale and wide.config()["options"]["scales"]["y"]["type"] == "logarithmic"
    assert "(log scale)" in wide.aria_label()
    assert make_chart([-1.0, 1e6]).config()["options"]["scales"]["y"]["type"] == "linear"
    # a threshold far below the data counts too: both are plotted
    assert make_chart([10.0, 20.0], threshold=0.001).log_scale


def test_points_before_the_chart_start_stay_in_the_table_only():
    chart = make_chart([1.0, 2.0, 3.0], x_start=1951.0)
    config = chart.config()
    assert [d["x"] for d in config["data"]["datasets"][0]["data"]] == [1951.0, 1952.0]
    assert config["options"]["scales"]["x"]["min"] == 1951
    assert "drawn from 1951, earlier values in the table only" in chart.aria_label()
    assert len(chart.points) == 3


def test_flop_charts_are_drawn_on_a_log_axis_from_2000(fresh_install):
    html = fresh_install.get("/claims/ai-compute-demand-10x-per-year").text
    [config] = chart_configs(html).values()
    y, x = config["options"]["scales"]["y"], config["options"]["scales"]["x"]
    assert y["type"] == "logarithmic" and y["title"]["text"] == "FLOP (log scale)"
    # the required path (10x a year from the base of the sustained rate) runs a year past 2024
    assert x["min"] == 2000 and x["max"] == 2026
    [required] = [d for d in config["data"]["datasets"] if d["label"].startswith("required path")]
    assert required["label"] == "required path (≥ 10.0x a year)"
    assert min(p["x"] for p in config["data"]["datasets"][0]["data"]) >= 2000
    caption = re.search(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert caption and "(log scale)" in caption.group(1)
    assert "drawn from 2000, earlier values in the table only" in caption.group(1)
    assert "<td>1950</td>" in html  # the older points are still in the data table
    # the window claim's ratio spans 0.0005–1,049 (projection band): log too, up to its target
    html = fresh_install.get("/claims/china-ai-compute-exceeds-world").text
    config = chart_configs(html)["chart-data-1"]
    assert config["options"]["scales"]["y"]["type"] == "logarithmic"
    assert config["options"]["scales"]["x"]["max"] == 2035
    # a ratio near 2–3 stays linear
    html = fresh_install.get("/claims/china-power-3x-us-2030").text
    assert chart_configs(html)["chart-data-1"]["options"]["scales"]["y"]["type"] == "linear"


def test_side_panel_chart_legend_labels_are_short(fresh_install):
    html = fresh_install.get("/claims/agi-2026").text
    config = next(c for k, c in chart_configs(html).items() if k.startswith("signal-data"))
    assert config["options"]["scales"]["y"]["type"] == "logarithmic"
    labels = [d["label"] for d in config["data"]["datasets"]]
    assert labels == ["current values", "deadline 2026-12-31"]
    assert config["options"]["plugins"]["legend"]["position"] == "bottom"


def test_claim_page_shows_the_next_and_the_deciding_data_release(fresh_install):
    html = fresh_install.get("/claims/china-power-3x-us-2030").text
    panel = section(html, "status-h", "replay-h")
    assert "Next data: 2026, expected 2027-06-29; deciding data: 2030, expected 2031-06-29" in panel
    # the overview's next deadlines carry the next release too
    overview = fresh_install.get("/").text
    entry = re.search(
        r'<li><span class="countdown"[^>]*>.*?china-power-3x-us-2030.*?</li>', overview, re.S
    )
    assert entry and "next data 2026, expected 2027-06-29" in entry.group(0)


def test_aggregate_projection_reads_as_the_window_mean(fresh_install):
    html = fresh_install.get("/claims/medical-boom-2026-2035").text
    panel = section(html, "status-h", "replay-h")
    assert "Projected mean 2026–2035" in panel and "Projection for 2035" not in panel
    config = chart_configs(html)["chart-data-1"]
    line = next(d for d in config["data"]["datasets"] if d["label"] == "projected mean 2026–2035")
    (start, end) = line["data"]
    assert (start["x"], end["x"]) == (2026.0, 2035.0) and start["y"] == end["y"]
    assert "projected mean 41.8" in html and "over 2026–2035" in html


def test_first_evaluations_are_not_listed_as_status_changes(fresh_install):
    changes = section(fresh_install.get("/").text, "changes-h", "health-h")
    assert "→" not in changes
    assert "No status has changed since the claims were first evaluated." in changes
    assert "First evaluated recently: 14 claims" in changes  # every shipped claim
    assert changes.count("first evaluated as") == 14


def test_a_real_change_is_listed_with_the_state_before_it(settings, engine):
    with Session(engine) as session:
        seed_essay(session)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        changes = section(client.get("/").text, "changes-h", "health-h")
        claim = client.get("/claims/china-power-3x-us-2030").text
    [changed] = re.findall(r"<li>(?:(?!</li>).)*→(?:(?!</li>).)*</li>", changes, re.S)
    assert "/claims/china-power-3x-us-2030" in changed and "open (on track) →" in changed
    assert "off track" in changed
    assert "first evaluated as" in changes  # the other claims, evaluated once
    timeline = section(claim, "timeline-h", "res-h")
    assert timeline.count("first evaluated:") == 1
    assert timeline.rindex("first evaluated:") > timeline.index("projected 2.9")


def test_the_china_projection_line_grows_at_the_rate_the_page_states(fresh_install):
    """The audit's flagship case: the page said "Growth needed 5.081 %/yr (observed 5.069 %/yr)",
    "on track", and drew a line from 2.34 in 2025 to 3.10 in 2030 (5.8 %/yr, neither rate)."""
    slug = "china-power-3x-us-2030"
    html = fresh_install.get(f"/claims/{slug}").text
    status_json = fresh_install.get(f"/api/v1/claims/{slug}").json()["status"]
    panel = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(html, "status-h", "replay-h")))
    observed, required = status_json["observed_growth"], status_json["required_growth"]
    assert observed >= required  # on track, and the figures say so
    assert "on track (uncertain)" in panel
    assert (
        f"Growth needed {format_rate(required, observed)} "
        f"(observed trend {format_rate(observed, required)})"
    ) in panel
    # as the reason says them (one formatter): signed, digits enough to tell them apart
    assert "Growth needed +5.08 %/yr (observed trend +5.10 %/yr)" in panel
    assert "3.002 (range 2.78–3.24; log-linear, from the latest point)" in panel
    config = chart_configs(html)["chart-data-1"]
    line = next(d for d in config["data"]["datasets"] if d["label"].startswith("projection ("))
    start, end = line["data"]
    latest = 10583.36 / 4519.79
    assert start == {"x": 2025.0, "y": pytest.approx(latest, rel=1e-12)}
    assert end["x"] == 2030.0 and end["y"] == pytest.approx(status_json["projection"]["value"])
    implied = (end["y"] / start["y"]) ** (1 / 5) - 1
    assert implied == pytest.approx(observed, rel=1e-9)
