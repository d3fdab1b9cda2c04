"""Evaluating one criterion: threshold, growth, aggregate, judged and signal rules."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tracker.criteria import (
    AggregateCriterion,
    Criterion,
    GrowthCriterion,
    IndicatorRef,
    JudgedCriterion,
    RelativeThreshold,
    SignalCriterion,
    ThresholdCriterion,
    UnitError,
    criterion_indicators,
    criterion_unit,
    expression_indicators,
    expression_unit,
)
from tracker.evaluation.compare import _margin_fields, meets
from tracker.evaluation.model import (
    ClaimFacts,
    CriterionResult,
    Memo,
    Metric,
    Projection,
    SeriesData,
)
from tracker.evaluation.projection import (
    _baseline_level,
    _cagr,
    _fit,
    _fit_points,
    _model_text,
    _project,
    _projection_part,
    _trend_from,
    projection_chance,
)
from tracker.evaluation.series import (
    _Context,
    _covered,
    _evidence,
    _expected_on,
    _expr_points,
    _expr_wait,
    _ExprPoint,
    _final_after,
    _first_overdue,
    _in_window,
    _last_subperiod,
    _metric_of,
    _MissingSeries,
    _next_period_over,
    _on_or_after,
    _overdue_dates,
    _point_at,
    _series_facts,
    _target_period,
    _window_periods,
    _x,
    period_end,
    period_start,
)
from tracker.evaluation.text import Part, en, join, msg, num, period
from tracker.evaluation.text import count as _count
from tracker.evaluation.text import rule as _rule
from tracker.evaluation.wording import (
    _gap_part,
    _rate_part,
    _rule_part,
    _threshold_text,
    _versus_parts,
)
from tracker.models import Trend
from tracker.numbers import format_number, format_pair, format_rate

# --- criteria ---


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
        parts = msg("indicator {key} is not in the catalogue", key=repr(exc.args[0]))
        message = en(parts)
        return CriterionResult(**base, reason=message, error=message, reason_parts=parts)
    except UnitError as exc:
        parts = msg("unit mismatch: {error}", error=str(exc))
        return CriterionResult(**base, reason=en(parts), error=str(exc), reason_parts=parts)

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
        parts = msg("no data yet for the baseline {window}", window=period(str(window)))
        return CriterionResult(
            **base,
            reason=en(parts),
            reason_parts=parts,
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
    reason_parts = fields.get("reason_parts")
    if reason_parts is not None:  # the English reason, from the parts every language reads
        fields["reason"] = en(reason_parts)
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
                    reason_parts=msg(
                        "no reading in {gap} (a gap reads as 0) meets {rule} within {start}–{end}",
                        gap=period(gap),
                        rule=_rule_part(c.comparator, threshold),
                        start=period(c.window.start),
                        end=period(c.window.end),
                    ),
                    details={"gaps": "zero"},
                    **_margin_fields(0.0, c.comparator, threshold),
                )
                return fields, []
        if hit is not None:
            hit_text, hit_rule = _versus_parts(hit.value, c.comparator, threshold)
            fields.update(
                decided=True,
                met=True,
                metric=Metric(hit.value, unit, hit.period),
                final_after=_final_after(_expected_on(hit.period, lag), [hit], revision),
                reason_parts=msg(
                    "{value} in {period} meets {rule} within {start}–{end}",
                    value=hit_text,
                    period=period(hit.period),
                    rule=hit_rule,
                    start=period(c.window.start),
                    end=period(c.window.end),
                ),
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
            last: Part = ""
            shown_rule = _rule_part(c.comparator, threshold)
            if shown is not None:
                shown_text, shown_rule = _versus_parts(shown.value, c.comparator, threshold)
                last = msg(
                    " (last {value} in {period})", value=shown_text, period=period(shown.period)
                )
            fields.update(
                decided=True,
                met=False,
                final_after=_final_after(expected, inside[-1:], revision),
                reason_parts=msg(
                    "never met {rule} within {start}–{end}{last}",
                    rule=shown_rule,
                    start=period(c.window.start),
                    end=period(c.window.end),
                    last=last,
                ),
                details=details,
            )
            return fields, inside
        fields.update(_projected(points, latest, model, target, c.comparator, threshold, ctx))
        reason = _open_reason(
            latest, c.comparator, threshold, target, fields, fields["projection"], ctx.memo
        )
        if gaps and periods is not None:
            reason = msg(
                "missing {gaps}; {reason}", gaps=_gap_part(gaps, len(periods)), reason=reason
            )
        fields["reason_parts"] = reason
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
        value_text, value_rule = _versus_parts(reading.value, c.comparator, threshold)
        fields.update(
            metric=_metric_of(reading, unit, ctx.memo),
            decided=True,
            met=ok,
            final_after=_final_after(_expected_on(target, lag), [reading], revision),
            reason_parts=msg(
                "{value} in {period} meets {rule}" if ok else "{value} in {period} misses {rule}",
                value=value_text,
                period=period(reading.period),
                rule=value_rule,
            ),
            details=details,
            **_margin_fields(reading.value, c.comparator, threshold),
        )
        return fields, [reading]
    if so_far is not None and period_start(so_far.period) <= period_end(target):
        ok = meets(so_far.value, c.comparator, threshold)
        value_text, value_rule = _versus_parts(so_far.value, c.comparator, threshold)
        fields.update(
            metric=_metric_of(so_far, unit, ctx.memo),
            trend=Trend.on_track if ok else Trend.off_track,
            reason_parts=msg(
                "{value} so far in {target} (meets {rule})"
                if ok
                else "{value} so far in {target} (misses {rule})",
                value=value_text,
                target=period(target),
                rule=value_rule,
            ),
            details=details,
            **_margin_fields(so_far.value, c.comparator, threshold),
        )
        if ctx.today > period_end(target):
            fields["reason_parts"] = msg(
                "{value} in {period}, not yet the end of {target} (meets {rule} so far)"
                if ok
                else "{value} in {period}, not yet the end of {target} (misses {rule} so far)",
                value=value_text,
                period=period(so_far.period),
                target=period(target),
                rule=value_rule,
            )
        return fields, [so_far]
    if latest is not None:
        fields.update(
            metric=_metric_of(latest, unit, ctx.memo),
            **_margin_fields(latest.value, c.comparator, threshold),
        )
    fields.update(_projected(points, latest, model, target, c.comparator, threshold, ctx))
    fields["reason_parts"] = _open_reason(
        latest, c.comparator, threshold, target, fields, fields["projection"], ctx.memo
    )
    fields["details"] = details
    return fields, _fit_points(points)


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


def _required(latest: _ExprPoint, threshold: float, target: str) -> float | None:
    return _cagr(latest.value, threshold, _x(target) - _x(latest.period))


def _open_reason(
    latest: _ExprPoint | None,
    comparator: str,
    threshold: float,
    target: str,
    fields: Mapping[str, Any],
    projection: Projection | None,
    memo: Memo | None = None,
) -> Part:
    if latest is None:
        return msg(
            "no data yet; needs {rule} in {target}",
            rule=_rule_part(comparator, threshold),
            target=period(target),
        )
    latest_text, threshold_text = format_pair(latest.value, threshold)
    if projection is not None and math.isfinite(projection.value):
        threshold_text = max(threshold_text, format_pair(projection.value, threshold)[1], key=len)
    parts: list[Part] = [
        msg("{value} in {period}", value=num(latest_text), period=period(latest.period))
    ]
    required = fields.get("required_growth")
    observed = fields.get("observed_growth")
    # rates per year only over a year or more; over a shorter horizon, the change over it
    years = _x(target) - _x(latest.period)
    days = (period_start(target) - latest.start).days
    if required is not None:
        parts.append(
            msg(
                "needs {rate} to reach {threshold} by {target}",
                rate=_rate_part(required, years, days, observed),
                threshold=num(threshold_text),
                target=period(target),
            )
        )
    else:
        parts.append(
            msg(
                "needs {rule} by {target}",
                rule=_rule(comparator, num(threshold_text)),
                target=period(target),
            )
        )
    projected = _projection_part(projection, memo, (threshold, threshold_text))
    # the trend's rate beside the one needed: the verdict is their comparison
    parts.append(
        projected
        if observed is None
        else msg(
            "trend {rate}, {projected}",
            rate=_rate_part(observed, years, days, required),
            projected=projected,
        )
    )
    return join("; ", parts)


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

    def versus(value: float) -> tuple[Part, Part]:
        """The value and the rule, with enough digits to differ ("+5.08 %/yr misses >= +5.10")."""
        if c.measure == "annual_factor":
            value_text, threshold_text = format_pair(value, threshold)
            return ["x", f"{value_text}x/yr"], _rule(c.comparator, ["x", f"{threshold_text}x/yr"])
        return ["r", format_rate(value, threshold)], _rule(
            c.comparator, ["r", format_rate(threshold, value)]
        )

    def label_part(value: float) -> Part:
        return ["x" if c.measure == "annual_factor" else "r", label(value)]

    rule = _rule(c.comparator, label_part(threshold))
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
                reason_parts=msg(
                    "no value yet for {start}, the start of the growth window",
                    start=period(c.window.start),
                ),
            )
            return fields, []
        years = _x(target) - _x(c.window.start)
        if end is not None and ctx.today > period_end(target):
            value = measure(start.value, end.value, years)
            if value is None:
                fields.update(
                    reason_parts=msg("growth undefined for non-positive values"),
                    error="non-positive",
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
                reason_parts=msg(
                    "{value} from {start} to {target} meets {rule}"
                    if ok
                    else "{value} from {start} to {target} misses {rule}",
                    value=value_text,
                    start=period(c.window.start),
                    target=period(target),
                    rule=value_rule,
                ),
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
            msg(
                "{rate} so far since {period}",
                rate=label_part(so_far),
                period=period(start.period),
            )
            if so_far is not None
            else msg("no growth yet")
        )
        threshold_label = label_part(threshold)
        fields["reason_parts"] = msg(
            "{so_far}; needs {rule} to {target}; {projected}",
            so_far=text,
            rule=rule,
            target=period(target),
            projected=_projection_part(
                growth_projection, None, (threshold, threshold_label[1], threshold_label[0])
            ),
        )
        return fields, [start, *_fit_points(points)]

    # no window: each year over the previous one; decided at the claim's deadline, if any
    pairs = _year_over_year(points)
    year_target = str(ctx.claim.deadline.year) if ctx.claim.deadline else None
    if year_target is not None:
        fields.update(target_period=year_target, data_expected_on=_expected_on(year_target, lag))
    if not pairs:
        fields.update(
            trend=Trend.insufficient_data,
            reason_parts=msg("needs two consecutive years of data"),
        )
        return fields, []
    chosen = pairs[-1]
    if year_target is not None:
        at_year_target = next((pair for pair in pairs if pair[1].period == year_target), None)
        if at_year_target is not None and ctx.today > period_end(year_target):
            chosen = at_year_target
    before, after = chosen
    value = measure(before.value, after.value, _x(after.period) - _x(before.period))
    if value is None:
        fields.update(
            reason_parts=msg("growth undefined for non-positive values"), error="non-positive"
        )
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
            reason_parts=msg(
                "{value} in {period} over {before} meets {rule}"
                if ok
                else "{value} in {period} over {before} misses {rule}",
                value=value_text,
                period=period(after.period),
                before=period(before.period),
                rule=value_rule,
            ),
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
        if sustained is None:
            fields.update(
                trend=Trend.on_track if ok else Trend.off_track,
                reason_parts=msg(
                    "{value} in {period} over {before} (meets {rule})"
                    if ok
                    else "{value} in {period} over {before} (misses {rule})",
                    value=value_text,
                    period=period(after.period),
                    before=period(before.period),
                    rule=value_rule,
                ),
            )
        else:
            # the headline is the sustained rate (metric, margin, progress, trend agree); the
            # single latest year stays in the details and the reason
            sustained_ok = meets(sustained, c.comparator, threshold)
            sustained_text, sustained_rule = versus(sustained)
            single: Part = (
                ["f", f"{format_number(value)}x"]
                if c.measure == "annual_factor"
                else label_part(value)
            )
            fields.update(
                trend=Trend.on_track if sustained_ok else Trend.off_track,
                metric=Metric(sustained, unit, f"{span[0].period}..{after.period}"),
                observed_growth=as_rate(sustained),
                reason_parts=msg(
                    "{value} sustained over {start}–{end} (meets {rule}); "
                    "{single} in {period} over {before}"
                    if sustained_ok
                    else "{value} sustained over {start}–{end} (misses {rule}); "
                    "{single} in {period} over {before}",
                    value=sustained_text,
                    start=period(span[0].period),
                    end=period(after.period),
                    rule=sustained_rule,
                    single=single,
                    period=period(after.period),
                    before=period(before.period),
                ),
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
        value_part, rule_part = _versus_parts(value, c.comparator, threshold)
        fields.update(
            decided=True,
            met=ok,
            metric=Metric(value, unit, span),
            final_after=_final_after(expected, inside[-1:], revision),
            reason_parts=msg(
                "{function} {value} over {span} meets {rule}"
                if ok
                else "{function} {value} over {span} misses {rule}",
                function=["a", c.function],
                value=value_part,
                span=period(span),
                rule=rule_part,
            ),
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
    head: Part
    if count:
        so_far_text = format_pair(details["so_far"], threshold)[0]
        head = msg(
            "{function} {value} over {count} of {total} periods of {span}",
            function=["a", c.function],
            value=num(so_far_text),
            count=_count(count),
            total=_count(total),
            span=period(span),
        )
    else:
        head = msg("no data yet for {span}", span=period(span))
    parts: list[Part] = [
        head,
        msg("needs {rule}", rule=_rule(c.comparator, num(threshold_text))),
    ]
    if ended_missing and count:
        parts.insert(1, msg("missing {gaps}", gaps=_gap_part(ended_missing, total)))
    if remaining > 0 and count:
        parts.append(
            msg(
                "the remaining {n} must average {value}",
                n=_count(remaining),
                value=num(format_number(details["remaining_must_average"])),
            )
        )
    parts.append(_projection_part(projection, None, (threshold, threshold_text)))
    fields["reason_parts"] = join("; ", parts)
    return fields, inside + _fit_points(points)


def _judged(c: JudgedCriterion) -> CriterionResult:
    return CriterionResult(
        key=c.key,
        type=c.type,
        role=c.role,
        context=c.role == "context",
        trend=Trend.not_applicable,
        reason=f"judged by a reviewer: {c.rubric}",
        reason_parts=msg("judged by a reviewer: {rubric}", rubric=c.rubric),
    )


def _signal(c: SignalCriterion, series: Mapping[str, SeriesData]) -> CriterionResult:
    base: dict[str, Any] = {"key": c.key, "type": c.type, "role": c.role, "context": True}
    try:
        units = {k: s.unit for k, s in series.items()}
        unit = expression_unit(c.series, units)
        points = _expr_points(c.series, series)
    except (_MissingSeries, KeyError) as exc:
        parts = msg("indicator {key} is not in the catalogue", key=repr(exc.args[0]))
        message = en(parts)
        return CriterionResult(**base, reason=message, error=message, reason_parts=parts)
    except UnitError as exc:
        parts = msg("unit mismatch: {error}", error=str(exc))
        return CriterionResult(**base, reason=en(parts), error=str(exc), reason_parts=parts)
    if not points:
        return CriterionResult(**base, reason="no data yet", reason_parts=msg("no data yet"))
    latest = points[-1]
    label = (c.note or c.key).rstrip().rstrip(".;:,")  # a note is often a full sentence
    parts = msg(
        "{label}: {value} in {period}",
        label=label,
        value=num(format_number(latest.value)),
        period=period(latest.period),
    )
    return CriterionResult(
        **base,
        reason=en(parts),
        reason_parts=parts,
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
    if memo is None:
        return _measured(criterion, series, _Context(today, claim, memo))
    # A measured criterion reads its series, `today` and the claim's deadline, nothing else of
    # the claim: claims holding the same criterion (one parsed object per spec text) over the
    # same series objects and deadline get the same result, made once per run and shared (a
    # result is never modified after it is made).
    reads = memo.get(("reads", id(criterion)))
    if reads is None:
        reads = memo[("reads", id(criterion))] = (criterion, tuple(criterion_indicators(criterion)))
    datas = tuple([series.get(k) for k in reads[1]])
    key = ("criterion", id(criterion), claim.deadline, today, *map(id, datas))
    hit = memo.get(key)
    if hit is None:  # the criterion and the series are kept with it: their ids stay unique
        result = _measured(criterion, series, _Context(today, claim, memo))
        hit = memo[key] = (criterion, datas, result)
    return hit[2]  # type: ignore[no-any-return]
