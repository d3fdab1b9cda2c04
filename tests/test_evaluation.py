"""The pure evaluator: every state transition, table-driven with a fixed clock."""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from tracker.criteria import Criterion
from tracker.evaluation import (
    ClaimFacts,
    EvaluationResult,
    ResolutionFacts,
    SeriesData,
    SeriesPoint,
    evaluate,
    fit_trend,
    format_number,
    format_rate,
)
from tracker.sources.base import period_start

FIXTURES = Path(__file__).parent / "fixtures"

UTC = dt.UTC
CRITERION = TypeAdapter(Criterion)


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tzinfo=UTC)


def series(
    key: str,
    values: Mapping[str, float],
    *,
    unit: str = "TWh",
    known: str = "2026-03-01",
    lag: int = 180,
    revision: int = 365,
    frequency: str = "annual",
    start_id: int = 1,
) -> SeriesData:
    points = tuple(
        SeriesPoint(p, period_start(p), v, start_id + i, 7, at(known))
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData(key, unit, frequency, lag, revision, points)


def crit(**spec: Any) -> Any:
    return CRITERION.validate_python(spec)


def _fixture_generation() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"CHN": {}, "USA": {}}
    path = FIXTURES / "evaluation" / "owid_electricity_generation_chn_usa_2000_2025.csv"
    with path.open() as handle:
        for row in csv.DictReader(handle):
            out[row["iso_code"]][row["year"]] = float(row["electricity_generation_twh"])
    return out


def _fda() -> dict[str, float]:
    path = FIXTURES / "evaluation" / "fda_cder_novel_approvals_2000_2023.csv"
    with path.open() as handle:
        return {
            r["year"]: float(r["cder_nda"]) + float(r["cder_bla"]) for r in csv.DictReader(handle)
        }


GEN = _fixture_generation()

# --- agi-2026: judged, with a context signal ---

AGI_CRITERIA = [
    crit(
        key="agi-judged",
        type="judged",
        rubric="Is there broad agreement that AGI (per the rubric) arrived during 2026?",
    ),
    crit(
        key="market",
        type="signal",
        series={"indicator": "manifold.agi-2026"},
        note="market probability",
    ),
]
AGI_SERIES = {
    "manifold.agi-2026": series(
        "manifold.agi-2026", {"2026-11-30": 0.12}, unit="1", frequency="daily"
    )
}


def agi(resolution: ResolutionFacts | None = None, lifecycle: str = "active") -> ClaimFacts:
    return ClaimFacts(
        "agi-2026",
        kind="judged",
        deadline=dt.date(2026, 12, 31),
        window_start=dt.date(2026, 1, 1),
        window_end=dt.date(2026, 12, 31),
        lifecycle=lifecycle,
        resolution=resolution,
    )


def manual(outcome: str, when: str = "2027-01-05") -> ResolutionFacts:
    return ResolutionFacts(outcome, "manual", False, at(when), decided_by="reviewer")


@pytest.mark.parametrize(
    ("now", "facts", "state", "trend"),
    [
        ("2026-06-01", agi(), "open", "not_applicable"),
        ("2026-12-31", agi(), "open", "not_applicable"),
        ("2027-01-01", agi(), "needs_review", "not_applicable"),
        ("2027-01-06", agi(manual("false")), "resolved_false", None),
        ("2027-02-01", agi(manual("true", "2027-02-01")), "resolved_true", None),
        ("2027-02-01", agi(manual("void")), "void", None),
        ("2027-02-01", agi(manual("ambiguous")), "ambiguous", None),
        ("2026-06-01", agi(lifecycle="withdrawn"), "withdrawn", None),
    ],
)
def test_agi_2026_transitions(now: str, facts: ClaimFacts, state: str, trend: str | None) -> None:
    result = evaluate(facts, AGI_CRITERIA, AGI_SERIES, now=at(now))
    assert result.state == state
    assert (result.trend.value if result.trend else None) == trend
    signal = next(r for r in result.criteria if r.key == "market")
    assert signal.context and signal.metric is not None and signal.metric.value == 0.12
    if state in ("open", "needs_review"):
        assert "market probability: 0.12 in 2026-11-30" in result.reason


