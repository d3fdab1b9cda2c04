"""The fast paths of a full evaluation give exactly the plain answers (SQLite and PostgreSQL).

Serialisation written out per dataclass against the generic `_jsonable`; fingerprints against
the recipe written out from the generic form, and sensitive to every field a reader sees;
stored rows against `evaluation_row_values`; the latest-period index seek against replays; a
fixed number of statements for a first run; the garbage collector left as found.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import math
from dataclasses import replace
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_status_factories import (
    CHINA_CRITERIA,
    at,
    china_claim,
    count_statements,
    make_claim,
    make_indicator,
    observe,
    owid_generation,
)

from tracker.criteria import Criterion as CriterionSpec
from tracker.evaluation import (
    _CRITERION_ORDER,
    ClaimFacts,
    CriterionResult,
    EvaluationResult,
    Evidence,
    Metric,
    Projection,
    SeriesData,
    SeriesPoint,
    _jsonable,
    evaluate,
    lookback_start,
    serialise,
)
from tracker.evaluation.text import en, resolved
from tracker.models import Evaluation, State, Trend
from tracker.sources.base import period_start
from tracker.status import (
    _inputs_key,
    _load_meta,
    evaluate_claims,
    evaluation_row_values,
    load_claim_inputs,
)

CRITERION: TypeAdapter[Any] = TypeAdapter(CriterionSpec)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


_HEADLINE = (
    "slug",
    "state",
    "trend",
    "reason",
    "outcome",
    "provisional",
    "final_after",
    "data_expected_on",
    "as_of",
    "replay",
    "evaluator_version",
    "review_reason",
    "overdue_since",
    "probability",
)


def _reference_fingerprint(result: EvaluationResult) -> str:
    """The fingerprint recipe written out from the generic `_jsonable` form: sha256 of the repr
    of the headline fields the criteria do not determine, then the compact JSON of the criteria
    and of the evidence (newline-separated)."""
    data = _jsonable(result)
    head = tuple(data[k] for k in _HEADLINE)
    data["criteria"] = [{k: c[k] for k in _CRITERION_ORDER} for c in data["criteria"]]
    parts = [
        json.dumps(data[k], separators=(",", ":"), allow_nan=False)
        for k in ("criteria", "evidence")
    ]
    return hashlib.sha256("\n".join([repr(head), *parts]).encode()).hexdigest()


def _series(key: str, values: dict[str, float], unit: str = "TWh") -> SeriesData:
    points = tuple(
        SeriesPoint(p, period_start(p), v, 100 + i, 7, at("2026-03-01"))
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData(key, unit, "annual", 180, 365, points)


def _diverse_results() -> list[EvaluationResult]:
    gen = owid_generation()
    data = {
        "chn": _series("chn", {k: v for k, v in gen["CHN"].items() if k <= "2025"}),
        "usa": _series("usa", {k: v for k, v in gen["USA"].items() if k <= "2025"}),
        "tiny": _series("tiny", {"2024": 1.0, "2025": 2.0}),
    }
    specs: list[dict[str, Any]] = [
        *CHINA_CRITERIA,
        {
            "key": "hit",
            "type": "threshold",
            "series": {"indicator": "chn"},
            "threshold": 9000.0,
            "mode": "any_time_within",
            "window": {"start": "2020", "end": "2030"},
        },
        {
            "key": "growth",
            "type": "growth",
            "series": {"indicator": "usa"},
            "measure": "cagr",
            "comparator": ">=",
            "threshold": 0.02,
            "window": {"start": "2015", "end": "2030"},
        },
        {
            "key": "mean",
            "type": "aggregate",
            "series": {"indicator": "chn"},
            "function": "mean",
            "threshold": 9500.0,
            "window": {"start": "2024", "end": "2027"},
        },
        {
            "key": "few",
            "type": "threshold",
            "series": {"indicator": "tiny"},
            "threshold": 5.0,
            "period": "2030",
        },
        {
            "key": "gone",
            "type": "threshold",
            "series": {"indicator": "nope"},
            "threshold": 1.0,
            "period": "2030",
        },
        {"key": "judge", "type": "judged", "rubric": "a reviewer reads the news"},
        {"key": "ctx", "type": "signal", "series": {"indicator": "usa"}, "note": "US output"},
    ]
    facts = ClaimFacts("diverse", deadline=dt.date(2030, 12, 31))
    results = []
    for spec in specs:
        criterion = CRITERION.validate_python(spec)
        for now in (NOW, at("2032-01-01")):
            results.append(evaluate(facts, [criterion], data, now=now))
    several = [CRITERION.validate_python(s) for s in specs[:4]]
    results.append(evaluate(facts, several, data, now=NOW, as_of=at("2026-04-01")))
    return results


def _odd_result() -> EvaluationResult:
    """Values the typed fields do not promise: non-finite floats, enums, non-int ids."""
    criterion = CriterionResult(
        key="k",
        type="threshold",
        role="resolves",
        context=False,
        reason="odd – non-ASCII",
        trend=Trend.on_track,
        metric=Metric(math.inf, "TWh", "2025"),
        margin=math.nan,
        projection=Projection(1.0, -math.inf, 2.0, "2030", "linear", 3, 0.5),
        details={"nested": (1, 2.5, math.nan), State.open: dt.date(2026, 1, 1)},
        evidence=Evidence((3, 1), ("x",)),  # type: ignore[arg-type]
    )
    return EvaluationResult(
        slug="odd",
        state=State.open,
        trend=None,
        reason="r",
        metric=None,
        threshold=math.inf,
        comparator=">=",
        margin=None,
        progress=1,  # an int where a float is expected
        projection=None,
        required_growth=None,
        observed_growth=None,
        data_expected_on=None,
        outcome=None,
        provisional=None,
        final_after=None,
        criteria=(criterion,),
        evidence=Evidence((1, 2, 3), ()),
        evaluated_at=NOW,
        as_of=None,
        replay=False,
        stable_until=dt.date(2027, 1, 1),
    )


def test_serialisation_equals_the_generic_one_and_fingerprints_are_unchanged() -> None:
    results = [*_diverse_results(), _odd_result()]
    states = {r.state for r in results}
    # in 2032 the series have been silent since 2025: their claims are in review, data overdue
    assert {"open", "resolved_true", "error", "needs_review"} <= states, states
    for result in results:
        generic = _jsonable(result)
        assert result.to_dict() == generic
        assert json.dumps(result.to_dict()) == json.dumps(generic)  # same key order too
        done = serialise(result)
        assert done.fingerprint == result.fingerprint() == _reference_fingerprint(result)
        assert serialise(result, {}) == done  # the memo changes nothing
        assert json.loads(done.criteria_json) == generic["criteria"]
        assert json.loads(done.evidence_json) == generic["evidence"]


def test_the_fingerprint_sees_every_change_but_the_evaluation_time() -> None:
    result = next(r for r in _diverse_results() if r.projection is not None)
    crit = result.criteria[0]
    assert crit.metric is not None and crit.projection is not None
    changes: list[dict[str, Any]] = [
        {"state": State.awaiting_data},
        {"trend": Trend.on_track if result.trend != Trend.on_track else Trend.off_track},
        {"reason": result.reason + "."},
        {"data_expected_on": dt.date(2099, 1, 1)},
        {"evidence": Evidence((1,), ())},
    ]
    crit_changes: list[dict[str, Any]] = [
        {"metric": replace(crit.metric, value=crit.metric.value + 1e-9)},
        {"threshold": (crit.threshold or 0.0) + 1.0},
        {"projection": replace(crit.projection, high=crit.projection.high * 2)},
        {"reason": crit.reason + "."},
        {"evidence": Evidence((*crit.evidence.observation_ids, 10**6), ())},
        {"details": {**crit.details, "extra": 1}},
    ]
    seen = {result.fingerprint()}
    for change in changes:
        seen.add(replace(result, **change).fingerprint())
    for change in crit_changes:
        criteria = (replace(crit, **change), *result.criteria[1:])
        seen.add(replace(result, criteria=criteria).fingerprint())
    assert len(seen) == 1 + len(changes) + len(crit_changes)
    later = replace(result, evaluated_at=NOW + dt.timedelta(days=3), stable_until=None)
    assert later.fingerprint() == result.fingerprint()


def _claims(session: Session, n: int, offset: int = 0) -> None:
    """n claims of three shapes (level, ratio, any time within) on annual indicators."""
    for i in range(offset, offset + n):
        ind = make_indicator(session, f"perf.{i}")
        observe(session, ind, {str(y): 100.0 + i + 4 * (y - 2012) for y in range(2012, 2026)}, NOW)
    for i in range(offset, offset + n):
        other = offset + (i + 1 - offset) % n
        spec: dict[str, Any]
        if i % 3 == 0:
            spec = {"series": {"indicator": f"perf.{i}"}, "threshold": 150.0, "period": "2030"}
        elif i % 3 == 1:
            spec = {
                "series": {"ratio": [{"indicator": f"perf.{i}"}, {"indicator": f"perf.{other}"}]},
                "threshold": 1.0,
                "unit": "1",
                "period": "2030",
            }
        else:
            spec = {
                "series": {"indicator": f"perf.{i}"},
                "threshold": 130.0 + i,
                "mode": "any_time_within",
                "window": {"start": "2020", "end": "2030"},
            }
        make_claim(
            session,
            f"perf-{i}",
            [{"key": "k", "type": "threshold", **spec}],
            deadline=dt.date(2030, 12, 31),
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda cls: cls(key="k", type="threshold", role="resolves", context=False, reason="r"),
        lambda cls: cls("k", "growth", "context", True, "r", True, False, Trend.off_track),
        lambda cls: cls(slug="a", deadline=dt.date(2030, 12, 31), wait_until=dt.date(2031, 1, 1)),
        lambda cls: cls("a", "soft"),
    ],
    ids=["criterion-keywords", "criterion-positional", "facts-keywords", "facts-positional"],
)
def test_fast_frozen_init_builds_what_the_dataclass_init_builds(make: Any) -> None:
    """`fast_frozen_init` (on the results and claim facts) against the `__init__` dataclasses
    generates for the same class: same fields, defaults and fresh default factories, still
    frozen and hashable alike."""
    import dataclasses

    for fast in (CriterionResult, ClaimFacts):
        try:
            built = make(fast)
        except TypeError:
            continue  # a shape of the other class
        plain = dataclasses.dataclass(frozen=True)(
            type(fast.__name__, (), {"__annotations__": fast.__annotations__,
                                     **{f.name: f for f in dataclasses.fields(fast)}})
        )  # fmt: skip
        reference = make(plain)
        assert dataclasses.asdict(built) == dataclasses.asdict(reference)
        assert vars(built) == vars(reference)
        assert built == make(fast)
        if fast is ClaimFacts:
            assert hash(built) == hash(make(fast)) == hash(dataclasses.astuple(built))
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.reason = "changed"  # type: ignore[misc]
        if fast is CriterionResult:
            assert built.details == {} and built.details is not make(fast).details
    with pytest.raises(TypeError):
        CriterionResult(key="k")  # type: ignore[call-arg]


def _row_values(result: EvaluationResult, item: Any, row: Evaluation) -> dict[str, Any]:
    """The row `evaluation_row_values` makes of `result` for `item`'s claim, with the inputs
    key and watermark the run stored in `row`."""
    assert isinstance(row.details, dict)
    return evaluation_row_values(
        result,
        claim_id=item.claim_id,
        claim_version=item.claim_version,
        inputs_key=row.details["inputs_key"],
        data_watermark=row.details["data_watermark"],
    )


def test_stored_rows_are_the_row_values_of_the_results(engine: Engine) -> None:
    with Session(engine) as session:
        china_claim(session)
        _claims(session, 6)
        session.commit()
        results = evaluate_claims(session, now=NOW)
        session.commit()
        rows = {
            row.claim_id: row
            for row in session.exec(select(Evaluation).order_by(col(Evaluation.id))).all()
        }
        inputs = {i.facts.slug: i for i in load_claim_inputs(session)}
        assert len(rows) == len(results) == 7
        for result in results:
            item = inputs[result.slug]
            row = rows[item.claim_id]
            assert isinstance(row.details, dict) and isinstance(row.evidence, dict)
            expected = _row_values(result, item, row)
            stored = {key: getattr(row, key) for key in expected}
            assert stored == expected
            assert row.fingerprint == result.fingerprint() == _reference_fingerprint(result)
            assert item.status_evaluation_id == row.id
            assert item.status_state == result.state.value


def test_claims_sharing_criteria_store_each_its_own_row(engine: Engine) -> None:
    """A run shares one result among claims holding the same criterion (and one claim result
    among claims alike but for their slug), encoding each once: every stored row is still
    exactly its own claim's, its reason parts referring to its own criteria by position."""
    level = {"key": "level", "type": "threshold", "threshold": 150.0, "period": "2030"}
    context = {"key": "ctx", "type": "threshold", "threshold": 90.0, "role": "context"}
    with Session(engine) as session:
        for name in ("a", "b"):
            ind = make_indicator(session, f"share.{name}")
            observe(session, ind, {str(y): 100.0 + 4 * (y - 2012) for y in range(2012, 2026)}, NOW)
        x = {**level, "series": {"indicator": "share.a"}}
        y = {**context, "series": {"indicator": "share.b"}, "period": "2030"}
        shapes = {
            "same-1": ([x], dt.date(2030, 12, 31)),
            "same-2": ([x], dt.date(2030, 12, 31)),
            "later": ([x], dt.date(2031, 6, 30)),
            "context-first": ([y, x], dt.date(2030, 12, 31)),
            "context-last": ([x, y], dt.date(2030, 12, 31)),
            "context-first-2": ([y, x], dt.date(2030, 12, 31)),
        }
        for slug, (criteria, deadline) in shapes.items():
            make_claim(session, slug, criteria, deadline=deadline)
        session.commit()
        results = {r.slug: r for r in evaluate_claims(session, now=NOW)}
        session.commit()
        inputs = {i.facts.slug: i for i in load_claim_inputs(session)}
        rows = {
            row.claim_id: row
            for row in session.exec(select(Evaluation).order_by(col(Evaluation.id))).all()
        }
        assert set(results) == set(shapes)
        for slug, result in results.items():
            item = inputs[slug]
            row = rows[item.claim_id]
            assert result == evaluate(item.facts, item.criteria, item.series, now=NOW)
            assert isinstance(row.details, dict)
            expected = _row_values(result, item, row)
            assert {key: getattr(row, key) for key in expected} == expected
            stored = resolved(row.details["reason_parts"], row.details["criteria_reason_parts"])
            assert en(stored) == row.reason == result.reason
        # each row holds its own claim's inputs key (a row made once for claims alike but for
        # their slug takes each claim's own key, fingerprint and columns)
        meta = _load_meta(session, None, None)
        assert meta is not None
        keys = {c["slug"]: _inputs_key(meta, c) for c in meta.claims}
        for slug in shapes:
            assert rows[inputs[slug].claim_id].details["inputs_key"] == keys[slug]
        assert keys["same-1"] != keys["same-2"]
        assert (
            rows[inputs["same-1"].claim_id].fingerprint
            != rows[inputs["same-2"].claim_id].fingerprint
        )
        # claims alike share their criteria's results; their rows differ by what is their own
        assert results["same-1"].criteria[0] is results["same-2"].criteria[0]
        assert results["context-first"].criteria == results["context-first-2"].criteria
        first, last = (rows[inputs[s].claim_id].details for s in ("context-first", "context-last"))
        assert first["reason_parts"] != last["reason_parts"]  # {"c": 1} vs {"c": 0}


