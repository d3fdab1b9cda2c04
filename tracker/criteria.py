"""The criteria language: what exactly makes a claim kept, as structured, unit-checked data.

A claim has a list of criteria. Each criterion has a `key`, a `role` (`resolves`: decides the
outcome; `context`: shown beside the claim, never used to resolve it) and a `type`:

- `threshold`  the value of a series expression at a period (`mode: at_period`), or at any
               period within a window (`mode: any_time_within`), compared with a threshold;
- `growth`     the growth of an expression over a window, as an annual factor (`10` = 10x/yr)
               or a CAGR (`0.05` = +5 %/yr), compared with a threshold;
- `aggregate`  the mean or sum of an expression over a window, compared with a threshold;
- `judged`     a written rubric for a human reviewer (the claim goes to review at its deadline);
- `signal`     a context series shown as-is (e.g. a prediction-market probability).

A threshold is a plain number, or relative to a baseline (`baseline` × `factor`), e.g. "the
2026–2035 mean is at least 1.5x the 2014–2023 mean".

Series expressions: `{indicator: KEY}`, `{ratio: [A, B]}`, `{difference: [A, B]}`,
`{sum: [A, B, ...]}`, evaluated period by period (periods present in every operand).

Units are checked: a ratio of equal units is dimensionless (`1`), a difference or sum needs
equal units, and a threshold's `unit`, when given, must equal the expression's unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tracker.bounds import check_period
from tracker.periods import PERIOD_PATTERN, is_period, period_start

DIMENSIONLESS = "1"

# the year within tracker.bounds (MIN_YEAR..MAX_YEAR): the evaluator does date arithmetic on it
Period = Annotated[
    str,
    Field(
        pattern=PERIOD_PATTERN,
        examples=["2030", "2030-Q2", "2026-12", "2026-W29", "2026-12-31"],
    ),
    AfterValidator(check_period),
]
Comparator = Literal[">=", ">", "<=", "<"]


class UnitError(ValueError):
    """Two quantities with incompatible units were combined or compared."""


# A check that spans fields of one model fails with this error type, naming the field to blame
# in its context: pydantic locates a model validator's error at the model, and the claim-file
# errors must name the field the writer has to fix (`criteria[0].period`, not the criterion).
FIELD_ERROR = "field_error"


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error of a model validator that belongs to `field` of the model."""
    return PydanticCustomError(FIELD_ERROR, message, {"field": field})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- series expressions ---


class IndicatorRef(_Strict):
    indicator: str = Field(description="Key of an indicator in the catalogue.")


class Ratio(_Strict):
    ratio: tuple[SeriesExpr, SeriesExpr] = Field(description="Numerator and denominator.")


class Difference(_Strict):
    difference: tuple[SeriesExpr, SeriesExpr]


class Sum(_Strict):
    sum: list[SeriesExpr] = Field(min_length=2)


SeriesExpr = IndicatorRef | Ratio | Difference | Sum


def expression_indicators(expr: SeriesExpr) -> list[str]:
    """Every indicator key an expression reads, in order of appearance, without repeats."""
    if type(expr) is IndicatorRef:  # the common case, on the evaluator's hot path
        return [expr.indicator]
    keys: list[str] = []
    stack: list[SeriesExpr] = [expr]
    # iterative (a recursive closure would make a reference cycle on every call)
    while stack:
        e = stack.pop()
        if isinstance(e, IndicatorRef):
            if e.indicator not in keys:
                keys.append(e.indicator)
        elif isinstance(e, Ratio):
            stack.extend(reversed(e.ratio))
        elif isinstance(e, Difference):
            stack.extend(reversed(e.difference))
        else:
            stack.extend(reversed(e.sum))
    return keys


def expression_unit(expr: SeriesExpr, units: Mapping[str, str]) -> str:
    """The unit of an expression given each indicator's unit; raises UnitError or KeyError."""
    if isinstance(expr, IndicatorRef):
        return units[expr.indicator]
    if isinstance(expr, Ratio):
        top, bottom = (expression_unit(e, units) for e in expr.ratio)
        if top == bottom:
            return DIMENSIONLESS
        if bottom == DIMENSIONLESS:
            return top
        return f"{top}/{bottom}"
    parts = list(expr.difference) if isinstance(expr, Difference) else list(expr.sum)
    part_units = [expression_unit(e, units) for e in parts]
    if len(set(part_units)) != 1:
        op = "difference" if isinstance(expr, Difference) else "sum"
        raise UnitError(f"{op} of quantities in different units: {', '.join(part_units)}")
    return part_units[0]


# --- thresholds ---


class Baseline(_Strict):
    """A reference level: `function` of `series` (default: the criterion's) over a window."""

    series: SeriesExpr | None = None
    function: Literal["mean", "sum", "value"] = "mean"
    start: Period
    end: Period


class RelativeThreshold(_Strict):
    baseline: Baseline
    factor: float = Field(gt=0, description="Threshold = baseline level × factor.")


class Window(_Strict):
    start: Period
    end: Period

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if not (is_period(self.start) and is_period(self.end)):
            return self  # "not a real period" is the claim linter's to say, per field
        if period_start(self.end) < period_start(self.start):
            raise field_error("end", f"expected an end on or after the start {self.start}")
        return self