def test_judged_claim_before_its_window_is_upcoming() -> None:
    facts = ClaimFacts(
        "later", kind="judged", deadline=dt.date(2028, 12, 31), window_start=dt.date(2028, 1, 1)
    )
    assert evaluate(facts, AGI_CRITERIA, AGI_SERIES, now=at("2026-06-01")).state == "upcoming"


# --- china-power-3x-us-2030 ---

CHINA = [
    crit(
        key="ratio-2030",
        type="threshold",
        series={"ratio": [{"indicator": "chn"}, {"indicator": "usa"}]},
        threshold=3.0,
        unit="1",
        period="2030",
    )
]


def china_series(
    extra_chn: Mapping[str, float] = {},
    extra_usa: Mapping[str, float] = {},
    known: str = "2031-07-01",
) -> dict[str, SeriesData]:
    chn = series("chn", GEN["CHN"])
    usa = series("usa", GEN["USA"], start_id=100)
    if extra_chn:
        chn = SeriesData(
            "chn",
            "TWh",
            "annual",
            180,
            365,
            chn.points + series("chn", extra_chn, known=known, start_id=500).points,
        )
        usa = SeriesData(
            "usa",
            "TWh",
            "annual",
            180,
            365,
            usa.points + series("usa", extra_usa, known=known, start_id=600).points,
        )
    return {"chn": chn, "usa": usa}


CHINA_FACTS = ClaimFacts(
    "china-power-3x-us-2030", deadline=dt.date(2030, 12, 31), stated_on=dt.date(2026, 1, 6)
)
FUTURE_OK = (
    {str(y): 10583.36 * 1.07 ** (y - 2025) for y in range(2026, 2031)},
    {str(y): 4519.79 for y in range(2026, 2031)},
)
FUTURE_MISS = (
    {str(y): 10583.36 * 1.03 ** (y - 2025) for y in range(2026, 2031)},
    {str(y): 4519.79 for y in range(2026, 2031)},
)


@pytest.mark.parametrize(
    ("now", "data", "state", "provisional"),
    [
        ("2026-06-01", {}, "open", None),
        # nothing since 2025: the 2026 data, due 2027-06-29, is overdue past its 120 days' grace
        ("2030-12-31", {}, "needs_review", None),
        ("2031-01-01", {}, "needs_review", None),
        ("2031-09-01", {}, "needs_review", None),
        ("2031-07-02", FUTURE_OK, "resolved_true", True),
        ("2032-07-01", FUTURE_OK, "resolved_true", False),
        ("2031-07-02", FUTURE_MISS, "resolved_false", True),
    ],
)
def test_china_transitions(now: str, data: Any, state: str, provisional: bool | None) -> None:
    chn, usa = data if data else ({}, {})
    result = evaluate(CHINA_FACTS, CHINA, china_series(chn, usa), now=at(now))
    assert result.state == state
    assert result.provisional is provisional
    if state == "open":
        assert result.trend is not None and result.trend.value in ("on_track", "off_track")
        assert result.trend.value == (
            "on_track" if result.projection and result.projection.value >= 3.0 else "off_track"
        )
        assert result.reason.startswith(
            "2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030; trend +5.10 %/yr, projected "
        )
    if state == "needs_review":
        overdue = (result.review_reason, result.overdue_since)
        assert overdue == ("data_overdue", dt.date(2027, 6, 29))
        assert result.reason.startswith("data overdue since 2027-06-29: data for 2026 (the series'")
        assert result.data_expected_on == dt.date(2031, 6, 29)
    if state.startswith("resolved"):
        assert result.metric is not None and result.metric.period == "2030"
        assert result.final_after == dt.date(2032, 6, 30)
        assert result.outcome is not None and result.outcome.value == state.removeprefix(
            "resolved_"
        )


