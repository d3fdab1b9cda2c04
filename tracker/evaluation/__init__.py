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
only over a horizon of a year or more. Each reason is built as structured parts (`text`: message
ids with typed arguments: numbers as printed, periods, days, rates, counts) and the English
`reason` is rendered from them; results keep the parts (`reason_parts`, not fingerprinted), the
stored evaluation keeps them in its details, and tracker.i18n.reasons renders them in another
language at read time with the same digits.

Modules (this package re-exports the names callers use, so `from tracker.evaluation import X`
keeps working): `model` the inputs and results; `compare` a value against its threshold;
`series` expression points, periods, windows, lookback and waits; `projection` trend fits,
projections, too-uncertain bands and the chance of coming true; `text` reason parts and their
English; `wording` reason-text helpers;
`rules` one criterion (threshold, growth, aggregate, judged, signal); `states` the claim state
machine (`evaluate`); `serialise` canonical JSON, the stored dicts and the fingerprint. Only
data flows down that list (states → rules → projection → series → model); nothing here imports
a clock, database or network (tests/test_evaluation_purity.py).
"""

from __future__ import annotations

from tracker.evaluation.compare import meets, signed_margin
from tracker.evaluation.model import (
    EVALUATOR_VERSION,
    ClaimFacts,
    CriterionResult,
    EvaluationResult,
    Evidence,
    Memo,
    Metric,
    Projection,
    ResolutionFacts,
    SeriesData,
    SeriesPoint,
    fast_frozen_init,
)
from tracker.evaluation.projection import (
    FIT_POINTS,
    MIN_FIT_POINTS,
    T_95,
    TURN_MIN_CHANGES,
    UNCERTAIN_RATIO,
    UNCERTAIN_WIDTH,
    Z_95,
    TrendFit,
    band_too_uncertain,
    claim_probability,
    fit_trend,
    projection_chance,
    t_95,
    too_uncertain,
)
from tracker.evaluation.rules import TREND_YEARS, evaluate_criterion
from tracker.evaluation.serialise import (
    _CRITERION_ORDER,
    Serialised,
    _jsonable,
    canonical_json,
    compact_json,
    fingerprint_of,
    json_once,
    serialise,
)
from tracker.evaluation.series import (
    LOG_LINEAR_UNITS,
    LOOKBACK_DAYS,
    MODEL_LINEAR,
    MODEL_LOG_LINEAR,
    decimal_year,
    lookback_start,
    needed_since,
    period_end,
    period_kind,
    period_start,
    remember_since,
)
from tracker.evaluation.states import REVIEW_DATA_OVERDUE, evaluate, outcome_state
from tracker.numbers import format_number, format_rate

__all__ = [
    "EVALUATOR_VERSION",
    "FIT_POINTS",
    "LOG_LINEAR_UNITS",
    "LOOKBACK_DAYS",
    "MIN_FIT_POINTS",
    "MODEL_LINEAR",
    "MODEL_LOG_LINEAR",
    "REVIEW_DATA_OVERDUE",
    "TREND_YEARS",
    "TURN_MIN_CHANGES",
    "T_95",
    "UNCERTAIN_RATIO",
    "UNCERTAIN_WIDTH",
    "Z_95",
    "_CRITERION_ORDER",
    "ClaimFacts",
    "CriterionResult",
    "EvaluationResult",
    "Evidence",
    "Memo",
    "Metric",
    "Projection",
    "ResolutionFacts",
    "Serialised",
    "SeriesData",
    "SeriesPoint",
    "TrendFit",
    "_jsonable",
    "band_too_uncertain",
    "canonical_json",
    "claim_probability",
    "compact_json",
    "decimal_year",
    "evaluate",
    "evaluate_criterion",
    "fast_frozen_init",
    "fingerprint_of",
    "fit_trend",
    "format_number",
    "format_rate",
    "json_once",
    "lookback_start",
    "meets",
    "needed_since",
    "outcome_state",
    "period_end",
    "period_kind",
    "period_start",
    "projection_chance",
    "remember_since",
    "serialise",
    "signed_margin",
    "t_95",
    "too_uncertain",
]