class _CriterionBase(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=120)
    role: Literal["resolves", "context"] = "resolves"
    description: str | None = Field(default=None, description="The check in plain words.")


class _Compared(_CriterionBase):
    comparator: Comparator = ">="
    threshold: float | RelativeThreshold
    unit: str | None = Field(
        default=None, description="Unit of the threshold; must match the expression's unit."
    )


class ThresholdCriterion(_Compared):
    type: Literal["threshold"] = "threshold"
    series: SeriesExpr
    mode: Literal["at_period", "any_time_within"] = "at_period"
    period: Period | None = Field(default=None, description="For mode at_period.")
    window: Window | None = Field(default=None, description="For mode any_time_within.")
    read: Literal["in_period", "first_on_or_after"] = Field(
        default="in_period",
        description=(
            "For mode at_period. `in_period`: the period's own value (else the last finer "
            "reading inside it). `first_on_or_after`: for point-in-time series (prices, "
            "market probabilities, week-dated reports), the deadline day's own reading where "
            "one exists, else the reading whose period holds the day, else the first reading "
            "dated on or after it within `tolerance_days`."
        ),
    )
    tolerance_days: int | None = Field(
        default=None,
        ge=0,
        le=366,
        description="With read first_on_or_after: how many days after the period a reading "
        "may be dated and still decide it.",
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> ThresholdCriterion:
        if self.read == "first_on_or_after":
            if self.mode != "at_period":
                raise field_error("read", "first_on_or_after needs `mode: at_period`")
            if self.tolerance_days is None:
                raise field_error(
                    "tolerance_days",
                    "required with read first_on_or_after: expected a number of days, e.g. 7",
                )
        elif self.tolerance_days is not None:
            raise field_error("tolerance_days", "only with `read: first_on_or_after`")
        if self.mode == "at_period" and self.period is None:
            raise field_error(
                "period",
                'required with mode at_period: expected a period like "2030", "2030-06" or '
                '"2030-06-30"',
            )
        if self.mode == "any_time_within" and self.window is None:
            raise field_error(
                "window",
                'required with mode any_time_within: expected a window {start: "2026", end: '
                '"2030"}',
            )
        return self


class GrowthCriterion(_Compared):
    type: Literal["growth"] = "growth"
    series: SeriesExpr
    measure: Literal["annual_factor", "cagr"] = "annual_factor"
    window: Window | None = Field(
        default=None,
        description="Growth from window start to end; none: each year over the previous one.",
    )


class AggregateCriterion(_Compared):
    type: Literal["aggregate"] = "aggregate"
    series: SeriesExpr
    function: Literal["mean", "sum"] = "mean"
    window: Window


class JudgedCriterion(_CriterionBase):
    type: Literal["judged"] = "judged"
    rubric: str = Field(min_length=10, description="What a reviewer weighs to decide.")
    outcomes: dict[str, str] = Field(
        default_factory=dict, description="Optional: what counts as true / false / partial."
    )


class SignalCriterion(_CriterionBase):
    type: Literal["signal"] = "signal"
    role: Literal["resolves", "context"] = "context"
    series: SeriesExpr
    note: str | None = None

    @model_validator(mode="after")
    def _context_only(self) -> SignalCriterion:
        if self.role != "context":
            raise field_error("role", "a signal is context only: expected `role: context`")
        return self


Criterion = Annotated[
    ThresholdCriterion | GrowthCriterion | AggregateCriterion | JudgedCriterion | SignalCriterion,
    Field(discriminator="type"),
]
MeasuredCriterion = ThresholdCriterion | GrowthCriterion | AggregateCriterion


def criterion_unit(criterion: MeasuredCriterion, units: Mapping[str, str]) -> str:
    """The unit the criterion compares in; raises UnitError on a mismatch."""
    unit = expression_unit(criterion.series, units)
    if isinstance(criterion, GrowthCriterion):
        unit = "x/yr" if criterion.measure == "annual_factor" else "1/yr"
    if isinstance(criterion.threshold, RelativeThreshold) and criterion.threshold.baseline.series:
        base_unit = expression_unit(criterion.threshold.baseline.series, units)
        if base_unit != expression_unit(criterion.series, units):
            raise UnitError(
                f"baseline in {base_unit} compared with a series in "
                f"{expression_unit(criterion.series, units)}"
            )
    if criterion.unit is not None and criterion.unit != unit:
        raise UnitError(
            f"threshold unit {criterion.unit!r} does not match the series unit {unit!r}"
        )
    return unit


def criterion_indicators(criterion: Criterion) -> list[str]:
    """Every indicator a criterion reads (baseline included)."""
    if isinstance(criterion, JudgedCriterion):
        return []
    keys = expression_indicators(criterion.series)
    threshold = getattr(criterion, "threshold", None)
    if isinstance(threshold, RelativeThreshold) and threshold.baseline.series is not None:
        keys += [k for k in expression_indicators(threshold.baseline.series) if k not in keys]
    return keys


Ratio.model_rebuild()
Difference.model_rebuild()
Sum.model_rebuild()
Baseline.model_rebuild()