def test_before_its_window_a_hard_claim_is_open_with_data_and_upcoming_without() -> None:
    facts = ClaimFacts("c", deadline=dt.date(2030, 12, 31), window_start=dt.date(2030, 1, 1))
    result = evaluate(facts, CHINA, china_series(), now=at("2026-06-01"))
    assert result.state == "open"  # "3x by 2030" is tracked from now, by its projection
    assert result.trend is not None and result.trend.value in ("on_track", "off_track")
    empty = {"chn": series("chn", {}), "usa": series("usa", {})}
    nothing = evaluate(facts, CHINA, empty, now=at("2026-06-01"))
    assert nothing.state == "upcoming"
    assert nothing.trend is not None and nothing.trend.value == "insufficient_data"
    assert evaluate(facts, CHINA, empty, now=at("2030-01-01")).state == "open"


def test_a_revision_flips_a_provisional_outcome_but_not_a_final_one() -> None:
    ok_chn, usa = FUTURE_OK
    revised = {**ok_chn, "2030": 3.0 * 4519.79 - 100}
    provisional_true = ResolutionFacts(
        "true", "auto", True, at("2031-07-02"), final_after=dt.date(2032, 6, 30)
    )
    facts = ClaimFacts(CHINA_FACTS.slug, deadline=CHINA_FACTS.deadline, resolution=provisional_true)
    flipped = evaluate(
        facts, CHINA, china_series(revised, usa, known="2031-10-01"), now=at("2031-10-02")
    )
    assert (
        flipped.state == "resolved_false"
        and flipped.outcome is not None
        and flipped.outcome.value == "false"
    )
    assert flipped.provisional is True
    final_true = ResolutionFacts(
        "true", "auto", False, at("2032-07-01"), final_after=dt.date(2032, 6, 30)
    )
    facts = ClaimFacts(CHINA_FACTS.slug, deadline=CHINA_FACTS.deadline, resolution=final_true)
    flagged = evaluate(
        facts, CHINA, china_series(revised, usa, known="2033-01-10"), now=at("2033-01-11")
    )
    assert flagged.state == "needs_review"
    assert "final resolution was true" in flagged.reason


def test_manual_resolution_wins_but_metrics_are_still_reported() -> None:
    facts = ClaimFacts(
        CHINA_FACTS.slug, deadline=CHINA_FACTS.deadline, resolution=manual("void", "2026-05-01")
    )
    result = evaluate(facts, CHINA, china_series(), now=at("2026-06-01"))
    assert result.state == "void"
    assert result.metric is not None and round(result.metric.value, 2) == 2.34
    assert result.projection is not None


# --- medical-boom-2026-2035: mean over a partly elapsed window vs a relative threshold ---

MEDICAL = [
    crit(
        key="fda-mean",
        type="aggregate",
        series={"indicator": "fda.novel"},
        function="mean",
        window={"start": "2026", "end": "2035"},
        threshold={"baseline": {"function": "mean", "start": "2014", "end": "2023"}, "factor": 1.5},
    )
]
MEDICAL_FACTS = ClaimFacts(
    "medical-boom-2026-2035", deadline=dt.date(2035, 12, 31), window_start=dt.date(2026, 1, 1)
)


def test_medical_boom_partly_elapsed_window() -> None:
    values = {**_fda(), "2024": 50.0, "2025": 56.0, "2026": 60.0, "2027": 64.0}
    data = {"fda.novel": series("fda.novel", values, unit="approvals", known="2028-01-15", lag=30)}
    result = evaluate(MEDICAL_FACTS, MEDICAL, data, now=at("2028-06-01"))
    baseline = sum(_fda()[str(y)] for y in range(2014, 2024)) / 10
    assert baseline == pytest.approx(45.6)
    assert result.threshold == pytest.approx(68.4)
    assert result.state == "open"
    assert result.metric is not None and result.metric.value == pytest.approx(62.0)
    details = result.criteria[0].details
    assert details["periods_observed"] == 2 and details["periods_total"] == 10
    assert details["remaining_must_average"] == pytest.approx((68.4 * 10 - 124.0) / 8)
    assert "mean 62.0 over 2 of 10 periods of 2026..2035" in result.reason
    assert "the remaining 8 must average 70.0" in result.reason
    # projection: observed years plus the linear trend for the eight missing ones
    fit = fit_trend(
        [float(y) for y in range(2018, 2028)], [values[str(y)] for y in range(2018, 2028)], "linear"
    )
    assert fit is not None
    expected = (124.0 + sum(fit.predict(float(y))[0] for y in range(2028, 2036))) / 10
    assert result.projection is not None and result.projection.model == "linear"
    assert result.projection.value == pytest.approx(expected)
    assert result.trend is not None and result.trend.value == (
        "on_track" if expected >= 68.4 else "off_track"
    )

    complete = {**values, **{str(y): 70.0 for y in range(2028, 2036)}}
    data = {
        "fda.novel": series("fda.novel", complete, unit="approvals", known="2036-01-20", lag=30)
    }
    done = evaluate(MEDICAL_FACTS, MEDICAL, data, now=at("2036-02-01"))
    assert done.state == "resolved_true"
    assert done.metric is not None and done.metric.value == pytest.approx((124.0 + 8 * 70.0) / 10)
    missing_last = {k: v for k, v in complete.items() if k != "2035"}
    data = {
        "fda.novel": series("fda.novel", missing_last, unit="approvals", known="2036-01-20", lag=30)
    }
    assert evaluate(MEDICAL_FACTS, MEDICAL, data, now=at("2036-02-01")).state == "awaiting_data"


