"""The chance of coming true: Student's t in pure Python, the evaluator's `probability`, and
where it is stored and served (Evaluation.probability, status.probability, history, exports)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select
from test_dashboard_charts import fresh_install
from test_evaluation_properties import (
    BASE,
    CRITERION,
    FACTS,
    criterion_specs,
    make_series,
    moment_st,
    values_st,
)

from tracker.chance import (
    chance_to_meet,
    regularized_incomplete_beta,
    student_t_cdf,
    student_t_cdf_series,
)
from tracker.evaluation import (
    EVALUATOR_VERSION,
    T_95,
    ClaimFacts,
    Projection,
    evaluate,
    projection_chance,
    t_95,
)
from tracker.models import Claim, Evaluation

__all__ = ["fresh_install"]  # the shipped claims and bundled data, evaluated once

# --- Student's t ---


@pytest.mark.parametrize("df", range(1, 31))
def test_the_cdf_at_the_tabled_95_quantiles_is_975(df: int) -> None:
    # the evaluator's band uses these quantiles: its CDF must give them back
    assert student_t_cdf(T_95[df - 1], df) == pytest.approx(0.975, abs=1e-9)
    assert student_t_cdf(-T_95[df - 1], df) == pytest.approx(0.025, abs=1e-9)


@pytest.mark.parametrize("t", [-40.0, -3.0, -1.0, -0.2, 0.0, 0.5, 1.0, 2.5, 100.0])
def test_closed_forms_for_one_and_two_degrees_of_freedom(t: float) -> None:
    # df 1 is Cauchy: 1/2 + atan(t)/pi; df 2: 1/2 + t / (2 sqrt(2 + t²))
    assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    assert student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 5, 8, 13, 30, 59, 60])
def test_the_finite_series_agrees_with_the_incomplete_beta(df: int) -> None:
    # whole degrees of freedom take the fast series; the general path is the incomplete beta
    for t in [x / 4 for x in range(-60, 61)] + [1e-9, 250.0, -1e4]:
        tail = 0.5 * regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t))
        by_beta = 1 - tail if t > 0 else tail
        assert student_t_cdf_series(t, df) == pytest.approx(by_beta, abs=1e-9)
    # a fractional df goes through the beta function, between its whole neighbours
    assert student_t_cdf(1.0, 2) < student_t_cdf(1.0, 2.5) < student_t_cdf(1.0, 3)


def test_many_degrees_of_freedom_approach_the_normal() -> None:
    assert student_t_cdf(1.959963984540054, 1e7) == pytest.approx(0.975, abs=1e-6)
    assert student_t_cdf(math.inf, 3) == 1.0 and student_t_cdf(-math.inf, 3) == 0.0


def test_the_incomplete_beta_function_at_known_points() -> None:
    assert regularized_incomplete_beta(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert regularized_incomplete_beta(2, 3, 0.4) == pytest.approx(0.5248)  # by hand
    with pytest.raises(ValueError):
        regularized_incomplete_beta(0, 1, 0.5)


def test_chance_to_meet_reads_the_right_tail() -> None:
    assert chance_to_meet(10.0, 1.0, 5, ">=", 10.0) == pytest.approx(0.5)
    upper = chance_to_meet(10.0, 1.0, 5, ">=", 10.0 + 2.570581836)
    assert upper == pytest.approx(0.025, abs=1e-9)
    assert chance_to_meet(10.0, 1.0, 5, "<=", 10.0 + 2.570581836) == pytest.approx(0.975)
    assert chance_to_meet(10.0, 0.0, 5, ">=", 9.0) == 1.0  # a perfect fit: the value decides
    assert chance_to_meet(10.0, 0.0, 5, "<", 9.0) == 0.0


def test_a_projection_exactly_at_its_band_edge_has_a_2_5_percent_chance() -> None:
    # linear: the band is centre ± t·se, so the threshold at `high` is 2.5 % to be reached
    p = Projection(10.0, 8.0, 12.0, "2030", "linear, from the latest point", 7, 1.0)
    assert projection_chance(p, ">=", 12.0) == pytest.approx(0.025, abs=1e-9)
    assert projection_chance(p, "<=", 8.0) == pytest.approx(0.025, abs=1e-9)
    # log-linear: the same in ln space (exp(±h) around the value)
    h = t_95(5) * 0.1
    q = Projection(3.0, 3.0 * math.exp(-h), 3.0 * math.exp(h), "2030", "log-linear", 7, 0.1)
    assert projection_chance(q, ">=", 3.0 * math.exp(h)) == pytest.approx(0.025, abs=1e-9)
    assert projection_chance(q, ">=", 3.0) == pytest.approx(0.5)
    assert projection_chance(q, ">=", -1.0) == 1.0  # a positive quantity meets any bar below 0
    wild = Projection(3.0, 0.0, math.inf, "2030", "log-linear", 7, 9.0)
    assert projection_chance(wild, ">=", 3.0) is None  # no usable band: no number


# --- the evaluator ---


def _threshold(values: dict[str, float], threshold: float, comparator: str = ">=") -> Any:
    return CRITERION.validate_python(
        {
            "key": "k",
            "type": "threshold",
            "series": {"indicator": "x"},
            "comparator": comparator,
            "threshold": threshold,
            "period": "2030",
        }
    )


def test_an_open_claim_has_the_chance_of_its_projection() -> None:
    values = [100.0, 104.0, 109.0, 112.0, 118.0, 121.0, 127.0, 131.0]
    data = {"x": make_series(values, 2025, [BASE])}
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    result = evaluate(FACTS, [_threshold({}, 180.0)], data, now=now)
    assert result.state == "open" and result.projection is not None
    p = result.projection
    # by hand: the band is value·exp(±t·se) (log-linear for TWh), so se = ln(high/value)/t
    df = p.n_points - 2
    se = math.log(p.high / p.value) / t_95(df)
    by_hand = 1 - student_t_cdf((math.log(180.0) - math.log(p.value)) / se, df)
    assert result.probability == pytest.approx(by_hand, rel=1e-9)
    assert result.criteria[0].probability == result.probability
    assert (result.probability > 0.5) == (result.trend == "on_track")
    assert result.to_dict()["probability"] == result.probability
    assert result.to_dict()["criteria"][0]["probability"] == result.probability


def test_resolved_claims_have_chance_one_or_zero() -> None:
    data = {"x": make_series([100.0, 110.0, 120.0, 130.0, 140.0, 150.0], 2030, [BASE])}
    now = dt.datetime(2031, 9, 1, tzinfo=dt.UTC)
    kept = evaluate(FACTS, [_threshold({}, 149.0)], data, now=now)
    missed = evaluate(FACTS, [_threshold({}, 151.0)], data, now=now)
    assert kept.state == "resolved_true" and kept.probability == 1.0
    assert missed.state == "resolved_false" and missed.probability == 0.0


def test_no_projection_no_chance() -> None:
    data = {"x": make_series([100.0, 110.0], 2025, [BASE])}  # too few points to fit
    result = evaluate(
        FACTS, [_threshold({}, 150.0)], data, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert result.projection is None and result.probability is None
    judged = CRITERION.validate_python(
        {"key": "j", "type": "judged", "rubric": "Is AGI broadly acknowledged?"}
    )
    facts = ClaimFacts("agi", kind="judged", deadline=dt.date(2030, 1, 1))
    assert (
        evaluate(facts, [judged], {}, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).probability
        is None
    )


def test_the_evaluator_version_is_bumped_for_the_new_field() -> None:
    assert EVALUATOR_VERSION == "1.4.0"


# --- properties ---


@settings(max_examples=150, deadline=None)
@given(
    kind_spec=criterion_specs(threshold=1.0),
    comparator=st.sampled_from([">=", ">", "<=", "<"]),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
    low=st.floats(min_value=0.5, max_value=1000),
    raise_by=st.floats(min_value=0.0, max_value=500),
)
def test_probability_is_monotone_in_the_threshold(
    kind_spec: dict[str, Any],
    comparator: str,
    values: list[float],
    last_year: int,
    now: dt.datetime,
    low: float,
    raise_by: float,
) -> None:
    """For >= the chance falls as the threshold rises; for <= it rises. Always in [0, 1]."""
    scale = 1000 if kind_spec["type"] == "growth" else 1
    spec = {**kind_spec, "comparator": comparator}
    lower = CRITERION.validate_python({**spec, "threshold": low / scale})
    higher = CRITERION.validate_python({**spec, "threshold": (low + raise_by) / scale})
    data = {"x": make_series(values, last_year, [BASE])}
    a = evaluate(FACTS, [lower], data, now=now).probability
    b = evaluate(FACTS, [higher], data, now=now).probability
    for p in (a, b):
        assert p is None or 0.0 <= p <= 1.0
    if a is not None and b is not None:
        if comparator in (">=", ">"):
            assert b <= a + 1e-12
        else:
            assert b >= a - 1e-12


@settings(max_examples=150, deadline=None)
@given(
    spec=criterion_specs(),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
)
def test_a_resolved_claims_probability_is_zero_or_one(
    spec: dict[str, Any], values: list[float], last_year: int, now: dt.datetime
) -> None:
    criterion = CRITERION.validate_python(spec)
    result = evaluate(FACTS, [criterion], {"x": make_series(values, last_year, [BASE])}, now=now)
    if result.state == "resolved_true":
        assert result.probability == 1.0
    elif result.state in ("resolved_false", "resolved_partial"):
        assert result.probability == 0.0
    else:
        assert result.probability is None or 0.0 <= result.probability <= 1.0
    if result.projection is None and not any(c.decided for c in result.criteria):
        assert result.probability is None


# --- stored and served ---


def test_probability_is_stored_served_and_exported(fresh_install, engine) -> None:
    client = fresh_install
    slug = "china-power-3x-us-2030"
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(col(Claim.slug) == slug)).one()
        row = session.get(Evaluation, claim.status_evaluation_id)
        assert row is not None and row.evaluator_version == EVALUATOR_VERSION
        stored = row.probability
    # on track, but its band includes 3.0: a chance a little over even
    assert stored is not None and 0.5 < stored < 0.75
    detail = client.get(f"/api/v1/claims/{slug}").json()["status"]
    assert detail["probability"] == stored
    history = client.get(f"/api/v1/claims/{slug}/history").json()["points"]
    assert history[-1]["probability"] == stored
    exported = {c["slug"]: c["status"] for c in client.get("/api/v1/export.json").json()}
    assert exported[slug]["probability"] == stored
    rows = {
        r["slug"]: r for r in csv.DictReader(io.StringIO(client.get("/api/v1/export.csv").text))
    }
    assert float(rows[slug]["probability"]) == stored
    replay = client.get(f"/api/v1/claims/{slug}", params={"as_of": "2026-11-28"}).json()["status"]
    assert replay["probability"] == pytest.approx(stored)
    # every served probability is a chance, or null (a judged claim has none)
    for status in exported.values():
        assert status["probability"] is None or 0 <= status["probability"] <= 1
    assert exported["agi-2026"]["probability"] is None


def test_the_dashboard_shows_an_uncertain_trend_as_a_chance(fresh_install) -> None:
    html = fresh_install.get("/claims/china-power-3x-us-2030").text
    detail = fresh_install.get("/api/v1/claims/china-power-3x-us-2030").json()["status"]
    shown = f"{detail['probability'] * 100:.0f} % chance"
    # a neutral badge (not the green of "on track") carrying the chance
    assert 'class="badge trend-neutral uncertain"' in html
    assert f"on track (uncertain) · {shown}" in html
    assert "Chance of coming true" in html and shown in html
