"""Trend fitting, projections, uncertainty and the chance-of-coming-true hooks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.chance import chance_to_meet
from tracker.criteria import Baseline, SeriesExpr
from tracker.evaluation.compare import meets
from tracker.evaluation.model import ClaimFacts, CriterionResult, Memo, Projection, SeriesData
from tracker.evaluation.series import (
    MODEL_LINEAR,
    MODEL_LOG_LINEAR,
    _expr_points,
    _ExprPoint,
    _in_window,
    _x,
)
from tracker.evaluation.text import Part, count, en, msg, num, period
from tracker.models import ClaimKind, State, Trend
from tracker.numbers import format_number

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
    # as tracker.outlook's SQL rule writes it (a product, not high / low: the two differ at
    # float edges, and the badge and the outlook must not)
    if low > 0 and high > low * UNCERTAIN_RATIO:
        return True
    return high - low > abs(value) * UNCERTAIN_WIDTH


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
    threshold: tuple[float, str] | tuple[float, str, str] | None = None,
) -> str:
    """ "projected V (low–high)", with the turn the fit starts at, and a warning when the band
    is too wide to call or contains the threshold (`threshold`: its value and text, and the
    kind of that text as a part: "n" a number by default, "r"/"x" a rate)."""
    return en(_projection_part(projection, memo, threshold))


def _projection_part(
    projection: Projection | None,
    memo: Memo | None = None,
    threshold: tuple[float, str] | tuple[float, str, str] | None = None,
) -> Part:
    """`_projection_text` as parts (tracker.evaluation.text)."""
    if memo is not None and projection is not None:  # projections are shared through the memo
        key = ("projection part", id(projection), threshold)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (projection, _projection_part(projection, None, threshold))
        return hit[1]
    if projection is None:
        return msg("too few points to project (needs {n})", n=count(MIN_FIT_POINTS))
    beside = threshold[0] if threshold is not None else None
    part: Part = msg(
        "projected {value} ({low}–{high})",
        value=num(format_number(projection.value, beside)),
        low=num(format_number(projection.low)),
        high=num(format_number(projection.high)),
    )
    if projection.fit_from is not None:
        part = msg(
            "{projected} on the trend since its {turn} turn",
            projected=part,
            turn=period(projection.fit_from),
        )
    if too_uncertain(projection):
        part = msg("{projected}: too uncertain to call", projected=part)
    elif threshold is not None and projection.low <= threshold[0] <= projection.high:
        part = msg(
            "{projected}: the band includes {threshold}, so this could go either way",
            projected=part,
            threshold=[threshold[2] if len(threshold) > 2 else "n", threshold[1]],
        )
    return part