def test_baseline_without_data_is_insufficient() -> None:
    data = {"fda.novel": series("fda.novel", {"2026": 60.0}, unit="approvals")}
    result = evaluate(MEDICAL_FACTS, MEDICAL, data, now=at("2027-06-01"))
    assert result.state == "open" and result.trend is not None
    assert result.trend.value == "insufficient_data"
    assert "baseline 2014..2023" in result.reason


# --- any time within: early resolution ---

TFR = [
    crit(
        key="tfr-below",
        type="threshold",
        series={"indicator": "tfr"},
        comparator="<",
        threshold=2.1,
        mode="any_time_within",
        window={"start": "2024", "end": "2030"},
    )
]
TFR_FACTS = ClaimFacts("population-collapse", deadline=dt.date(2030, 12, 31))


@pytest.mark.parametrize(
    ("now", "values", "state"),
    [
        ("2026-06-01", {"2021": 2.3, "2022": 2.27, "2023": 2.251, "2024": 2.2}, "open"),
        ("2027-08-01", {"2023": 2.251, "2024": 2.2, "2025": 2.15, "2026": 2.09}, "resolved_true"),
        ("2031-01-05", {**{str(y): 2.2 for y in range(2020, 2030)}}, "awaiting_data"),
        ("2031-09-01", {**{str(y): 2.2 for y in range(2020, 2031)}}, "resolved_false"),
    ],
)
def test_any_time_within(now: str, values: dict[str, float], state: str) -> None:
    data = {"tfr": series("tfr", values, unit="1", known=now[:8] + "01")}
    result = evaluate(TFR_FACTS, TFR, data, now=at(now))
    assert result.state == state
    if state == "resolved_true":  # before the deadline
        assert at(now).date() < TFR_FACTS.deadline  # type: ignore[operator]
        assert result.metric is not None and result.metric.period == "2026"
        assert result.margin == pytest.approx(2.1 - 2.09)


# --- growth ---


def test_growth_over_a_window_and_year_over_year() -> None:
    compute = {"2022": 1e24, "2023": 4e24, "2024": 2e25, "2025": 9e25}
    data = {"flop": series("flop", compute, unit="FLOP")}
    windowed = [
        crit(
            key="g",
            type="growth",
            series={"indicator": "flop"},
            measure="annual_factor",
            threshold=10,
            window={"start": "2023", "end": "2025"},
        )
    ]
    facts = ClaimFacts("ai-compute", deadline=dt.date(2025, 12, 31))
    result = evaluate(facts, windowed, data, now=at("2026-08-01"))
    factor = (9e25 / 4e24) ** 0.5
    assert result.metric is not None and result.metric.value == pytest.approx(factor)
    assert result.state == "resolved_false"  # 4.7x/yr < 10x/yr

    yoy = [
        crit(
            key="g",
            type="growth",
            series={"indicator": "flop"},
            measure="annual_factor",
            threshold=4,
        )
    ]
    open_ended = ClaimFacts("ai-compute-open")
    result = evaluate(open_ended, yoy, data, now=at("2026-08-01"))
    assert result.state == "open"
    # the headline is the sustained rate over 2022..2025; the single year 2025 (4.5x) is kept in
    # the details (this assertion used to pin the single year as the headline metric)
    assert (
        result.metric is not None
        and result.metric.value == pytest.approx((9e25 / 1e24) ** (1 / 3))
        and result.metric.period == "2022..2025"
    )
    assert result.criteria[0].details["latest_year_value"] == pytest.approx(4.5)
    assert result.trend is not None and result.trend.value == "on_track"