def test_a_first_run_takes_a_fixed_number_of_statements(engine: Engine) -> None:
    counts = []
    with Session(engine) as session:
        _claims(session, 3)
        session.commit()
        with count_statements(engine) as statements:
            assert len(evaluate_claims(session, now=NOW)) == 3
        counts.append(len(statements))
        session.rollback()
        _claims(session, 30, offset=3)
        session.commit()
        with count_statements(engine) as statements:
            assert len(evaluate_claims(session, now=NOW)) == 33
        counts.append(len(statements))
        # the watermark, rows inserted since it, latest periods (seek), the usable rows
        reads = [s for s in statements if "FROM observation" in s]
        assert len(reads) == 4, reads
    assert counts[0] == counts[1], counts


def test_latest_period_seek_follows_as_of(engine: Engine) -> None:
    """The fit window starts from the latest period known THEN, not the latest period now."""
    with Session(engine) as session:
        ind = make_indicator(session, "long.annual")  # annual: 15 years of lookback
        observe(
            session, ind, {str(y): 10.0 + y - 1970 for y in range(1970, 2011)}, at("2011-03-01")
        )
        observe(
            session, ind, {str(y): 10.0 + y - 1970 for y in range(2011, 2026)}, at("2026-03-01")
        )
        make_claim(
            session,
            "long",
            [
                {
                    "key": "k",
                    "type": "threshold",
                    "series": {"indicator": "long.annual"},
                    "threshold": 99.0,
                    "period": "2030",
                }
            ],
            deadline=dt.date(2030, 12, 31),
        )
        session.commit()
        then = load_claim_inputs(session, as_of=at("2015-01-01"))[0].series["long.annual"]
        now = load_claim_inputs(session)[0].series["long.annual"]
    for loaded, latest in ((then, "2010"), (now, "2025")):
        bound = lookback_start(period_start(latest), "annual")
        assert bound is not None
        expected = [str(y) for y in range(1970, int(latest) + 1) if period_start(str(y)) >= bound]
        assert [p.period for p in loaded.points] == expected
        assert 10 <= len(expected) <= 16


def test_a_run_leaves_no_reference_cycles_per_claim(engine: Engine) -> None:
    """The collector is paused during a batch: per-claim cycles (e.g. a recursive closure per
    call) would pile up and cost a long collection afterwards."""
    garbage = []
    with Session(engine) as session:
        for n, offset in ((3, 0), (3, 3), (30, 6)):  # the first warms caches up
            _claims(session, n, offset)
            session.commit()
            was = gc.isenabled()
            gc.collect()
            gc.disable()  # left disabled by the run: what it leaves is counted below
            try:
                results = evaluate_claims(session, now=NOW, force=True)
                assert len(results) == n + offset
                session.rollback()
                garbage.append(gc.collect())
            finally:
                gc.enable() if was else gc.disable()
    assert garbage[2] <= garbage[1] + 5, garbage


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_found(engine: Engine, enabled: bool) -> None:
    with Session(engine) as session:
        _claims(session, 2)
        session.commit()
        was = gc.isenabled()
        try:
            gc.enable() if enabled else gc.disable()
            evaluate_claims(session, now=NOW)
            assert gc.isenabled() is enabled
        finally:
            gc.enable() if was else gc.disable()
