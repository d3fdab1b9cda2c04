"""Properties of the pure evaluator (hypothesis): deterministic, monotone in the threshold, a
replay as of T blind to everything known only after T, and a trend that agrees with the growth
rates shown beside it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tracker.criteria import Criterion
from tracker.evaluation import ClaimFacts, SeriesData, SeriesPoint, evaluate, meets
from tracker.sources.base import period_start

UTC = dt.UTC
CRITERION = TypeAdapter(Criterion)
BASE = dt.datetime(2015, 1, 1, tzinfo=UTC)

values_st = st.lists(
    st.floats(min_value=0.5, max_value=1000, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=14,
)
moment_st = st.integers(min_value=0, max_value=21 * 365).map(lambda d: BASE + dt.timedelta(days=d))


@st.composite
def criterion_specs(draw: st.DrawFn, threshold: float | None = None) -> dict[str, Any]:
    kind = draw(st.sampled_from(["at_period", "any_time_within", "aggregate", "growth"]))
    thr = threshold if threshold is not None else draw(st.floats(min_value=0.5, max_value=1000))
    series = {"indicator": "x"}
    if kind == "at_period":
        return {
            "key": "k",
            "type": "threshold",
            "series": series,
            "threshold": thr,
            "period": "2030",
        }
    if kind == "any_time_within":
        return {
            "key": "k",
            "type": "threshold",
            "series": series,
            "threshold": thr,
            "mode": "any_time_within",
            "window": {"start": "2026", "end": "2030"},
        }
    if kind == "aggregate":
        return {
            "key": "k",
            "type": "aggregate",
            "series": series,
            "threshold": thr,
            "window": {"start": "2026", "end": "2030"},
        }
    return {
        "key": "k",
        "type": "growth",
        "series": series,
        "measure": "cagr",
        "threshold": thr / 1000,
        "window": {"start": "2024", "end": "2030"},
    }


def make_series(values: list[float], last_year: int, known: list[dt.datetime]) -> SeriesData:
    first = last_year - len(values) + 1
    points = tuple(
        SeriesPoint(
            str(first + i), period_start(str(first + i)), v, i + 1, 1, known[i % len(known)]
        )
        for i, v in enumerate(values)
    )
    return SeriesData("x", "TWh", "annual", 180, 365, points)


FACTS = ClaimFacts("prop", deadline=dt.date(2030, 12, 31))


@settings(max_examples=150, deadline=None)
@given(
    spec=criterion_specs(),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_evaluation_is_deterministic(
    spec: dict[str, Any], values: list[float], last_year: int, now: dt.datetime, seed: int
) -> None:
    criterion = CRITERION.validate_python(spec)
    data = make_series(values, last_year, [BASE])
    first = evaluate(FACTS, [criterion], {"x": data}, now=now)
    again = evaluate(FACTS, [criterion], {"x": data}, now=now)
    assert first == again
    assert first.fingerprint() == again.fingerprint()
    shuffled = list(data.points)
    random.Random(seed).shuffle(shuffled)
    reordered = SeriesData("x", "TWh", "annual", 180, 365, tuple(shuffled))
    assert (
        evaluate(FACTS, [criterion], {"x": reordered}, now=now).fingerprint() == first.fingerprint()
    )


def _outcome(result: Any) -> str | None:
    return result.outcome.value if result.outcome is not None else None


def _favourable(result: Any) -> bool:
    """Kept, or on track to be."""
    on_track = result.trend is not None and result.trend.value == "on_track"
    return on_track or _outcome(result) == "true"


@settings(max_examples=200, deadline=None)
@given(
    kind_spec=criterion_specs(threshold=1.0),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
    low=st.floats(min_value=0.5, max_value=1000),
    raise_by=st.floats(min_value=0.0, max_value=500),
)
def test_raising_a_lower_bound_never_helps(
    kind_spec: dict[str, Any],
    values: list[float],
    last_year: int,
    now: dt.datetime,
    low: float,
    raise_by: float,
) -> None:
    high = low + raise_by
    scale = 1000 if kind_spec["type"] == "growth" else 1
    weak = CRITERION.validate_python({**kind_spec, "threshold": low / scale})
    strong = CRITERION.validate_python({**kind_spec, "threshold": high / scale})
    data = {"x": make_series(values, last_year, [BASE])}
    a = evaluate(FACTS, [weak], data, now=now)
    b = evaluate(FACTS, [strong], data, now=now)
    if _outcome(a) == "false":
        assert _outcome(b) == "false"
    if _outcome(b) == "true":
        assert _outcome(a) == "true"
    if _favourable(b):
        assert _favourable(a)
    if a.margin is not None and b.margin is not None and a.metric == b.metric:
        assert a.margin >= b.margin  # same value measured: a higher bar leaves less margin


@settings(max_examples=150, deadline=None)
@given(
    spec=criterion_specs(),
    values=values_st,
    later_values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    known_days=st.lists(st.integers(min_value=0, max_value=21 * 365), min_size=1, max_size=6),
    as_of=moment_st,
    now_offset=st.integers(min_value=0, max_value=3000),
)
def test_replay_ignores_everything_known_only_after_as_of(
    spec: dict[str, Any],
    values: list[float],
    later_values: list[float],
    last_year: int,
    known_days: list[int],
    as_of: dt.datetime,
    now_offset: int,
) -> None:
    criterion = CRITERION.validate_python(spec)
    known = [BASE + dt.timedelta(days=d) for d in known_days]
    full = make_series(values, last_year, known)
    # extra vintages (revisions and new periods) of the same series, all known after as_of
    after = as_of + dt.timedelta(days=1)
    revisions = make_series(later_values, last_year + 2, [after])
    revisions = SeriesData(
        "x",
        "TWh",
        "annual",
        180,
        365,
        tuple(
            SeriesPoint(p.period, p.period_start, p.value, 1000 + i, 2, p.known_from)
            for i, p in enumerate(revisions.points)
        ),
    )
    everything = SeriesData("x", "TWh", "annual", 180, 365, full.points + revisions.points)
    only_known = SeriesData(
        "x", "TWh", "annual", 180, 365, tuple(p for p in full.points if p.known_from <= as_of)
    )
    now = as_of + dt.timedelta(days=now_offset)
    replay = evaluate(FACTS, [criterion], {"x": everything}, now=now, as_of=as_of)
    blind = evaluate(FACTS, [criterion], {"x": only_known}, now=now, as_of=as_of)
    assert replay.replay and replay.as_of == as_of
    assert replay.fingerprint() == blind.fingerprint()
    used = set(replay.evidence.observation_ids)
    assert all(p.known_from <= as_of for p in everything.points if p.observation_id in used)


@settings(max_examples=80, deadline=None)
@given(
    specs=st.lists(criterion_specs(), min_size=1, max_size=5),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
)
def test_a_shared_memo_changes_nothing(
    specs: list[dict[str, Any]], values: list[float], last_year: int, now: dt.datetime
) -> None:
    """Claims evaluated in one run share per-series work through a memo; results are the same."""
    data = {"x": make_series(values, last_year, [BASE])}
    memo: dict[Any, Any] = {}
    for spec in specs:
        criterion = CRITERION.validate_python(spec)
        alone = evaluate(FACTS, [criterion], data, now=now)
        shared = evaluate(FACTS, [criterion], data, now=now, memo=memo)
        assert shared == alone


@settings(max_examples=80, deadline=None)
@given(
    spec=st.one_of(
        criterion_specs(),
        # growth without a window: decided at the claim's deadline (it reads the claim)
        st.floats(min_value=0.001, max_value=1.0).map(
            lambda t: {
                "key": "k",
                "type": "growth",
                "series": {"indicator": "x"},
                "measure": "cagr",
                "threshold": t,
            }
        ),
    ),
    values=values_st,
    last_year=st.integers(min_value=2018, max_value=2032),
    now=moment_st,
    deadlines=st.lists(
        st.none() | st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 12, 31)),
        min_size=2,
        max_size=4,
    ),
)
def test_claims_holding_one_criterion_share_its_result_where_they_read_the_same(
    spec: dict[str, Any],
    values: list[float],
    last_year: int,
    now: dt.datetime,
    deadlines: list[dt.date | None],
) -> None:
    """A run parses identical criteria once, and the memo shares one criterion's result among
    the claims holding it: each claim still gets exactly its own answer (the claim's deadline
    is part of what the criterion reads), in any order, again and again."""
    criterion = CRITERION.validate_python(spec)
    data = {"x": make_series(values, last_year, [BASE])}
    memo: dict[Any, Any] = {}
    for i, deadline in enumerate(deadlines + deadlines[::-1]):
        facts = ClaimFacts(f"c{i}", deadline=deadline)
        alone = evaluate(facts, [criterion], data, now=now)
        shared = evaluate(facts, [criterion], data, now=now, memo=memo)
        assert shared == alone
        assert shared.fingerprint() == alone.fingerprint()


@st.composite
def trending_values(draw: st.DrawFn) -> list[float]:
    """A positive series around a compounding trend (so that many projections are decisive)."""
    base = draw(st.floats(min_value=0.01, max_value=1e4))
    growth = draw(st.floats(min_value=-0.3, max_value=0.5))
    noise = draw(st.lists(st.floats(min_value=0.85, max_value=1.15), min_size=3, max_size=14))
    return [base * (1 + growth) ** i * n for i, n in enumerate(noise)]


@settings(max_examples=400, deadline=None)
@given(
    values=trending_values(),
    last_year=st.integers(min_value=2018, max_value=2029),
    factor=st.floats(min_value=0.2, max_value=5.0),
    comparator=st.sampled_from([">=", ">", "<=", "<"]),
    mode=st.sampled_from(["at_period", "any_time_within"]),
    unit=st.sampled_from(["TWh", "persons"]),  # log-linear (compounding), linear
)
def test_on_track_exactly_when_the_trend_grows_as_fast_as_needed(
    values: list[float],
    last_year: int,
    factor: float,
    comparator: str,
    mode: str,
    unit: str,
) -> None:
    """The figures a reader sees decide the verdict: on track ⇔ the observed (trend) growth meets
    the growth needed from the latest value (≥ for a lower bound, ≤ for an upper one), and the
    projection is the latest value grown at that observed rate."""
    threshold = values[-1] * factor
    spec: dict[str, Any] = {
        "key": "k",
        "type": "threshold",
        "series": {"indicator": "x"},
        "comparator": comparator,
        "threshold": threshold,
    }
    if mode == "at_period":
        spec["period"] = "2030"
    else:
        spec.update(mode="any_time_within", window={"start": "2030", "end": "2030"})
    criterion = CRITERION.validate_python(spec)
    data = make_series(values, last_year, [BASE])
    data = SeriesData("x", unit, "annual", 180, 365, data.points)
    result = evaluate(FACTS, [criterion], {"x": data}, now=dt.datetime(2030, 6, 1, tzinfo=UTC))
    c = result.criteria[0]
    assert not c.decided and c.projection is not None  # three points or more, none in 2030
    if unit == "TWh":  # compounding: the trend's rate is always there to compare
        assert c.projection.model.startswith("log-linear")
        assert c.observed_growth is not None and c.required_growth is not None
    if c.trend is None or c.trend.value == "insufficient_data":  # too uncertain to call
        return
    assert c.trend.value in ("on_track", "off_track")
    on_track = c.trend.value == "on_track"
    if c.observed_growth is not None and c.required_growth is not None:
        assert on_track == meets(c.observed_growth, comparator, c.required_growth)
        years = 2030 - last_year
        grown = values[-1] * (1 + c.observed_growth) ** years
        assert c.projection.from_value == values[-1]
        assert c.projection.value == pytest.approx(grown, rel=1e-9)
    # and the projected value against the threshold says the same, but within rounding of it
    if abs(c.projection.value - threshold) > 1e-9 * threshold:
        assert on_track == meets(c.projection.value, comparator, threshold)