# --- multiple criteria, expressions, errors, sparse data ---


def test_several_resolving_criteria_give_partial() -> None:
    data = {
        "a": series("a", {"2029": 5.0, "2030": 8.0}),
        "b": series("b", {"2029": 1.0, "2030": 2.0}),
    }
    criteria = [
        crit(key="a-high", type="threshold", series={"indicator": "a"}, threshold=7, period="2030"),
        crit(
            key="diff",
            type="threshold",
            series={"difference": [{"indicator": "a"}, {"indicator": "b"}]},
            threshold=7,
            period="2030",
        ),
        crit(
            key="sum",
            type="threshold",
            series={"sum": [{"indicator": "a"}, {"indicator": "b"}]},
            threshold=9,
            period="2030",
        ),
    ]
    facts = ClaimFacts("multi", deadline=dt.date(2030, 12, 31))
    result = evaluate(facts, criteria, data, now=at("2031-08-01"))
    assert [r.met for r in result.criteria] == [True, False, True]
    assert result.state == "resolved_partial" and "2 of 3 criteria met" in result.reason
    only_first = evaluate(facts, criteria[:1], data, now=at("2031-08-01"))
    assert only_first.state == "resolved_true"
    none = evaluate(facts, criteria[1:2], data, now=at("2031-08-01"))
    assert none.state == "resolved_false"


def test_two_points_are_insufficient_data() -> None:
    data = {"a": series("a", {"2024": 5.0, "2025": 6.0})}
    criteria = [
        crit(key="k", type="threshold", series={"indicator": "a"}, threshold=7, period="2030")
    ]
    result = evaluate(
        ClaimFacts("sparse", deadline=dt.date(2030, 12, 31)), criteria, data, now=at("2026-06-01")
    )
    assert result.state == "open"
    assert result.trend is not None and result.trend.value == "insufficient_data"
    assert result.projection is None


def test_unknown_indicator_is_an_error_state() -> None:
    criteria = [
        crit(key="k", type="threshold", series={"indicator": "nowhere"}, threshold=7, period="2030")
    ]
    result = evaluate(
        ClaimFacts("broken", deadline=dt.date(2030, 12, 31)), criteria, {}, now=at("2026-06-01")
    )
    assert result.state == "error" and "nowhere" in result.reason


def test_evidence_names_observations_and_fetch_runs() -> None:
    result = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2026-06-01"))
    assert result.evidence.fetch_run_ids == (7,)
    # the ten fitted years of each country: ids 17..26 (CHN 2016–2025) and 116..125 (USA)
    assert result.evidence.observation_ids == tuple(range(17, 27)) + tuple(range(116, 126))


def test_fingerprint_ignores_only_the_evaluation_time() -> None:
    a = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2026-06-01"))
    b = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2026-06-02"))
    assert a.evaluated_at != b.evaluated_at and a.fingerprint() == b.fingerprint()
    c = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2031-01-01"))
    assert c.fingerprint() != a.fingerprint()
    replayed = evaluate(
        CHINA_FACTS, CHINA, china_series(), now=at("2026-06-02"), as_of=at("2026-06-01")
    )
    assert replayed.replay and replayed.as_of == at("2026-06-01")
    assert replayed.fingerprint() != a.fingerprint()


