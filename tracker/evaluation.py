"""Evaluation: the pure core that turns a claim, its criteria and its observed series into a status.

`evaluate(claim, criteria, series, now=..., as_of=...)` reads no clock, database or network; the
same inputs always give the same result (and the same `fingerprint()`). Persistence is in
`tracker.status`.

Complete data only (evaluator 1.4): a window decides only when every sub-period at the series'
frequency (tracker.periods: day, ISO week, month, quarter, year) has a reading, or the indicator
declares `gaps: zero` (then once the last period's data is due); until then the reason names the
missing periods. at_period reads the period's own value or, from a finer series, its last
sub-period's; `read: first_on_or_after` also takes the first reading within `tolerance_days`
after the period. Data a claim waits for (the deciding period, a window's missing periods, the
series' next release) still missing at its expected date (period end + lag) + grace
(`SeriesData.grace_days`, else by cadence) puts the claim in `needs_review` with
`review_reason = "data_overdue"` and `overdue_since`, unless a reviewer's extension
(`ClaimFacts.wait_until`) has not yet run out.

Projection (documented choices):
- the fit uses the last `FIT_POINTS` (10) points of the evaluated series that lie within
  `LOOKBACK_DAYS[frequency]` of its latest point;
- a recent turn: when the last k ≥ `TURN_MIN_CHANGES` (3) period-over-period changes all have
  the sign opposite to that fit's slope (a peak or trough k periods ago), only the points from
  the turning point on are fitted (if at least `MIN_FIT_POINTS`); the projection records it
  (`fit_from`, model "linear (since 2021)") and the reason says "since its 2021 turn";
- too uncertain to call: when the 95 % band of a positive projection spans more than
  `UNCERTAIN_RATIO` (100×, two orders of magnitude, high/low) or any band is wider than
  `UNCERTAIN_WIDTH` (4) times the projected value, the numbers are kept but the trend is
  `insufficient_data` and the reason says "too uncertain to call";
- the model is log-linear (least squares on ln(value)) for compounding positive series — ratios,
  and indicators whose unit is an energy/compute/money quantity or whose catalogue entry says
  `projection_model: log-linear` — and linear otherwise (or when a value is not positive);
- the projection starts at the latest observed point and grows at the fitted trend rate:
  latest × exp(slope·Δx) (log-linear) or latest + slope·Δx (linear), Δx in years to the target
  period (model text "log-linear, from the latest point"; `from_period`/`from_value` name the
  start). Not the fitted line's own level at the target: that line need not pass through the
  latest value (China/US: 2.42 in 2025 against the actual 2.34), and a projection off the
  latest value disagrees with the growth the reader is shown is needed from it;
- its 95 % band has the half-width of the fitted line's prediction interval at the target,
  t·s·sqrt(1 + 1/n + (x0 − x̄)²/Sxx) with s² = Σresiduals²/(n − 2) and t the two-sided 95 %
  Student-t quantile for n − 2 degrees of freedom (few points: a wider band than the normal
  1.96), centred on the projection in fitted space (taken back through exp() for log-linear);
- x is the decimal year of a period's first day; the "observed growth" is the trend's growth
  rate per year: exp(slope) − 1 for log-linear, and for linear the compound rate equivalent to
  going from the latest value to the projection; the "required growth" is the CAGR from the
  latest value to the threshold at the target period;
- the trend is on track when the projected value meets the threshold, which is the same as the
  observed growth meeting the required growth (compared that way, exactly, whenever both rates
  are defined, so that the figures a reader sees cannot disagree with the verdict); when the
  band contains the threshold the reason says so ("the band includes 3.0, so this could go
  either way");
- a window's mean or sum (aggregate criteria) adds the fitted line's values for its missing
  periods, as before: a level over many periods, not a growth from the latest value.

Growth claims without a window, before their deadline year is decided, are headlined by the
sustained rate over the last `TREND_YEARS` (5) years (metric period "2020..2025"; margin,
progress and trend from it); the single latest year is kept in the criterion's details
(`latest_year_value`, ...) and in the reason. With less than two years of span: the single
latest year.

Numbers in reasons come from `tracker.numbers` (one formatter for reasons, API, dashboard and
CLI): a value beside its threshold carries enough digits to differ from it; rates are per year
only over a horizon of a year or more.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tracker.chance import chance_to_meet
from tracker.criteria import (
    AggregateCriterion,
    Baseline,
    Criterion,
    Difference,
    GrowthCriterion,
    IndicatorRef,
    JudgedCriterion,
    Ratio,
    RelativeThreshold,
    SeriesExpr,
    SignalCriterion,
    Sum,
    ThresholdCriterion,
    UnitError,
    criterion_indicators,
    criterion_unit,
    expression_indicators,
    expression_unit,
)
from tracker.models import ClaimKind, Lifecycle, Outcome, ResolutionMethod, State, Trend
from tracker.numbers import format_number, format_pair, format_rate, rate_text
from tracker.periods import FREQUENCY_KIND, default_grace_days, next_period, periods_between
from tracker.periods import period_end as _period_end
from tracker.periods import period_kind as _period_kind
from tracker.periods import period_start as _period_start

# 1.2: turning points, too-uncertain bands, sustained growth metric
# 1.3: projections from the latest point at the fitted rate; observed growth is that rate
# 1.4: complete windows (every sub-period observed, or declared gaps), weekly and quarterly
#      periods, read first_on_or_after, data overdue past expected date + grace → needs_review;
#      the chance of coming true (`probability`); reasons print values apart from thresholds
#      and rates per year only over a year or more (tracker.numbers)
EVALUATOR_VERSION = "1.4.0"
FIT_POINTS = 10
MIN_FIT_POINTS = 3
Z_95 = 1.959963984540054
# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's)
T_95 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
    2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
    2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
    2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
    2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
    2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
)  # fmt: skip


def t_95(degrees_of_freedom: int) -> float:
    """The two-sided 95 % Student-t quantile (the normal's 1.96 past 30 degrees of freedom)."""
    if degrees_of_freedom < 1:
        raise ValueError("a prediction interval needs at least one degree of freedom")
    return T_95[degrees_of_freedom - 1] if degrees_of_freedom <= len(T_95) else Z_95


# How far back from a series' latest point the fit may reach, by frequency (days).
LOOKBACK_DAYS: dict[str, int] = {
    "annual": 15 * 366,
    "quarterly": 5 * 366,
    "monthly": 2 * 366,
    "weekly": 183,
    "daily": 60,
}
LOG_LINEAR_UNITS = frozenset(
    {"TWh", "GWh", "MWh", "kWh", "PWh", "EJ", "FLOP", "FLOP/s", "USD", "EUR", "GW", "MW"}
)
MODEL_LOG_LINEAR = "log-linear"
# Period strings repeat across claims and evaluations: parse each once.
period_start = functools.lru_cache(maxsize=65_536)(_period_start)
period_end = functools.lru_cache(maxsize=65_536)(_period_end)
period_kind = functools.lru_cache(maxsize=65_536)(_period_kind)
MODEL_LINEAR = "linear"


# A per-run cache shared by evaluations of the same series (see `evaluate`'s `memo`).
Memo = dict[Any, Any]

# --- inputs ---


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One observed value of an indicator, with its provenance."""

    period: str
    period_start: dt.date
    value: float | None
    observation_id: int | None = None
    fetch_run_id: int | None = None
    known_from: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SeriesData:
    """An indicator's metadata and the observations known of it (any vintages; see `evaluate`)."""

    key: str
    unit: str
    frequency: str = "annual"
    publication_lag_days: int = 0
    revision_window_days: int = 0
    points: tuple[SeriesPoint, ...] = ()
    projection_model: str | None = None  # "log-linear" | "linear" | None (default by unit)
    grace_days: int | None = None  # None: by cadence (tracker.periods.DEFAULT_GRACE_DAYS)
    gaps: str = "unknown"  # "zero": a period without a reading reads as 0 (event counts)


@dataclass(frozen=True)
class ResolutionFacts:
    """The claim's current resolution, as the evaluator needs it."""

    outcome: str
    method: str
    provisional: bool
    decided_at: dt.datetime
    decided_by: str | None = None
    final_after: dt.date | None = None
    id: int | None = None


@dataclass(frozen=True)
class ClaimFacts:
    """What the evaluator needs to know about a claim."""

    slug: str
    kind: str = ClaimKind.hard
    deadline: dt.date | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    lifecycle: str = Lifecycle.active
    stated_on: dt.date | None = None
    resolution: ResolutionFacts | None = None
    # a reviewer's latest "extend the wait" known at the time: overdue data is not sent to
    # review again before this day has passed (None: no extension)
    wait_until: dt.date | None = None


# --- outputs ---


@dataclass(frozen=True)
class Metric:
    value: float
    unit: str
    period: str


@dataclass(frozen=True)
class Projection:
    value: float
    low: float
    high: float
    at: str
    model: str
    n_points: int
    residual_sd: float
    fit_from: str | None = None  # the period of a recent turn the fit starts at (None: no turn)
    # the observed point the projection starts from (None: a window's aggregate, a growth rate)
    from_period: str | None = None
    from_value: float | None = None


@dataclass(frozen=True)
class Evidence:
    observation_ids: tuple[int, ...] = ()
    fetch_run_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CriterionResult:
    """The result of one criterion. `met` is None until it is decided."""

    key: str
    type: str
    role: str
    context: bool
    reason: str
    decided: bool = False
    met: bool | None = None
    trend: Trend | None = None
    metric: Metric | None = None
    threshold: float | None = None
    comparator: str | None = None
    margin: float | None = None
    progress: float | None = None
    # the chance the criterion is met at its target (1 or 0 once decided; None: no projection)
    probability: float | None = None
    projection: Projection | None = None
    required_growth: float | None = None
    observed_growth: float | None = None
    target_period: str | None = None
    data_expected_on: dt.date | None = None
    final_after: dt.date | None = None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    evidence: Evidence = Evidence()
    # not shown (not serialised): the first day after which the passage of time alone changes
    # what this criterion says of its missing data (a window's period ends, data falls overdue)
    recheck_on: dt.date | None = field(default=None, metadata={"serialise": False})


@dataclass(frozen=True)
class EvaluationResult:
    """A claim's status at one moment: the evaluator's whole answer."""

    slug: str
    state: State
    trend: Trend | None
    reason: str
    metric: Metric | None
    threshold: float | None
    comparator: str | None
    margin: float | None
    progress: float | None
    projection: Projection | None
    required_growth: float | None
    observed_growth: float | None
    data_expected_on: dt.date | None
    outcome: Outcome | None  # what the data says (automatic), when decided
    provisional: bool | None
    final_after: dt.date | None
    criteria: tuple[CriterionResult, ...]
    evidence: Evidence
    evaluated_at: dt.datetime
    as_of: dt.datetime | None
    replay: bool
    evaluator_version: str = EVALUATOR_VERSION
    # the first day on which the passage of time alone could change this result (None: never)
    stable_until: dt.date | None = None
    # why a person is asked ("data_overdue": the data needed is missing past expected + grace)
    review_reason: str | None = None
    overdue_since: dt.date | None = None  # the expected date of the overdue data
    # the chance the claim's criteria are met at the deadline (see `claim_probability`)
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        return _result_dict(self)

    def fingerprint(self) -> str:
        """sha256 of everything but `evaluated_at` (and `stable_until`, derived from it).

        Equal fingerprints mean nothing a reader sees changed (see `serialise` for the recipe).
        """
        return serialise(self).fingerprint


def _json_encoder(sort_keys: bool) -> Any:
    """`json.dumps(value, sort_keys=..., separators=(",", ":"), allow_nan=False)` through one
    prebuilt C encoder (building a new one on every call is a third of the cost of encoding a
    small result); the same text (tests compare it with `json.dumps`)."""
    reference = json.JSONEncoder(sort_keys=sort_keys, separators=(",", ":"), allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return reference.encode
    try:
        encoder = make(
            None,  # no cycle check: results are trees
            reference.default,
            json.encoder.encode_basestring_ascii,
            None,
            ":",
            ",",
            sort_keys,
            False,  # skipkeys
            False,  # allow_nan
        )
    except TypeError:  # another signature: keep the documented path
        return reference.encode

    def encode(value: Any) -> str:
        if type(value) is dict or type(value) is list:
            return "".join(encoder(value, 0))
        return reference.encode(value)

    return encode


canonical_json = _json_encoder(sort_keys=True)
canonical_json.__doc__ = "JSON with sorted keys, no spaces, ASCII only, no NaN."
compact_json = _json_encoder(sort_keys=False)
compact_json.__doc__ = "JSON in insertion order, no spaces, ASCII only, no NaN (stored details)."


@dataclass(frozen=True, slots=True)
class Serialised:
    """What a stored evaluation needs of a result, each part built once: the JSON texts of its
    criteria and evidence (as in `to_dict()`) and its fingerprint."""

    criteria_json: str  # compact JSON of to_dict()["criteria"] (key order: `_CRITERION_ORDER`)
    evidence_json: str  # compact JSON of to_dict()["evidence"]
    fingerprint: str


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _headline(r: EvaluationResult) -> tuple[Any, ...]:
    """The fields of a result that its criteria do not already determine (fingerprinted).

    The headline metric, threshold, margin, progress, projection and growth rates are copied
    from the primary criterion, which the criteria results themselves determine.
    """
    return (
        r.slug,
        r.state.value if isinstance(r.state, StrEnum) else r.state,
        r.trend.value if isinstance(r.trend, StrEnum) else r.trend,
        r.reason,
        r.outcome.value if isinstance(r.outcome, StrEnum) else r.outcome,
        r.provisional,
        _iso(r.final_after),
        _iso(r.data_expected_on),
        _iso(r.as_of),
        r.replay,
        r.evaluator_version,
        r.review_reason,
        _iso(r.overdue_since),
        r.probability,
    )


# The keys of a serialised criterion, in the order of its JSON text: the values of the last
# three are often the very same objects in many results (a series' latest point, its fit and
# the points used), so their JSON is made once per object and spliced in.
_SHARED_PARTS = ("metric", "projection", "evidence")


def _part_json(value: Any, to_dict: Any, memo: Memo | None) -> str:
    if value is None:
        return "null"
    if memo is None:
        return compact_json(to_dict(value))  # type: ignore[no-any-return]
    key = ("json", id(value))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (value, compact_json(to_dict(value)))  # value: keeps the id unique
    return hit[1]  # type: ignore[no-any-return]


def _criterion_json(r: CriterionResult, memo: Memo | None) -> str:
    """Compact JSON of `_criterion_dict(r)`, keys in `_CRITERION_ORDER`."""
    if type(r) is not CriterionResult:
        data = _criterion_dict(r)
        return compact_json({k: data[k] for k in _CRITERION_ORDER})  # type: ignore[no-any-return]
    head = {
        "key": r.key,
        "type": r.type,
        "role": r.role,
        "context": r.context,
        "reason": r.reason,
        "decided": r.decided,
        "met": r.met,
        "trend": r.trend,
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "probability": r.probability,
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "target_period": r.target_period,
        "data_expected_on": r.data_expected_on,
        "final_after": r.final_after,
        "error": r.error,
        "details": _jsonable(r.details) if r.details else {},
    }
    text: str = compact_json(_fix(head, _CRITERION_SCALARS))
    return (
        f'{text[:-1]},"metric":{_part_json(r.metric, _metric_dict, memo)}'
        f',"projection":{_part_json(r.projection, _projection_dict, memo)}'
        f',"evidence":{_part_json(r.evidence, _evidence_dict, memo)}}}'
    )


def serialise(result: EvaluationResult, memo: Memo | None = None) -> Serialised:
    """The JSON of the criteria and evidence of `to_dict()`, and the fingerprint, without
    building the rest of `to_dict()`. `memo`: as `evaluate`'s (the same dict may be passed),
    to encode objects shared by many results (fits, evidence) once.

    Fingerprint recipe: sha256 of `repr(_headline(result))`, the compact JSON of the criteria
    (keys in `_CRITERION_ORDER`) and that of the evidence, joined by newlines: everything a
    reader sees but `evaluated_at` and `stable_until` (state, trend, reason, outcome, the
    probability, every criterion's metric, threshold, projection, reason and evidence).
    Deterministic: the same result gives the same text, with or without `memo`.
    """
    criteria_json = "[" + ",".join(_criterion_json(c, memo) for c in result.criteria) + "]"
    evidence_json = _part_json(result.evidence, _evidence_dict, memo)
    blob = f"{_headline(result)!r}\n{criteria_json}\n{evidence_json}"
    return Serialised(criteria_json, evidence_json, hashlib.sha256(blob.encode()).hexdigest())


_PLAIN = (str, int, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(kind)
    if names is None and hasattr(kind, "__dataclass_fields__"):
        names = _FIELD_NAMES[kind] = tuple(  # but fields marked not to be serialised
            name
            for name, spec in kind.__dataclass_fields__.items()
            if spec.metadata.get("serialise", True)
        )
    return names


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    names = _field_names(kind)
    if names is not None:  # a dataclass: primitives inline (this runs for every result)
        out: dict[str, Any] = {}
        for name in names:
            item = getattr(value, name)
            item_kind = type(item)
            if item_kind in _PLAIN:
                out[name] = item
            elif item_kind is float:
                out[name] = item if math.isfinite(item) else None
            else:
                out[name] = _jsonable(item)
        return out
    if kind is tuple or kind is list:
        if all(type(v) is int for v in value):
            return list(value)
        return [_jsonable(v) for v in value]
    if kind is dt.date or kind is dt.datetime:
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


_METRIC_FIELDS = ("value", "unit", "period")
_PROJECTION_FIELDS = (
    "value",
    "low",
    "high",
    "at",
    "model",
    "n_points",
    "residual_sd",
    "fit_from",
    "from_period",
    "from_value",
)


def _metric_dict(m: Metric | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return _fix({"value": m.value, "unit": m.unit, "period": m.period}, _METRIC_FIELDS)


def _projection_dict(p: Projection | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return _fix(
        {
            "value": p.value,
            "low": p.low,
            "high": p.high,
            "at": p.at,
            "model": p.model,
            "n_points": p.n_points,
            "residual_sd": p.residual_sd,
            "fit_from": p.fit_from,
            "from_period": p.from_period,
            "from_value": p.from_value,
        },
        _PROJECTION_FIELDS,
    )


def _ids(values: Any) -> Any:
    if type(values) is tuple and set(map(type, values)) <= _INT_ONLY:
        return list(values)
    return _jsonable(values)


_INT_ONLY = frozenset({int})


def _evidence_dict(e: Evidence) -> dict[str, Any]:
    return {"observation_ids": _ids(e.observation_ids), "fetch_run_ids": _ids(e.fetch_run_ids)}


def _fix(out: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Make the values of `names` in `out` what `_jsonable` makes of them (in place)."""
    for name in names:
        value = out[name]
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                out[name] = None
        elif kind in _PLAIN:
            continue
        elif kind is dt.date or kind is dt.datetime:
            out[name] = value.isoformat()
        elif kind in _ENUMS:
            out[name] = value.value
        else:
            out[name] = _jsonable(value)
    return out


_ENUMS = frozenset({State, Trend, Outcome})


_CRITERION_SCALARS = (
    "key",
    "type",
    "role",
    "context",
    "reason",
    "decided",
    "met",
    "trend",
    "threshold",
    "comparator",
    "margin",
    "progress",
    "probability",
    "required_growth",
    "observed_growth",
    "target_period",
    "data_expected_on",
    "final_after",
    "error",
)

_CRITERION_ORDER = (*_CRITERION_SCALARS, "details", *_SHARED_PARTS)


def _criterion_dict(r: CriterionResult) -> dict[str, Any]:
    """`_jsonable(r)` written out for CriterionResult (one per criterion of every result)."""
    if type(r) is not CriterionResult:
        return _jsonable(r)  # type: ignore[no-any-return]
    out = {
        "key": r.key,
        "type": r.type,
        "role": r.role,
        "context": r.context,
        "reason": r.reason,
        "decided": r.decided,
        "met": r.met,
        "trend": r.trend,
        "metric": _metric_dict(r.metric),
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "probability": r.probability,
        "projection": _projection_dict(r.projection),
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "target_period": r.target_period,
        "data_expected_on": r.data_expected_on,
        "final_after": r.final_after,
        "error": r.error,
        "details": _jsonable(r.details),
        "evidence": _evidence_dict(r.evidence),
    }
    return _fix(out, _CRITERION_SCALARS)


_RESULT_SCALARS = (
    "slug",
    "state",
    "trend",
    "reason",
    "threshold",
    "comparator",
    "margin",
    "progress",
    "required_growth",
    "observed_growth",
    "data_expected_on",
    "outcome",
    "provisional",
    "final_after",
    "evaluated_at",
    "as_of",
    "replay",
    "evaluator_version",
    "stable_until",
    "review_reason",
    "overdue_since",
    "probability",
)


def _result_dict(r: EvaluationResult) -> dict[str, Any]:
    """`_jsonable(r)` written out for EvaluationResult: the same dict, about twice as fast."""
    if type(r) is not EvaluationResult:
        return _jsonable(r)  # type: ignore[no-any-return]
    out = {
        "slug": r.slug,
        "state": r.state,
        "trend": r.trend,
        "reason": r.reason,
        "metric": _metric_dict(r.metric),
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "projection": _projection_dict(r.projection),
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "data_expected_on": r.data_expected_on,
        "outcome": r.outcome,
        "provisional": r.provisional,
        "final_after": r.final_after,
        "criteria": [_criterion_dict(c) for c in r.criteria],
        "evidence": _evidence_dict(r.evidence),
        "evaluated_at": r.evaluated_at,
        "as_of": r.as_of,
        "replay": r.replay,
        "evaluator_version": r.evaluator_version,
        "stable_until": r.stable_until,
        "review_reason": r.review_reason,
        "overdue_since": r.overdue_since,
        "probability": r.probability,
    }
    return _fix(out, _RESULT_SCALARS)


# --- numbers and periods ---


def decimal_year(day: dt.date) -> float:
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


@functools.lru_cache(maxsize=65_536)
def _x(period: str) -> float:
    return decimal_year(period_start(period))


def meets(value: float, comparator: str, threshold: float) -> bool:
    if comparator == ">=":
        return value >= threshold
    if comparator == ">":
        return value > threshold
    if comparator == "<=":
        return value <= threshold
    return value < threshold


def signed_margin(value: float, comparator: str, threshold: float) -> float:
    """value − threshold, signed so that a positive margin means the threshold is met."""
    return value - threshold if comparator in (">=", ">") else threshold - value


def _progress(value: float, comparator: str, threshold: float) -> float | None:
    if comparator in (">=", ">") and threshold > 0 and value >= 0:
        return min(1.0, value / threshold)
    if comparator in ("<=", "<") and value > 0 and threshold >= 0:
        return min(1.0, threshold / value)
    return None


def _cagr(first: float, last: float, years: float) -> float | None:
    if first <= 0 or last <= 0 or years <= 0:
        return None
    try:
        return float((last / first) ** (1.0 / years) - 1.0)
    except OverflowError:  # a factor beyond the float range within a fraction of a year
        return math.inf


# --- least squares ---


@dataclass(frozen=True)
class TrendFit:
    """An ordinary least-squares line y = intercept + slope·x (y = ln v for log-linear)."""

    model: str
    intercept: float
    slope: float
    n: int
    x_mean: float
    sxx: float
    residual_sd: float

    def half_width(self, x0: float) -> float:
        """Half the 95 % prediction interval of the line at x0, in fitted space (ln v for
        log-linear): t·s·sqrt(1 + 1/n + (x0 − x̄)²/Sxx)."""
        se = self.residual_sd * math.sqrt(1 + 1 / self.n + (x0 - self.x_mean) ** 2 / self.sxx)
        return t_95(self.n - 2) * se

    def predict(self, x0: float) -> tuple[float, float, float]:
        """The line's point forecast and 95 % prediction interval at x0."""
        return self._back(self.intercept + self.slope * x0, self.half_width(x0))

    def predict_from(
        self, x_from: float, value_from: float, x0: float
    ) -> tuple[float, float, float]:
        """Forecast at x0 starting from an observed (x_from, value_from) at the fitted rate:
        value_from·exp(slope·Δx) (log-linear; value_from > 0) or value_from + slope·Δx, with
        the line's prediction-interval half-width at x0 around it in fitted space."""
        if self.model == MODEL_LOG_LINEAR:
            centre = math.log(value_from) + self.slope * (x0 - x_from)
        else:
            centre = value_from + self.slope * (x0 - x_from)
        return self._back(centre, self.half_width(x0))

    def _back(self, centre: float, half: float) -> tuple[float, float, float]:
        """(value, low, high) from a centre and half-width in fitted space."""
        if self.model == MODEL_LOG_LINEAR:
            return _exp(centre), _exp(centre - half), _exp(centre + half)
        return centre, centre - half, centre + half


def _exp(y: float) -> float:
    """exp(y), infinity past the float range (a wild band, not a crash)."""
    return math.exp(y) if y < _LOG_FLOAT_MAX else math.inf


_LOG_FLOAT_MAX = math.log(1.7976931348623157e308)


def fit_trend(xs: Sequence[float], values: Sequence[float], model: str) -> TrendFit | None:
    """Least-squares fit; None with fewer than MIN_FIT_POINTS points or no spread in x."""
    n = len(xs)
    if n < MIN_FIT_POINTS:
        return None
    if model == MODEL_LOG_LINEAR and min(values) <= 0:
        model = MODEL_LINEAR
    ys = [math.log(v) for v in values] if model == MODEL_LOG_LINEAR else list(values)
    x_mean = math.fsum(xs) / n
    y_mean = math.fsum(ys) / n
    sxx = math.fsum((x - x_mean) ** 2 for x in xs)
    if sxx <= 0:
        return None
    sxy = math.fsum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = y_mean - slope * x_mean
    ssr = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    residual_sd = math.sqrt(ssr / (n - 2)) if n > 2 else 0.0
    return TrendFit(model, intercept, slope, n, x_mean, sxx, residual_sd)


# --- series expressions ---


@dataclass(frozen=True, slots=True)
class _ExprPoint:
    period: str
    start: dt.date
    value: float
    observation_ids: tuple[int, ...]
    fetch_run_ids: tuple[int, ...]
    known_from: dt.datetime


class _MissingSeries(LookupError):
    pass


def _expr_key(expr: SeriesExpr) -> str:
    if isinstance(expr, IndicatorRef):
        return f"i:{expr.indicator}"
    if isinstance(expr, Ratio):
        return f"r({_expr_key(expr.ratio[0])},{_expr_key(expr.ratio[1])})"
    if isinstance(expr, Difference):
        return f"d({_expr_key(expr.difference[0])},{_expr_key(expr.difference[1])})"
    return "s(" + ",".join(_expr_key(e) for e in expr.sum) + ")"


def _expr_points(
    expr: SeriesExpr, series: Mapping[str, SeriesData], memo: Memo | None = None
) -> list[_ExprPoint]:
    """The expression evaluated period by period (periods present in every operand), sorted."""
    if memo is not None:
        if type(expr) is IndicatorRef:  # the common case, without building the generic key
            data = series.get(expr.indicator)
            if data is None:
                raise _MissingSeries(expr.indicator)
            key: tuple[Any, ...] = ("expr1", expr.indicator, id(data))
            hit = memo.get(key)
            if hit is None:
                hit = memo[key] = (data, _expr_points(expr, series))  # data: keeps id unique
            return hit[1]  # type: ignore[no-any-return]
        datas = tuple(series.get(k) for k in expression_indicators(expr))
        key = ("expr", _expr_key(expr), tuple(id(d) for d in datas))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (datas, _expr_points(expr, series))  # datas: keeps ids unique
        return hit[1]  # type: ignore[no-any-return]
    if isinstance(expr, IndicatorRef):
        data = series.get(expr.indicator)
        if data is None:
            raise _MissingSeries(expr.indicator)
        return [
            _ExprPoint(
                p.period,
                p.period_start,
                float(p.value),
                (p.observation_id,) if p.observation_id is not None else (),
                (p.fetch_run_id,) if p.fetch_run_id is not None else (),
                p.known_from,
            )
            for p in data.points
            if p.value is not None and math.isfinite(p.value)
        ]
    if isinstance(expr, Ratio | Difference):
        operands = list(expr.ratio if isinstance(expr, Ratio) else expr.difference)
    else:
        operands = list(expr.sum)
    parts = [{p.period: p for p in _expr_points(e, series)} for e in operands]
    common = set(parts[0]).intersection(*parts[1:])
    out: list[_ExprPoint] = []
    for period in common:
        items = [part[period] for part in parts]
        values = [item.value for item in items]
        if isinstance(expr, Ratio):
            if values[1] == 0:
                continue
            value = values[0] / values[1]
        elif isinstance(expr, Difference):
            value = values[0] - values[1]
        else:
            value = math.fsum(values)
        out.append(
            _ExprPoint(
                period,
                items[0].start,
                value,
                tuple(i for item in items for i in item.observation_ids),
                tuple(i for item in items for i in item.fetch_run_ids),
                max(item.known_from for item in items),
            )
        )
    out.sort(key=lambda p: (p.start, p.period))
    return out


def _expr_model(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> str:
    if isinstance(expr, Ratio):
        return MODEL_LOG_LINEAR
    keys = expression_indicators(expr)
    hints = {series[k].projection_model for k in keys if k in series}
    if hints == {MODEL_LOG_LINEAR}:
        return MODEL_LOG_LINEAR
    if hints == {MODEL_LINEAR}:
        return MODEL_LINEAR
    if isinstance(expr, IndicatorRef | Sum) and all(
        k in series and series[k].unit in LOG_LINEAR_UNITS for k in keys
    ):
        return MODEL_LOG_LINEAR
    return MODEL_LINEAR


def _expr_meta(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> tuple[str, int, int]:
    """(frequency, publication lag, revision window) of an expression: the slowest operand's."""
    datas = [series[k] for k in expression_indicators(expr) if k in series]
    if not datas:
        return "annual", 0, 0
    return (
        datas[0].frequency,
        max(d.publication_lag_days for d in datas),
        max(d.revision_window_days for d in datas),
    )


def _expr_wait(expr: SeriesExpr, series: Mapping[str, SeriesData]) -> tuple[int, bool]:
    """(grace in days, gaps read as zero) of an expression: the longest grace of its operands;
    gaps read as zero only when every operand declares it."""
    datas = [series[k] for k in expression_indicators(expr) if k in series]
    if not datas:
        return default_grace_days("annual"), False
    grace = max(
        d.grace_days if d.grace_days is not None else default_grace_days(d.frequency) for d in datas
    )
    return grace, all(d.gaps == "zero" for d in datas)


def _in_period(point: _ExprPoint, period: str) -> bool:
    return period_start(period) <= point.start <= period_end(period)


def _point_at(
    points: Sequence[_ExprPoint], period: str, memo: Memo | None = None
) -> _ExprPoint | None:
    """The value for `period`: the exact period, else the last finer point inside it."""
    if memo is not None:
        key = ("at", id(points), period)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _point_at(points, period))  # points: keeps id unique
        return hit[1]  # type: ignore[no-any-return]
    first, last = period_start(period), period_end(period)
    inside = None
    for p in points:
        if p.period == period:
            return p
        if first <= p.start <= last:
            inside = p
    return inside


@functools.lru_cache(maxsize=4096)
def _window_periods(start: str, end: str, frequency: str) -> tuple[str, ...] | None:
    """The periods a window holds at a series' frequency (None when not enumerable: a "point"
    series of dated events or readings has no fixed periods). Windows repeat across claims:
    each is enumerated once."""
    if frequency == "point":
        return None
    kind = FREQUENCY_KIND.get(frequency)
    if kind is None:
        return None
    try:
        return tuple(periods_between(start, end, kind))
    except ValueError:
        return None


def _covered(points: Sequence[_ExprPoint], frequency: str) -> set[str]:
    """The periods (at `frequency`) the points give a reading for: a point's own period, and
    for finer points the period holding them."""
    kind = FREQUENCY_KIND.get(frequency)
    out = {p.period for p in points}
    if kind is not None:
        out.update(_period_of(p.start, kind) for p in points)
    return out


@functools.lru_cache(maxsize=65_536)
def _period_of(day: dt.date, kind: str) -> str:
    from tracker.periods import period_of

    return period_of(day, kind)  # type: ignore[arg-type]


def _gap_text(missing: Sequence[str], total: int, shown: int = 6) -> str:
    """ "2026-07-02, 2026-07-03 and 6 more (8 of 10 periods)": the periods a window lacks."""
    head = ", ".join(missing[:shown])
    more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
    return f"{head}{more} ({len(missing)} of {total} periods)"


def _first_overdue(periods: Sequence[str], lag: int, grace: int, today: dt.date) -> dt.date | None:
    """The expected date of the first of `periods` whose data is overdue on `today` (expected
    date + grace passed), else None."""
    for period in periods:
        expected = _expected_on(period, lag)
        if today > expected + dt.timedelta(days=grace):
            return expected
        if expected >= today:
            break  # later periods are due later still
    return None


def _in_window(point: _ExprPoint, start: str, end: str) -> bool:
    return period_start(start) <= point.start <= period_end(end)


# --- preparing inputs ---


def needed_since(criteria: Sequence[Criterion]) -> dict[str, dt.date]:
    """Per indicator, the earliest period start a criterion names (windows, baselines, periods).

    With `LOOKBACK_DAYS`, this bounds which observations an evaluation can use, so that the
    persistence layer loads only those (see `tracker.status`).
    """
    since: dict[str, dt.date] = {}

    def note(expr: SeriesExpr, period: str) -> None:
        day = period_start(period)
        for key in expression_indicators(expr):
            if key not in since or day < since[key]:
                since[key] = day

    for c in criteria:
        if isinstance(c, JudgedCriterion | SignalCriterion):
            continue
        if isinstance(c, ThresholdCriterion):
            if c.period is not None:
                note(c.series, c.period)
            if c.window is not None:
                note(c.series, c.window.start)
        elif c.window is not None:
            note(c.series, c.window.start)
        if isinstance(c.threshold, RelativeThreshold):
            base = c.threshold.baseline
            note(base.series or c.series, base.start)
    return since


def lookback_start(latest: dt.date, frequency: str) -> dt.date | None:
    """The earliest period start the fit may use, given a series' latest point (None: any)."""
    days = LOOKBACK_DAYS.get(frequency)
    if days is None:
        return None
    return latest - dt.timedelta(days=days)


def _prepare(
    series: Mapping[str, SeriesData],
    criteria: Sequence[Criterion],
    as_of: dt.datetime | None,
    memo: Memo | None = None,
) -> dict[str, SeriesData]:
    """Keep, per period, the latest vintage known at `as_of`, trimmed to what can be used."""
    since = needed_since(criteria)
    prepared: dict[str, SeriesData] = {}
    for key, data in series.items():
        if memo is not None:
            memo_key = ("prep", key, id(data), since.get(key), as_of)
            hit = memo.get(memo_key)
            if hit is None:
                hit = memo[memo_key] = (data, _prepare_one(key, data, since, as_of))
            prepared[key] = hit[1]
        else:
            prepared[key] = _prepare_one(key, data, since, as_of)
    return prepared


def _prepare_one(
    key: str, data: SeriesData, since: Mapping[str, dt.date], as_of: dt.datetime | None
) -> SeriesData:
    chosen: dict[str, SeriesPoint] = {}
    for p in data.points:
        if as_of is not None and p.known_from > as_of:
            continue
        current = chosen.get(p.period)
        if current is None or p.known_from > current.known_from:
            chosen[p.period] = p
    points = sorted(chosen.values(), key=lambda p: (p.period_start, p.period))
    if points:
        bound = lookback_start(points[-1].period_start, data.frequency)
        if bound is not None:
            if key in since:
                bound = min(bound, since[key])
            points = [p for p in points if p.period_start >= bound]
    return replace(data, points=tuple(points))


# --- criteria ---


@dataclass(frozen=True)
class _Context:
    today: dt.date
    claim: ClaimFacts
    memo: Memo | None = None


def _evidence(points: Sequence[_ExprPoint], memo: Memo | None = None) -> Evidence:
    if memo is not None:  # claims on one series use the same point objects: one Evidence each
        key = ("evidence", *map(id, points))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _evidence(points))  # points: keeps the ids unique
        return hit[1]  # type: ignore[no-any-return]
    obs = sorted({i for p in points for i in p.observation_ids})
    runs = sorted({i for p in points for i in p.fetch_run_ids})
    return Evidence(tuple(obs), tuple(runs))


def _baseline_level(
    baseline: Baseline, default: SeriesExpr, series: Mapping[str, SeriesData]
) -> tuple[float | None, dict[str, Any], list[_ExprPoint]]:
    points = [
        p
        for p in _expr_points(baseline.series or default, series)
        if _in_window(p, baseline.start, baseline.end)
    ]
    info: dict[str, Any] = {
        "baseline_window": f"{baseline.start}..{baseline.end}",
        "baseline_function": baseline.function,
        "baseline_points": len(points),
    }
    if not points:
        return None, info, points
    values = [p.value for p in points]
    if baseline.function == "mean":
        level = math.fsum(values) / len(values)
    elif baseline.function == "sum":
        level = math.fsum(values)
    else:
        level = points[0].value
    info["baseline_level"] = level
    return level, info, points


def _fit_points(points: Sequence[_ExprPoint]) -> list[_ExprPoint]:
    return list(points[-FIT_POINTS:])


TURN_MIN_CHANGES = 3  # a turn: at least this many latest changes against the fitted slope


def _since_turn(fitted: Sequence[_ExprPoint], slope: float) -> list[_ExprPoint] | None:
    """The points since a recent turn of the series, or None when there is none.

    A turn: the last k ≥ TURN_MIN_CHANGES period-over-period changes all have the sign opposite
    to the fitted slope (the series peaked or bottomed out k periods ago), leaving at least
    MIN_FIT_POINTS points from the turning point on.
    """
    if slope == 0:
        return None
    k = 0
    for before, after in zip(fitted[-2::-1], fitted[:0:-1], strict=True):
        if (after.value - before.value) * slope < 0:
            k += 1
        else:
            break
    if k >= TURN_MIN_CHANGES and MIN_FIT_POINTS <= k + 1 < len(fitted):
        return list(fitted[-(k + 1) :])
    return None


def _fit(
    points: Sequence[_ExprPoint], model: str
) -> tuple[TrendFit | None, list[_ExprPoint], str | None]:
    """The trend fit of a series: (fit, the points fitted, the period of a recent turn).

    The last FIT_POINTS points, or only those since a recent turn (see `_since_turn`).
    """
    fitted = _fit_points(points)
    fit = fit_trend([_x(p.period) for p in fitted], [p.value for p in fitted], model)
    if fit is None:
        return None, fitted, None
    turned = _since_turn(fitted, fit.slope)
    if turned is not None:
        refit = fit_trend([_x(p.period) for p in turned], [p.value for p in turned], model)
        if refit is not None:
            return refit, turned, turned[0].period
    return fit, fitted, None


def _model_text(fit: TrendFit, fit_from: str | None) -> str:
    """The fitted line's model: "linear", or "linear (since 2021)" after a recent turn."""
    return fit.model if fit_from is None else f"{fit.model} (since {fit_from})"


def _anchored_model_text(fit: TrendFit, fit_from: str | None) -> str:
    """The model of a projection from the latest point: "log-linear, from the latest point",
    or "log-linear since 2021, from latest" after a turn (at most 40 characters, the stored
    column's width, even for a daily turn: "log-linear since 2021-03-05, from latest")."""
    if fit_from is None:
        return f"{fit.model}, from the latest point"
    return f"{fit.model} since {fit_from}, from latest"


def _project(
    points: Sequence[_ExprPoint], model: str, at: str, memo: Memo | None = None
) -> tuple[Projection | None, TrendFit | None, float | None]:
    """Projection at period `at` from the latest point at the fitted rate, and that rate.

    The rate (the "observed growth", per year) is exp(slope) − 1 for a log-linear fit, and for a
    linear one the compound rate from the latest value to the projection (None where that is
    undefined: a non-positive value, or a target not after the latest point).
    """
    if memo is not None:
        key = ("proj", id(points), model, at)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _project(points, model, at))  # points: keeps id unique
        return hit[1]  # type: ignore[no-any-return]
    fit, fitted, fit_from = _fit(points, model)
    if fit is None:
        return None, None, None
    latest = fitted[-1]  # the fit window always ends at the latest point
    x_latest, x_at = _x(latest.period), _x(at)
    value, low, high = fit.predict_from(x_latest, latest.value, x_at)
    projection = Projection(
        value,
        low,
        high,
        at,
        _anchored_model_text(fit, fit_from),
        fit.n,
        fit.residual_sd,
        fit_from,
        latest.period,
        latest.value,
    )
    if fit.model == MODEL_LOG_LINEAR:
        observed: float | None = math.expm1(fit.slope) if fit.slope < _LOG_FLOAT_MAX else math.inf
    else:
        observed = _cagr(latest.value, value, x_at - x_latest)
    return projection, fit, observed


def _describe_threshold(comparator: str, threshold: float) -> str:
    return f"{comparator} {format_number(threshold)}"


def _versus(value: float, comparator: str, threshold: float) -> tuple[str, str]:
    """A value and the rule it is held against, printed with enough digits to differ
    ("69.63 misses <= 69.62", never "69.6 misses <= 69.6")."""
    value_text, threshold_text = format_pair(value, threshold)
    return value_text, f"{comparator} {threshold_text}"


def _threshold_text(threshold: float, *values: float | None) -> str:
    """The threshold with the digits it needs to differ from each value printed beside it in
    one reason (the latest value, the projection): 69.62 beside 69.63 and 69.61 alike."""
    texts = [format_pair(v, threshold)[1] for v in values if v is not None and math.isfinite(v)]
    return max(texts, key=len, default=format_number(threshold))


def _measured(
    c: ThresholdCriterion | GrowthCriterion | AggregateCriterion,
    series: Mapping[str, SeriesData],
    ctx: _Context,
) -> CriterionResult:
    base: dict[str, Any] = {
        "key": c.key,
        "type": c.type,
        "role": c.role,
        "context": c.role == "context",
    }
    try:
        expr = c.series
        if (
            type(expr) is IndicatorRef
            and c.unit is None
            and type(c) is ThresholdCriterion
            and (not isinstance(c.threshold, RelativeThreshold) or not c.threshold.baseline.series)
        ):
            # one indicator, no declared unit, a number or a baseline on the same series: the
            # unit is the indicator's (what `criterion_unit` answers, without its walk)
            data = series.get(expr.indicator)
            if data is None:
                raise _MissingSeries(expr.indicator)
            unit = data.unit
        else:
            if isinstance(c.threshold, RelativeThreshold):
                missing = [k for k in criterion_indicators(c) if k not in series]
            else:  # the same keys (a baseline is the only other series a criterion names)
                missing = [k for k in expression_indicators(c.series) if k not in series]
            if missing:
                raise _MissingSeries(missing[0])
            unit = criterion_unit(c, {k: s.unit for k, s in series.items()})
        points = _expr_points(c.series, series, ctx.memo)
    except _MissingSeries as exc:
        message = f"indicator {exc.args[0]!r} is not in the catalogue"
        return CriterionResult(**base, reason=message, error=message)
    except UnitError as exc:
        return CriterionResult(**base, reason=f"unit mismatch: {exc}", error=str(exc))

    threshold: float | None
    details: dict[str, Any] = {}
    used: list[_ExprPoint] = []
    if isinstance(c.threshold, RelativeThreshold):
        level, info, base_points = _baseline_level(c.threshold.baseline, c.series, series)
        details.update(info)
        used += base_points
        threshold = None if level is None else level * c.threshold.factor
        if threshold is not None:
            details["threshold_rule"] = (
                f"{c.threshold.factor:g} × {c.threshold.baseline.function} of "
                f"{c.threshold.baseline.start}..{c.threshold.baseline.end} "
                f"({format_number(level or 0.0)})"
            )
    else:
        threshold = float(c.threshold)
    frequency, lag, revision, model, upcoming = _series_facts(c.series, series, points, ctx.memo)
    if threshold is None:
        window = details.get("baseline_window")
        target = _target_period(c, ctx.claim)
        return CriterionResult(
            **base,
            reason=f"no data yet for the baseline {window}",
            trend=Trend.insufficient_data,
            comparator=c.comparator,
            target_period=target,
            data_expected_on=_expected_on(target, lag) if target else None,
            details=details,
        )
    if ctx.memo is not None:  # per series, like its facts (`points` stands for them)
        key = ("wait", id(points))
        hit = ctx.memo.get(key)
        if hit is None:
            hit = ctx.memo[key] = (points, _expr_wait(c.series, series))
        grace, gaps_zero = hit[1]
    else:
        grace, gaps_zero = _expr_wait(c.series, series)
    wait = _Wait(frequency, lag, grace, gaps_zero)
    if isinstance(c, ThresholdCriterion):
        result = _threshold(c, points, threshold, unit, model, lag, revision, ctx, wait)
    elif isinstance(c, GrowthCriterion):
        result = _growth(c, points, threshold, unit, model, lag, revision, ctx, wait)
    else:
        result = _aggregate(c, points, threshold, unit, model, frequency, lag, revision, ctx, wait)
    fields, used_points = result
    if fields.get("decided"):
        fields["probability"] = 1.0 if fields.get("met") else 0.0
    elif "probability" not in fields and fields.get("projection") is not None:
        fields["probability"] = projection_chance(
            fields["projection"], c.comparator, threshold, ctx.memo
        )
    merged = {**details, **fields.pop("details", {})}
    if upcoming is not None:
        merged["next_period"], merged["next_data_expected_on"] = upcoming
    recheck: list[dt.date] = fields.pop("recheck", []) + merged.pop("_recheck", [])
    if not fields.get("decided") and not fields.get("error"):
        recheck += _note_overdue(merged, fields.get("data_expected_on"), upcoming, grace, ctx.today)
    later = [d for d in recheck if d > ctx.today]
    if later:
        fields["recheck_on"] = min(later)
    return CriterionResult(
        **base,
        **fields,
        threshold=threshold,
        comparator=c.comparator,
        details=merged,
        evidence=_evidence(used + used_points, ctx.memo),
    )


def _note_overdue(
    details: dict[str, Any],
    expected: dt.date | None,
    upcoming: tuple[str, str] | None,
    grace: int,
    today: dt.date,
) -> list[dt.date]:
    """Set `overdue_since` (ISO date) in an undecided criterion's details when data it waits
    for is still missing at its expected date + grace: the deciding period's data, a window's
    period (already noted by the window), or the series' next release (its projection is only
    as current as its latest reading). Returns the days on which such data falls overdue."""
    since, recheck = _overdue_dates(expected, upcoming[1] if upcoming else None, grace, today)
    if "overdue_since" in details:
        since = min(details["overdue_since"], since) if since else details["overdue_since"]
    if since is not None:
        details["overdue_since"] = since
        details["grace_days"] = grace
    return list(recheck)


@functools.lru_cache(maxsize=8192)
def _overdue_dates(
    expected: dt.date | None, upcoming_due: str | None, grace: int, today: dt.date
) -> tuple[str | None, tuple[dt.date, ...]]:
    """(the earliest overdue due date as ISO text, or None; the days each due date falls
    overdue): the same few dates recur across the claims on one series."""
    allowed = dt.timedelta(days=grace)
    dues = [d for d in (expected, upcoming_due and dt.date.fromisoformat(upcoming_due)) if d]
    late = [due.isoformat() for due in dues if today > due + allowed]
    return (min(late) if late else None), tuple(due + allowed + _ONE_DAY for due in dues)


_ONE_DAY = dt.timedelta(days=1)


_Facts = tuple[str, int, int, str, tuple[str, str] | None]


def _series_facts(
    expr: SeriesExpr, series: Mapping[str, SeriesData], points: list[_ExprPoint], memo: Memo | None
) -> _Facts:
    """(frequency, lag, revision window, projection model, next release) of an expression.

    With a memo, `points` is the memoised list of this expression over these SeriesData, so its
    identity stands for them: computed once per series per run.
    """
    if memo is not None:
        key = ("facts", id(points))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (points, _series_facts(expr, series, points, None))
        return hit[1]  # type: ignore[no-any-return]
    frequency, lag, revision = _expr_meta(expr, series)
    model = _expr_model(expr, series)
    return frequency, lag, revision, model, _next_release(points, frequency, lag)


def _next_release(points: Sequence[_ExprPoint], frequency: str, lag: int) -> tuple[str, str] | None:
    """The period after the latest observed one, and when its data is due (ISO date)."""
    if not points or frequency == "point":
        return None
    latest = points[-1].period
    kind = FREQUENCY_KIND.get(frequency)
    try:
        if kind is None or period_kind(latest) != kind:
            return None
        following = next_period(latest)
    except ValueError:
        return None
    return following, _expected_on(following, lag).isoformat()


def _target_period(
    c: ThresholdCriterion | GrowthCriterion | AggregateCriterion, claim: ClaimFacts
) -> str | None:
    """The period whose data decides a criterion."""
    if isinstance(c, ThresholdCriterion) and c.mode == "at_period":
        return c.period
    window = c.window
    if window is not None:
        return window.end
    return str(claim.deadline.year) if claim.deadline else None


def _expected_on(period: str, lag: int) -> dt.date:
    return period_end(period) + dt.timedelta(days=lag)


def _final_after(expected: dt.date, points: Sequence[_ExprPoint], revision: int) -> dt.date:
    known = max([expected, *(p.known_from.date() for p in points)])
    return known + dt.timedelta(days=revision)


def _margin_fields(value: float, comparator: str, threshold: float) -> dict[str, Any]:
    return {
        "margin": signed_margin(value, comparator, threshold),
        "progress": _progress(value, comparator, threshold),
    }


# A projection too uncertain to call: a positive band spanning more than UNCERTAIN_RATIO
# (two orders of magnitude, high/low), or any band wider than UNCERTAIN_WIDTH × |projected|.
UNCERTAIN_RATIO = 100.0
UNCERTAIN_WIDTH = 4.0


def too_uncertain(projection: Projection) -> bool:
    """Whether a projection's 95 % band is too wide to call on or off track."""
    return band_too_uncertain(projection.value, projection.low, projection.high)


def band_too_uncertain(value: float, low: float | None, high: float | None) -> bool:
    """`too_uncertain` from the numbers (a stored band's non-finite ends are None: too wide)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return True
    if low > 0 and high / low > UNCERTAIN_RATIO:
        return True
    return high - low > UNCERTAIN_WIDTH * abs(value)


def _trend_from(
    projection: Projection | None,
    comparator: str,
    threshold: float,
    observed: float | None = None,
    required: float | None = None,
) -> Trend:
    """on/off track by the projected value; insufficient_data without a usable projection.

    With the observed (trend) and required growth rates of a projection from the latest point,
    by comparing those: the projection meets the threshold exactly when the trend's rate meets
    the rate needed from the latest value (both are monotone in the value at the target), and
    comparing the rates the reader is shown keeps the verdict and the figures agreeing even
    where rounding would split the two comparisons.
    """
    if projection is None or too_uncertain(projection):
        return Trend.insufficient_data
    if observed is not None and required is not None:
        ok = meets(observed, comparator, required)
    else:
        ok = meets(projection.value, comparator, threshold)
    return Trend.on_track if ok else Trend.off_track


def projection_chance(
    projection: Projection, comparator: str, threshold: float, memo: Memo | None = None
) -> float | None:
    """The chance the projected quantity meets `comparator threshold` at the target, from the
    projection's predictive distribution: centre + se·T in fitted space (ln v for log-linear),
    T ~ Student-t(n − 2), se = the band's half-width / t₀.₉₇₅(n − 2) (as `TrendFit.half_width`
    made it). None without a usable band (too few points, non-finite or non-positive ends).

    For a window's mean or sum the band adds its periods' bounds and is not exactly t-shaped
    there: the same reading (centre the projection, half-width half the band) approximates it.
    A single projection has P ≥ ½ exactly when its value meets the threshold (the trend).
    `memo`: as `evaluate`'s; claims sharing a projection read its distribution once.
    """
    if memo is None:
        params = _chance_params(projection)
    else:
        key = ("chance", id(projection))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (projection, _chance_params(projection))  # keeps the id unique
        params = hit[1]
    if params is None:
        return None
    centre, scale, df, logged = params
    if not logged:
        return chance_to_meet(centre, scale, df, comparator, threshold)
    x = math.log(threshold) if threshold > 0 else -math.inf  # a positive quantity: any bar <= 0
    return chance_to_meet(centre, scale, df, comparator, x)


def _chance_params(projection: Projection) -> tuple[float, float, int, bool] | None:
    """(centre, scale, degrees of freedom, in ln space) of a projection's distribution."""
    df = projection.n_points - 2
    value, low, high = projection.value, projection.low, projection.high
    if df < 1 or not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
        return None
    if projection.model.startswith(MODEL_LOG_LINEAR):
        if value <= 0 or low <= 0:
            return None
        centre, half = math.log(value), math.log(high / low) / 2
    else:
        centre, half = value, (high - low) / 2
    return centre, max(half, 0.0) / t_95(df), df, projection.model.startswith(MODEL_LOG_LINEAR)


def claim_probability(
    state: State, claim: ClaimFacts, resolving: Sequence[CriterionResult]
) -> float | None:
    """The chance the claim comes true: 1 or 0 once resolved (true; false or partial); while it
    is open, upcoming or awaiting data, the product of its resolving criteria's chances (1 or 0
    for each one decided; taken as independent); None for judged claims, void, ambiguous,
    withdrawn, needs_review, error, or when a criterion has no projection to read it from."""
    if state is State.resolved_true:
        return 1.0
    if state in (State.resolved_false, State.resolved_partial):
        return 0.0
    if state not in (State.open, State.upcoming, State.awaiting_data):
        return None
    if claim.kind == ClaimKind.judged or any(r.type == "judged" for r in resolving):
        return None
    chance = 1.0
    for r in resolving:
        if r.decided:
            chance *= 1.0 if r.met else 0.0
        elif r.probability is None:
            return None
        else:
            chance *= r.probability
    return chance if resolving else None


def _projection_text(
    projection: Projection | None,
    memo: Memo | None = None,
    threshold: tuple[float, str] | None = None,
) -> str:
    """ "projected V (low–high)", with the turn the fit starts at, and a warning when the band
    is too wide to call or contains the threshold (`threshold`: its value and text)."""
    if memo is not None and projection is not None:  # projections are shared through the memo
        key = ("projection text", id(projection), threshold)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (projection, _projection_text(projection, None, threshold))
        return hit[1]  # type: ignore[no-any-return]
    if projection is None:
        return f"too few points to project (needs {MIN_FIT_POINTS})"
    beside = threshold[0] if threshold is not None else None
    text = (
        f"projected {format_number(projection.value, beside)} "
        f"({format_number(projection.low)}–{format_number(projection.high)})"
    )
    if projection.fit_from is not None:
        text += f" on the trend since its {projection.fit_from} turn"
    if too_uncertain(projection):
        text += ": too uncertain to call"
    elif threshold is not None and projection.low <= threshold[0] <= projection.high:
        text += f": the band includes {threshold[1]}, so this could go either way"
    return text


@dataclass(frozen=True, slots=True)
class _Wait:
    """What a criterion's completeness and overdue checks read of its series."""

    frequency: str
    lag: int
    grace: int
    gaps_zero: bool


def _threshold(
    c: ThresholdCriterion,
    points: list[_ExprPoint],
    threshold: float,
    unit: str,
    model: str,
    lag: int,
    revision: int,
    ctx: _Context,
    wait: _Wait,
) -> tuple[dict[str, Any], list[_ExprPoint]]:
    rule = _describe_threshold(c.comparator, threshold)
    latest = points[-1] if points else None
    fields: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if c.mode == "any_time_within":
        assert c.window is not None
        target = c.window.end
        inside = [p for p in points if _in_window(p, c.window.start, c.window.end)]
        hit = next((p for p in inside if meets(p.value, c.comparator, threshold)), None)
        expected = _expected_on(target, lag)
        fields.update(target_period=target, data_expected_on=expected)
        periods = _window_periods(c.window.start, c.window.end, wait.frequency)
        covered = _covered(inside, wait.frequency)
        # the sub-periods over, whose reading is missing (a gap in the data, or not out yet)
        missing = [q for q in (periods or ()) if q not in covered and period_end(q) < ctx.today]
        fields["recheck"] = _next_period_over(periods, ctx.today)
        if hit is None and wait.gaps_zero and meets(0.0, c.comparator, threshold):
            # a declared gap reads as zero, once its data is due: the first due gap meets it
            due = [q for q in missing if _expected_on(q, lag) < ctx.today]
            if due:
                gap = due[0]
                fields.update(
                    decided=True,
                    met=True,
                    metric=Metric(0.0, unit, gap),
                    final_after=_expected_on(gap, lag) + dt.timedelta(days=revision),
                    reason=f"no reading in {gap} (a gap reads as 0) meets {rule} within "
                    f"{c.window.start}–{c.window.end}",
                    details={"gaps": "zero"},
                    **_margin_fields(0.0, c.comparator, threshold),
                )
                return fields, []
        if hit is not None:
            hit_text, hit_rule = _versus(hit.value, c.comparator, threshold)
            fields.update(
                decided=True,
                met=True,
                metric=Metric(hit.value, unit, hit.period),
                final_after=_final_after(_expected_on(hit.period, lag), [hit], revision),
                reason=f"{hit_text} in {hit.period} meets {hit_rule} within "
                f"{c.window.start}–{c.window.end}",
                **_margin_fields(hit.value, c.comparator, threshold),
            )
            return fields, [hit]
        if periods is None:  # a "point" series: no sub-periods to require
            last_period_in = any(
                p.start >= period_start(_last_subperiod(target, p)) for p in inside
            )
            gaps: list[str] = [] if inside and last_period_in else [target]
        else:
            gaps = [] if wait.gaps_zero else missing
        window_over = ctx.today > period_end(target)
        complete = bool(inside or (wait.gaps_zero and periods)) and not gaps and window_over
        if wait.gaps_zero and complete:
            complete = ctx.today > expected  # gaps read as zero once the last period is due
        shown = inside[-1] if inside else latest
        if shown is not None:
            fields.update(
                metric=Metric(shown.value, unit, shown.period),
                **_margin_fields(shown.value, c.comparator, threshold),
            )
        if gaps and periods is not None:
            details.update(_gap_details(gaps, len(periods), lag, wait.grace, ctx.today))
        if complete:
            last, shown_rule = "", rule
            if shown is not None:
                shown_text, shown_rule = _versus(shown.value, c.comparator, threshold)
                last = f" (last {shown_text} in {shown.period})"
            fields.update(
                decided=True,
                met=False,
                final_after=_final_after(expected, inside[-1:], revision),
                reason=f"never met {shown_rule} within {c.window.start}–{c.window.end}{last}",
                details=details,
            )
            return fields, inside
        fields.update(_projected(points, latest, model, target, c.comparator, threshold, ctx))
        reason = _open_reason(
            latest, rule, threshold, target, fields, fields["projection"], ctx.memo
        )
        if gaps and periods is not None:
            reason = f"missing {_gap_text(gaps, len(periods))}; {reason}"
        fields["reason"] = reason
        fields["details"] = details
        return fields, _fit_points(points) + inside[-1:]

    assert c.period is not None
    target = c.period
    expected = _expected_on(target, lag)
    if c.read == "first_on_or_after":
        tolerance = c.tolerance_days or 0
        # the last reading that may decide it is dated `tolerance` days after the period
        expected = expected + dt.timedelta(days=tolerance)
        reading = _on_or_after(points, target, tolerance)
        so_far = reading
        if (
            reading is not None
            and reading.period != target
            and ctx.today <= _expected_on(target, lag)
        ):
            reading = None  # the period's own reading may still come: it is preferred
        details["read"] = f"first reading on or after {target}, within {tolerance} days"
        # a later reading may decide once the period's own is no longer awaited
        fields["recheck"] = [_expected_on(target, lag) + dt.timedelta(days=1)]
    else:
        reading, so_far = _decisive_at(points, target, wait.frequency, ctx.memo)
    fields.update(target_period=target, data_expected_on=expected)
    if reading is not None and ctx.today > period_end(target):
        ok = meets(reading.value, c.comparator, threshold)
        value_text, value_rule = _versus(reading.value, c.comparator, threshold)
        fields.update(
            metric=_metric_of(reading, unit, ctx.memo),
            decided=True,
            met=ok,
            final_after=_final_after(_expected_on(target, lag), [reading], revision),
            reason=f"{value_text} in {reading.period} {'meets' if ok else 'misses'} {value_rule}",
            details=details,
            **_margin_fields(reading.value, c.comparator, threshold),
        )
        return fields, [reading]
    if so_far is not None and period_start(so_far.period) <= period_end(target):
        ok = meets(so_far.value, c.comparator, threshold)
        value_text, value_rule = _versus(so_far.value, c.comparator, threshold)
        fields.update(
            metric=_metric_of(so_far, unit, ctx.memo),
            trend=Trend.on_track if ok else Trend.off_track,
            reason=f"{value_text} so far in {target} ({'meets' if ok else 'misses'} {value_rule})",
            details=details,
            **_margin_fields(so_far.value, c.comparator, threshold),
        )
        if ctx.today > period_end(target):
            fields["reason"] = (
                f"{value_text} in {so_far.period}, not yet the end of "
                f"{target} ({'meets' if ok else 'misses'} {value_rule} so far)"
            )
        return fields, [so_far]
    if latest is not None:
        fields.update(
            metric=_metric_of(latest, unit, ctx.memo),
            **_margin_fields(latest.value, c.comparator, threshold),
        )
    fields.update(_projected(points, latest, model, target, c.comparator, threshold, ctx))
    fields["reason"] = _open_reason(
        latest, rule, threshold, target, fields, fields["projection"], ctx.memo
    )
    fields["details"] = details
    return fields, _fit_points(points)


def _next_period_over(periods: Sequence[str] | None, today: dt.date) -> list[dt.date]:
    """The day after the window's period running on `today` ends (when a gap in it may show)."""
    for q in periods or ():
        end = period_end(q)
        if end >= today:
            return [end + dt.timedelta(days=1)]
    return []


def _gap_details(
    missing: Sequence[str], total: int, lag: int, grace: int, today: dt.date
) -> dict[str, Any]:
    """What a window lacks, for the criterion's details (and the overdue check)."""
    out: dict[str, Any] = {
        "missing_periods": list(missing[:12]),
        "periods_missing": len(missing),
        "periods_total": total,
    }
    overdue = _first_overdue(missing, lag, grace, today)
    if overdue is not None:
        out["overdue_since"] = overdue.isoformat()
    else:  # the first missing period falls overdue on this day
        out["_recheck"] = [_expected_on(missing[0], lag) + dt.timedelta(days=grace + 1)]
    return out


def _projected(
    points: list[_ExprPoint],
    latest: _ExprPoint | None,
    model: str,
    target: str,
    comparator: str,
    threshold: float,
    ctx: _Context,
) -> dict[str, Any]:
    """The projection to `target`, the observed (trend) and required growth, and the trend."""
    projection, _, observed = _project(points, model, target, ctx.memo)
    required = _required(latest, threshold, target) if latest is not None else None
    return {
        "projection": projection,
        "observed_growth": observed,
        "required_growth": required,
        "trend": _trend_from(projection, comparator, threshold, observed, required),
    }


def _metric_of(point: _ExprPoint, unit: str, memo: Memo | None) -> Metric:
    """A point's value as a Metric: one object per point and unit with a memo (so that many
    results reading a series' latest point share it, and its JSON; see `serialise`)."""
    if memo is None:
        return Metric(point.value, unit, point.period)
    key = ("metric", id(point), unit)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (point, Metric(point.value, unit, point.period))  # keeps id unique
    return hit[1]  # type: ignore[no-any-return]


def _last_subperiod(target: str, point: _ExprPoint) -> str:
    """The last period of `target` at the granularity of `point` ("2030" → "2030-12")."""
    end = period_end(target)
    kind = period_kind(point.period)
    return end.isoformat() if kind == "day" else _period_of(end, kind)


def _decisive_at(
    points: Sequence[_ExprPoint], target: str, frequency: str, memo: Memo | None
) -> tuple[_ExprPoint | None, _ExprPoint | None]:
    """(the reading that decides `target`, the latest reading inside it so far).

    The period's own value decides it; a finer reading decides it only when it is of the last
    sub-period ("2030-12" for "2030"): before that the period is not over in the data (a
    source that stopped in March must not decide the year). A "point" series (dated events)
    has no last sub-period: its last reading inside the period decides it.
    """
    inside = _point_at(points, target, memo)
    if inside is None or inside.period == target or frequency == "point":
        return inside, inside
    if inside.start >= period_start(_last_subperiod(target, inside)):
        return inside, inside
    return None, inside


def _on_or_after(points: Sequence[_ExprPoint], target: str, tolerance: int) -> _ExprPoint | None:
    """read first_on_or_after: the target period's own reading, else the first reading whose
    period reaches into the target or starts after it by at most `tolerance` days."""
    first = period_start(target)
    latest_start = period_end(target) + dt.timedelta(days=tolerance)
    best: _ExprPoint | None = None
    for p in points:
        if p.period == target:
            return p
        if p.start > latest_start:
            break  # points are sorted by start
        if period_end(p.period) >= first and (best is None or p.start < best.start):
            best = p
    return best


def _required(latest: _ExprPoint, threshold: float, target: str) -> float | None:
    return _cagr(latest.value, threshold, _x(target) - _x(latest.period))


def _open_reason(
    latest: _ExprPoint | None,
    rule: str,
    threshold: float,
    target: str,
    fields: Mapping[str, Any],
    projection: Projection | None,
    memo: Memo | None = None,
) -> str:
    if latest is None:
        return f"no data yet; needs {rule} in {target}"
    latest_text, threshold_text = format_pair(latest.value, threshold)
    if projection is not None and math.isfinite(projection.value):
        threshold_text = max(threshold_text, format_pair(projection.value, threshold)[1], key=len)
    parts = [f"{latest_text} in {latest.period}"]
    required = fields.get("required_growth")
    observed = fields.get("observed_growth")
    # rates per year only over a year or more; over a shorter horizon, the change over it
    years = _x(target) - _x(latest.period)
    days = (period_start(target) - latest.start).days
    if required is not None:
        parts.append(
            f"needs {rate_text(required, years, days, observed)} to reach {threshold_text} "
            f"by {target}"
        )
    else:
        comparator = rule.split(" ", 1)[0]
        parts.append(f"needs {comparator} {threshold_text} by {target}")
    projected = _projection_text(projection, memo, (threshold, threshold_text))
    # the trend's rate beside the one needed: the verdict is their comparison
    parts.append(
        projected
        if observed is None
        else f"trend {rate_text(observed, years, days, required)}, {projected}"
    )
    return "; ".join(parts)


def _growth(
    c: GrowthCriterion,
    points: list[_ExprPoint],
    threshold: float,
    unit: str,
    model: str,
    lag: int,
    revision: int,
    ctx: _Context,
    wait: _Wait,
) -> tuple[dict[str, Any], list[_ExprPoint]]:
    def measure(first: float, last: float, years: float) -> float | None:
        rate = _cagr(first, last, years)
        if rate is None:
            return None
        return rate + 1.0 if c.measure == "annual_factor" else rate

    def as_rate(value: float) -> float:
        return value - 1.0 if c.measure == "annual_factor" else value

    def label(value: float) -> str:
        if c.measure == "annual_factor":
            return f"{format_number(value)}x/yr"
        return format_rate(value)

    def versus(value: float) -> tuple[str, str]:
        """The value and the rule, with enough digits to differ ("+5.08 %/yr misses >= +5.10")."""
        if c.measure == "annual_factor":
            value_text, threshold_text = format_pair(value, threshold)
            return f"{value_text}x/yr", f"{c.comparator} {threshold_text}x/yr"
        return format_rate(value, threshold), f"{c.comparator} {format_rate(threshold, value)}"

    rule = f"{c.comparator} {label(threshold)}"
    fields: dict[str, Any] = {"required_growth": as_rate(threshold)}
    if c.window is not None:
        target = c.window.end
        expected = _expected_on(target, lag)
        fields.update(target_period=target, data_expected_on=expected)
        start = _point_at(points, c.window.start)
        end, _ = _decisive_at(points, target, wait.frequency, None)
        if start is None:
            fields.update(
                trend=Trend.insufficient_data,
                reason=f"no value yet for {c.window.start}, the start of the growth window",
            )
            return fields, []
        years = _x(target) - _x(c.window.start)
        if end is not None and ctx.today > period_end(target):
            value = measure(start.value, end.value, years)
            if value is None:
                fields.update(
                    reason="growth undefined for non-positive values", error="non-positive"
                )
                return fields, [start, end]
            ok = meets(value, c.comparator, threshold)
            value_text, value_rule = versus(value)
            fields.update(
                decided=True,
                met=ok,
                metric=Metric(value, unit, f"{c.window.start}..{target}"),
                observed_growth=as_rate(value),
                final_after=_final_after(expected, [start, end], revision),
                reason=f"{value_text} from {c.window.start} to {target} "
                f"{'meets' if ok else 'misses'} {value_rule}",
                **_margin_fields(value, c.comparator, threshold),
            )
            return fields, [start, end]
        latest = points[-1]
        so_far = (
            measure(start.value, latest.value, _x(latest.period) - _x(start.period))
            if latest.start > start.start
            else None
        )
        if so_far is not None:
            fields.update(
                metric=Metric(so_far, unit, f"{start.period}..{latest.period}"),
                observed_growth=as_rate(so_far),
                **_margin_fields(so_far, c.comparator, threshold),
            )
        projection, _, _ = _project(points, model, target, ctx.memo)
        growth_projection = None
        if projection is not None:
            values = [
                measure(start.value, v, years)
                for v in (projection.value, projection.low, projection.high)
            ]
            if all(v is not None for v in values):
                v, lo, hi = (float(x) for x in values if x is not None)
                # a rate now, not a level: the level it starts from is not its unit's
                growth_projection = replace(
                    projection, value=v, low=lo, high=hi, from_period=None, from_value=None
                )
        fields.update(
            projection=growth_projection,
            trend=_trend_from(growth_projection, c.comparator, threshold),
            probability=None,
        )
        if growth_projection is not None and projection is not None and start.value > 0:
            # the rate is monotone in the level at the target: read the level's distribution
            # at the level that rate needs
            factor = threshold if c.measure == "annual_factor" else 1.0 + threshold
            level = start.value * factor**years if factor > 0 else -math.inf
            fields["probability"] = projection_chance(projection, c.comparator, level)
        text = (
            f"{label(so_far)} so far since {start.period}"
            if so_far is not None
            else "no growth yet"
        )
        fields["reason"] = f"{text}; needs {rule} to {target}; " + (
            _projection_text(growth_projection, None, (threshold, label(threshold)))
        )
        return fields, [start, *_fit_points(points)]

    # no window: each year over the previous one; decided at the claim's deadline, if any
    pairs = _year_over_year(points)
    year_target = str(ctx.claim.deadline.year) if ctx.claim.deadline else None
    if year_target is not None:
        fields.update(target_period=year_target, data_expected_on=_expected_on(year_target, lag))
    if not pairs:
        fields.update(trend=Trend.insufficient_data, reason="needs two consecutive years of data")
        return fields, []
    chosen = pairs[-1]
    if year_target is not None:
        at_year_target = next((pair for pair in pairs if pair[1].period == year_target), None)
        if at_year_target is not None and ctx.today > period_end(year_target):
            chosen = at_year_target
    before, after = chosen
    value = measure(before.value, after.value, _x(after.period) - _x(before.period))
    if value is None:
        fields.update(reason="growth undefined for non-positive values", error="non-positive")
        return fields, [before, after]
    ok = meets(value, c.comparator, threshold)
    value_text, value_rule = versus(value)
    fields.update(
        metric=Metric(value, unit, after.period),
        observed_growth=as_rate(value),
        **_margin_fields(value, c.comparator, threshold),
    )
    decided = (
        year_target is not None
        and after.period == year_target
        and ctx.today > period_end(year_target)
    )
    if decided:
        assert year_target is not None
        fields.update(
            decided=True,
            met=ok,
            final_after=_final_after(_expected_on(year_target, lag), [before, after], revision),
            reason=f"{value_text} in {after.period} over {before.period} "
            f"{'meets' if ok else 'misses'} {value_rule}",
        )
    else:
        # One year over the previous is noisy (a dip the year before inflates it): the trend
        # is judged on the sustained rate over the last TREND_YEARS years when there are any.
        latest_year = _x(after.period)
        span = [p for p in points if latest_year - TREND_YEARS <= _x(p.period) < latest_year]
        sustained = (
            measure(span[0].value, after.value, latest_year - _x(span[0].period))
            if span and latest_year - _x(span[0].period) > 1
            else None
        )
        text = f"{value_text} in {after.period} over {before.period}"
        if sustained is None:
            fields.update(
                trend=Trend.on_track if ok else Trend.off_track,
                reason=f"{text} ({'meets' if ok else 'misses'} {value_rule})",
            )
        else:
            # the headline is the sustained rate (metric, margin, progress, trend agree); the
            # single latest year stays in the details and the reason
            sustained_ok = meets(sustained, c.comparator, threshold)
            sustained_text, sustained_rule = versus(sustained)
            single = f"{format_number(value)}x" if c.measure == "annual_factor" else label(value)
            fields.update(
                trend=Trend.on_track if sustained_ok else Trend.off_track,
                metric=Metric(sustained, unit, f"{span[0].period}..{after.period}"),
                observed_growth=as_rate(sustained),
                reason=f"{sustained_text} sustained over {span[0].period}–{after.period} "
                f"({'meets' if sustained_ok else 'misses'} {sustained_rule}); "
                f"{single} in {after.period} over {before.period}",
                details={
                    "latest_year_value": value,
                    "latest_year_period": after.period,
                    "latest_year_over": before.period,
                    "latest_year_meets": ok,
                },
                **_margin_fields(sustained, c.comparator, threshold),
            )
            return fields, [span[0], before, after]
    return fields, [before, after]


TREND_YEARS = 5  # growth claims without a window: the sustained rate over this many years


def _year_over_year(points: Sequence[_ExprPoint]) -> list[tuple[_ExprPoint, _ExprPoint]]:
    by_start = {p.start: p for p in points}
    pairs = []
    for p in points:
        try:
            prior = p.start.replace(year=p.start.year - 1)
        except ValueError:  # 29 February
            prior = p.start.replace(year=p.start.year - 1, day=28)
        previous = by_start.get(prior)
        if previous is not None:
            pairs.append((previous, p))
    return pairs


def _aggregate(
    c: AggregateCriterion,
    points: list[_ExprPoint],
    threshold: float,
    unit: str,
    model: str,
    frequency: str,
    lag: int,
    revision: int,
    ctx: _Context,
    wait: _Wait,
) -> tuple[dict[str, Any], list[_ExprPoint]]:
    window = c.window
    target = window.end
    expected = _expected_on(target, lag)
    rule = _describe_threshold(c.comparator, threshold)
    span = f"{window.start}..{window.end}"
    inside = [p for p in points if _in_window(p, window.start, window.end)]
    periods = _window_periods(window.start, window.end, frequency)
    observed_periods = _covered(inside, frequency)
    total = len(periods) if periods is not None else len(inside)
    missing = [p for p in periods if p not in observed_periods] if periods is not None else []
    count = len(inside)
    observed_sum = math.fsum(p.value for p in inside)
    fields: dict[str, Any] = {"target_period": target, "data_expected_on": expected}
    details: dict[str, Any] = {
        "function": c.function,
        "window": span,
        "periods_observed": count,
        "periods_total": total,
    }

    def aggregate(total_sum: float) -> float:
        return total_sum / total if c.function == "mean" else total_sum

    if count:
        so_far = observed_sum / count if c.function == "mean" else observed_sum
        details["so_far"] = so_far
        fields.update(
            metric=Metric(so_far, unit, span), **_margin_fields(so_far, c.comparator, threshold)
        )
    complete = not missing and count > 0 and ctx.today > period_end(target)
    if wait.gaps_zero and periods is not None and not complete:
        # declared gaps read as zero: decided once the last period's data is due
        complete = ctx.today > expected
        if complete and missing:
            details["gaps"] = "zero"
            details["periods_read_as_zero"] = len(missing)
    # declared gaps read as zero: not missing data (nothing to wait for but the last period)
    ended_missing = [] if wait.gaps_zero else [q for q in missing if period_end(q) < ctx.today]
    fields["recheck"] = _next_period_over(periods, ctx.today)
    if ended_missing and not complete:
        details.update(_gap_details(ended_missing, total, lag, wait.grace, ctx.today))
    if complete:
        value = aggregate(observed_sum)
        ok = meets(value, c.comparator, threshold)
        value_text, rule = _versus(value, c.comparator, threshold)
        fields.update(
            decided=True,
            met=ok,
            metric=Metric(value, unit, span),
            final_after=_final_after(expected, inside[-1:], revision),
            reason=f"{c.function} {value_text} over {span} {'meets' if ok else 'misses'} {rule}",
            details=details,
            **_margin_fields(value, c.comparator, threshold),
        )
        return fields, inside
    remaining = total - count
    if remaining > 0:
        needed_total = threshold * total if c.function == "mean" else threshold
        needed = needed_total - observed_sum
        details["remaining_periods"] = remaining
        details["remaining_must_average"] = needed / remaining
    fit, _, fit_from = _fit(points, model)
    projection = None
    if fit is not None and missing:
        predictions = [fit.predict(_x(period)) for period in missing]
        value = aggregate(observed_sum + math.fsum(v for v, _, _ in predictions))
        # Interval: missing periods taken as perfectly correlated (sum of their bounds), the
        # conservative choice for a trend error that persists from year to year.
        low = aggregate(observed_sum + math.fsum(lo for _, lo, _ in predictions))
        high = aggregate(observed_sum + math.fsum(hi for _, _, hi in predictions))
        projection = Projection(
            value, low, high, target, _model_text(fit, fit_from), fit.n, fit.residual_sd, fit_from
        )
    fields.update(
        projection=projection,
        trend=_trend_from(projection, c.comparator, threshold),
        details=details,
    )
    threshold_text = _threshold_text(
        threshold, details.get("so_far"), projection.value if projection is not None else None
    )
    rule = f"{c.comparator} {threshold_text}"
    if count:
        so_far_text = format_pair(details["so_far"], threshold)[0]
        head = f"{c.function} {so_far_text} over {count} of {total} periods of {span}"
    else:
        head = f"no data yet for {span}"
    parts = [head, f"needs {rule}"]
    if ended_missing and count:
        parts.insert(1, f"missing {_gap_text(ended_missing, total)}")
    if remaining > 0 and count:
        parts.append(
            f"the remaining {remaining} must average "
            f"{format_number(details['remaining_must_average'])}"
        )
    parts.append(_projection_text(projection, None, (threshold, threshold_text)))
    fields["reason"] = "; ".join(parts)
    return fields, inside + _fit_points(points)


def _judged(c: JudgedCriterion) -> CriterionResult:
    return CriterionResult(
        key=c.key,
        type=c.type,
        role=c.role,
        context=c.role == "context",
        trend=Trend.not_applicable,
        reason=f"judged by a reviewer: {c.rubric}",
    )


def _signal(c: SignalCriterion, series: Mapping[str, SeriesData]) -> CriterionResult:
    base: dict[str, Any] = {"key": c.key, "type": c.type, "role": c.role, "context": True}
    try:
        units = {k: s.unit for k, s in series.items()}
        unit = expression_unit(c.series, units)
        points = _expr_points(c.series, series)
    except (_MissingSeries, KeyError) as exc:
        message = f"indicator {exc.args[0]!r} is not in the catalogue"
        return CriterionResult(**base, reason=message, error=message)
    except UnitError as exc:
        return CriterionResult(**base, reason=f"unit mismatch: {exc}", error=str(exc))
    if not points:
        return CriterionResult(**base, reason="no data yet")
    latest = points[-1]
    label = (c.note or c.key).rstrip().rstrip(".;:,")  # a note is often a full sentence
    text = f"{label}: {format_number(latest.value)} in {latest.period}"
    return CriterionResult(
        **base,
        reason=text,
        metric=Metric(latest.value, unit, latest.period),
        evidence=_evidence([latest]),
    )


def evaluate_criterion(
    criterion: Criterion,
    series: Mapping[str, SeriesData],
    *,
    today: dt.date,
    claim: ClaimFacts,
    memo: Memo | None = None,
) -> CriterionResult:
    """One criterion's result on `today` (series already as known then)."""
    if isinstance(criterion, JudgedCriterion):
        return _judged(criterion)
    if isinstance(criterion, SignalCriterion):
        return _signal(criterion, series)
    return _measured(criterion, series, _Context(today, claim, memo))


# --- the claim ---

_OUTCOME_STATE = {
    Outcome.true: State.resolved_true,
    Outcome.false: State.resolved_false,
    Outcome.partial: State.resolved_partial,
    Outcome.void: State.void,
    Outcome.ambiguous: State.ambiguous,
}


def outcome_state(outcome: str) -> State:
    """The state a resolution outcome puts a claim in."""
    return _OUTCOME_STATE[Outcome(outcome)]


def evaluate(
    claim: ClaimFacts,
    criteria: Sequence[Criterion],
    series: Mapping[str, SeriesData],
    *,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
    memo: Memo | None = None,
) -> EvaluationResult:
    """Evaluate a claim at `now`, or as the tracker would have at `as_of` (a replay).

    `series` may hold several vintages of a period: the one with the latest `known_from` not
    after `as_of` is used; points known only after `as_of` are ignored.

    `memo`: an optional dict shared by evaluations in one run over the SAME SeriesData objects
    (never mutated in between) and the same `as_of`; it caches per-series work (vintage
    selection, expressions, fits) so claims on one series fit it once. Results are identical
    with or without it.
    """
    if now.tzinfo is None or (as_of is not None and as_of.tzinfo is None):
        raise ValueError("evaluate() needs timezone-aware datetimes")
    moment = as_of if as_of is not None else now
    today = moment.astimezone(dt.UTC).date()
    prepared = _prepare(series, criteria, as_of, memo)
    results = tuple(
        evaluate_criterion(c, prepared, today=today, claim=claim, memo=memo) for c in criteria
    )
    resolving = [r for r in results if not r.context]
    primary = next(
        (r for r in resolving if r.type not in ("judged",) and r.error is None),
        next((r for r in resolving if r.type not in ("judged",)), None),
    )
    context = [r for r in results if r.context]
    if len(results) == 1:  # a criterion's evidence is already sorted and unique
        evidence = results[0].evidence
    else:
        evidence = Evidence(
            tuple(sorted({i for r in results for i in r.evidence.observation_ids})),
            tuple(sorted({i for r in results for i in r.evidence.fetch_run_ids})),
        )

    state, trend, reason, outcome, provisional, final_after, expected = _claim_state(
        claim, resolving, context, today
    )
    review_reason: str | None = None
    overdue_since: dt.date | None = None
    if state in _WAITING_STATES:
        overdue_since = _overdue_since(resolving)
        if overdue_since is not None:
            if claim.wait_until is not None and today <= claim.wait_until:
                reason += f"; data overdue since {overdue_since.isoformat()}, wait extended "
                reason += f"to {claim.wait_until.isoformat()}"
                overdue_since = None
            else:
                state = State.needs_review
                review_reason = REVIEW_DATA_OVERDUE
                what = _overdue_text(resolving)
                reason = (
                    f"data overdue since {overdue_since.isoformat()}: {what}; a reviewer "
                    f"voids the claim or extends the wait; {reason}"
                )
    headline = primary
    return EvaluationResult(
        slug=claim.slug,
        state=state,
        trend=trend,
        reason=reason,
        metric=headline.metric if headline else None,
        threshold=headline.threshold if headline else None,
        comparator=headline.comparator if headline else None,
        margin=headline.margin if headline else None,
        progress=headline.progress if headline else None,
        projection=headline.projection if headline else None,
        required_growth=headline.required_growth if headline else None,
        observed_growth=headline.observed_growth if headline else None,
        data_expected_on=expected,
        outcome=outcome,
        provisional=provisional,
        final_after=final_after,
        criteria=results,
        evidence=evidence,
        evaluated_at=now,
        as_of=as_of,
        replay=as_of is not None,
        stable_until=_stable_until(claim, results, final_after, today),
        review_reason=review_reason,
        overdue_since=overdue_since,
        probability=claim_probability(state, claim, resolving),
    )


REVIEW_DATA_OVERDUE = "data_overdue"
# the states in which a claim waits for data (and so may wait too long)
_WAITING_STATES = frozenset({State.open, State.upcoming, State.awaiting_data})


def _overdue_since(resolving: Sequence[CriterionResult]) -> dt.date | None:
    """The earliest date data a resolving measured criterion waits for was due, where it is
    still missing past that date + the indicator's grace (None: nothing overdue)."""
    dates = [
        r.details["overdue_since"]
        for r in resolving
        if r.type != "judged" and not r.decided and "overdue_since" in r.details
    ]
    return dt.date.fromisoformat(min(dates)) if dates else None


def _overdue_text(resolving: Sequence[CriterionResult]) -> str:
    """Which data is overdue, in words ("2026-07-03, 2026-07-05 (2 of 10 periods)")."""
    parts = []
    for r in resolving:
        if r.decided or "overdue_since" not in r.details:
            continue
        d = r.details
        if d.get("missing_periods"):
            shown = list(d["missing_periods"])
            more = d.get("periods_missing", len(shown)) - len(shown)
            text = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
        elif (
            r.target_period
            and r.data_expected_on
            and d["overdue_since"] == _iso(r.data_expected_on)
        ):
            text = f"data for {r.target_period}"
        elif d.get("next_period"):
            text = f"data for {d['next_period']} (the series' next release)"
        else:
            text = "data"
        parts.append(text)
    return "; ".join(parts) or "data"


def _stable_until(
    claim: ClaimFacts,
    results: Sequence[CriterionResult],
    final_after: dt.date | None,
    today: dt.date,
) -> dt.date | None:
    """The first day after `today` on which a date comparison in the evaluation flips."""
    one_day = dt.timedelta(days=1)
    candidates: list[dt.date] = []
    if claim.deadline is not None:
        candidates.append(claim.deadline + one_day)  # deadline passed: today > deadline
    if claim.window_start is not None:
        candidates.append(claim.window_start)  # upcoming: today < window_start
    if claim.resolution is not None and claim.resolution.final_after is not None:
        candidates.append(claim.resolution.final_after)
    if final_after is not None:
        candidates.append(final_after)  # provisional: today < final_after
    for r in results:
        if r.target_period is not None:
            candidates.append(period_end(r.target_period) + one_day)  # decided: today > end
        if r.data_expected_on is not None:
            candidates.append(r.data_expected_on + one_day)  # overdue: today > expected
        if r.final_after is not None:
            candidates.append(r.final_after)
        if r.recheck_on is not None:  # a window's period ends, data becomes overdue
            candidates.append(r.recheck_on)
    if claim.wait_until is not None:
        candidates.append(claim.wait_until + one_day)  # an extended wait ends
    future = [d for d in candidates if d > today]
    return min(future) if future else None


_StateParts = tuple[
    State, Trend | None, str, Outcome | None, bool | None, dt.date | None, dt.date | None
]


def _context_text(context: Sequence[CriterionResult]) -> str:
    shown = [r.reason for r in context if r.metric is not None]
    return f" (context: {'; '.join(shown)})" if shown else ""


def _claim_state(
    claim: ClaimFacts,
    resolving: Sequence[CriterionResult],
    context: Sequence[CriterionResult],
    today: dt.date,
) -> _StateParts:
    measured = [r for r in resolving if r.type != "judged"]
    judged = claim.kind == ClaimKind.judged or any(r.type == "judged" for r in resolving)
    resolution = claim.resolution
    deadline_passed = claim.deadline is not None and today > claim.deadline
    summary = _summary(measured)
    expected = _latest_expected(measured)

    if claim.lifecycle == Lifecycle.withdrawn:
        return (
            State.withdrawn,
            None,
            "withdrawn; no longer evaluated" + summary,
            None,
            None,
            None,
            None,
        )

    if resolution is not None and resolution.method == ResolutionMethod.manual:
        who = f" by {resolution.decided_by}" if resolution.decided_by else ""
        text = (
            f"resolved {resolution.outcome}{who} on {resolution.decided_at.date().isoformat()} "
            f"(reviewer's verdict)" + summary + _context_text(context)
        )
        return (
            outcome_state(resolution.outcome),
            None,
            text,
            None,
            resolution.provisional,
            resolution.final_after,
            None,
        )

    errors = [r for r in resolving if r.error is not None]
    if errors:
        return State.error, None, f"{errors[0].key}: {errors[0].reason}", None, None, None, None

    if judged:
        extra = _context_text(context)
        if claim.deadline is None:
            return (
                State.open,
                Trend.not_applicable,
                "judged by a reviewer; no deadline" + extra,
                None,
                None,
                None,
                None,
            )
        if deadline_passed:
            return (
                State.needs_review,
                Trend.not_applicable,
                f"deadline {claim.deadline.isoformat()} passed; a reviewer decides by the rubric"
                + extra,
                None,
                None,
                None,
                None,
            )
        state = State.upcoming if _before_window(claim, today) else State.open
        return (
            state,
            Trend.not_applicable,
            f"judged by a reviewer after the deadline {claim.deadline.isoformat()}" + extra,
            None,
            None,
            None,
            None,
        )

    if not measured:
        return State.open, Trend.insufficient_data, "no resolving criterion", None, None, None, None

    if all(r.decided for r in measured):
        met = [bool(r.met) for r in measured]
        outcome = Outcome.true if all(met) else Outcome.false if not any(met) else Outcome.partial
        final_after = max((r.final_after for r in measured if r.final_after), default=None)
        provisional = final_after is not None and today < final_after
        if len(measured) == 1:
            text = measured[0].reason
        else:
            text = f"{sum(met)} of {len(met)} criteria met"
        text += (
            f"; provisional until {final_after.isoformat()}"
            if provisional and final_after
            else "; final"
        )
        if resolution is not None and not resolution.provisional and resolution.outcome != outcome:
            return (
                State.needs_review,
                None,
                f"the data now say {outcome.value} but the final resolution was "
                f"{resolution.outcome}: {text}",
                outcome,
                provisional,
                final_after,
                None,
            )
        return outcome_state(outcome), None, text, outcome, provisional, final_after, None

    if resolution is not None and not resolution.provisional:
        # decided before, but the data no longer decide it (e.g. a period was withdrawn)
        return (
            outcome_state(resolution.outcome),
            None,
            f"resolved {resolution.outcome} (final); the current data no longer decide it",
            None,
            False,
            resolution.final_after,
            None,
        )

    trend = _combined_trend(measured)
    primary_reason = measured[0].reason if len(measured) == 1 else summary.lstrip("; ")
    if deadline_passed and claim.deadline is not None:
        when = f"expected on {expected.isoformat()}" if expected else "expected date unknown"
        overdue = " (overdue)" if expected is not None and today > expected else ""
        waiting = sorted({r.target_period for r in measured if not r.decided and r.target_period})
        return (
            State.awaiting_data,
            trend,
            f"deadline {claim.deadline.isoformat()} passed; waiting for "
            f"{', '.join(waiting) or 'the'} data, {when}{overdue}; {primary_reason}",
            None,
            None,
            None,
            expected,
        )
    # Before its window a hard claim is `upcoming` only while there is nothing to measure: with
    # data it is `open`, its trend projected to the target period ("3x by 2030" is tracked now).
    measurable = any(r.metric is not None for r in measured)
    state = State.upcoming if _before_window(claim, today) and not measurable else State.open
    return state, trend, primary_reason, None, None, None, expected


def _before_window(claim: ClaimFacts, today: dt.date) -> bool:
    return claim.window_start is not None and today < claim.window_start


def _combined_trend(measured: Sequence[CriterionResult]) -> Trend:
    trends = [Trend.on_track if r.decided and r.met else r.trend for r in measured]
    if any(
        t is Trend.off_track or (r.decided and not r.met)
        for t, r in zip(trends, measured, strict=True)
    ):
        return Trend.off_track
    if all(t is Trend.on_track for t in trends):
        return Trend.on_track
    return Trend.insufficient_data


def _latest_expected(measured: Sequence[CriterionResult]) -> dt.date | None:
    dates = [r.data_expected_on for r in measured if not r.decided and r.data_expected_on]
    return max(dates) if dates else None


def _summary(measured: Sequence[CriterionResult]) -> str:
    if not measured:
        return ""
    if len(measured) == 1:
        return f"; {measured[0].reason}"
    return "; " + "; ".join(f"{r.key}: {r.reason}" for r in measured)