def test_result_serialises_to_json_ready_data() -> None:
    result: EvaluationResult = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2026-06-01"))
    data = result.to_dict()
    assert data["state"] == "open" and data["metric"]["period"] == "2025"
    assert data["projection"]["model"] == "log-linear, from the latest point"
    assert data["projection"]["at"] == "2030"
    assert data["projection"]["from_period"] == "2025"
    assert data["projection"]["from_value"] == data["metric"]["value"]
    assert data["criteria"][0]["key"] == "ratio-2030"
    assert data["as_of"] is None and data["replay"] is False


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.3415, "2.34"),
        (3.0, "3.0"),
        (10583.36, "10,583"),
        (45.6, "45.6"),
        (5e26, "5e+26"),
        (0.0508, "0.0508"),
        # large values read as words, four significant figures (were "1.41e+09", "1.35e+09")
        (1_408_975_000.0, "1.409 billion"),
        (1.35e9, "1.35 billion"),
        (-3.2e9, "-3.2 billion"),
        (25_000_000.0, "25.0 million"),  # at least one decimal: "124.0 million"
        (1.8e12, "1.8 trillion"),
        (999_999_999.0, "1.0 billion"),
        (9.9999e14, "1e+15"),
        (0.0, "0"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text
    assert math.isfinite(value)


@pytest.mark.parametrize(
    ("value", "beside", "text"),
    [
        # a projection beside its threshold never prints as the threshold when it differs
        (2.99795, 3.0, "2.998"),  # was "3.0": "projected 3.0 ... off track"
        (3.00224, 3.0, "3.002"),
        (3.0, 3.0, "3.0"),
        (2.5, 3.0, "2.5"),
        (4673.2, 4600.0, "4,673"),
        (4600.4, 4600.0, "4,600.4"),
        (1.3499e9, 1.35e9, "1.3499 billion"),
    ],
)
def test_format_number_beside_another(value: float, beside: float, text: str) -> None:
    assert format_number(value, beside) == text


@pytest.mark.parametrize(
    ("rate", "beside", "text"),
    [
        (0.0508, None, "+5.1 %/yr"),
        (0.521, None, "+52.1 %/yr"),
        (-0.0103, None, "-1.0 %/yr"),
        # a non-zero rate never prints as zero (was "-0.0 %/yr")
        (-0.0004, None, "-0.04 %/yr"),
        (-0.000456, None, "-0.05 %/yr"),
        (0.00004, None, "+0.004 %/yr"),
        (0.0, None, "0.0 %/yr"),
        # beside the rate it is compared with: the same decimals, enough to tell them apart
        (0.0508076, 0.0509646, "+5.08 %/yr"),
        (0.0509646, 0.0508076, "+5.10 %/yr"),
        (0.0506937, 0.0508076, "+5.07 %/yr"),
        (0.05, 0.05, "+5.0 %/yr"),
        (0.521, 0.235, "+52.1 %/yr"),
        (0.00593, -0.0004, "+0.59 %/yr"),
    ],
)
def test_format_rate(rate: float, beside: float | None, text: str) -> None:
    assert format_rate(rate, beside) == text


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        evaluate(CHINA_FACTS, CHINA, china_series(), now=dt.datetime(2026, 1, 1))


def test_a_missing_baseline_still_says_when_the_deciding_data_is_expected() -> None:
    data = {"fda.novel": series("fda.novel", {"2026": 60.0}, unit="approvals", lag=30)}
    result = evaluate(MEDICAL_FACTS, MEDICAL, data, now=at("2036-06-01"))
    assert result.state == "awaiting_data"
    assert result.data_expected_on == dt.date(2036, 1, 30)
    assert "waiting for 2035 data, expected on 2036-01-30 (overdue)" in result.reason


def test_each_measured_criterion_says_when_the_next_period_is_due() -> None:
    result = evaluate(CHINA_FACTS, CHINA, china_series(), now=at("2026-06-01"))
    details = result.criteria[0].details
    assert details["next_period"] == "2026"
    assert details["next_data_expected_on"] == "2027-06-29"  # 2026-12-31 + 180 days
    monthly = {"m": series("m", {"2026-11": 1.0, "2026-12": 2.0}, frequency="monthly", lag=45)}
    criteria = [
        crit(key="k", type="threshold", series={"indicator": "m"}, threshold=3, period="2027-06")
    ]
    result = evaluate(ClaimFacts("m"), criteria, monthly, now=at("2027-01-05"))
    assert result.criteria[0].details["next_period"] == "2027-01"
    assert result.criteria[0].details["next_data_expected_on"] == "2027-03-17"
