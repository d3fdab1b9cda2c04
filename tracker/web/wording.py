"""Plain words for the dashboard: criteria as sentences, states as labels, numbers as text.

Pure functions over the criteria language (tracker.criteria); no database, no clock.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tracker.criteria import (
    AggregateCriterion,
    Criterion,
    Difference,
    GrowthCriterion,
    IndicatorRef,
    JudgedCriterion,
    Ratio,
    RelativeThreshold,
    SeriesExpr,
    SignalCriterion,
    ThresholdCriterion,
)
from tracker.evaluation import TREND_YEARS, band_too_uncertain, decimal_year, period_start
from tracker.evaluation.text import Part, en, msg
from tracker.evaluation.wording import _rate_part
from tracker.i18n import current_lang, format_date
from tracker.i18n.catalogs import N_, _
from tracker.i18n.reasons import ja_period
from tracker.numbers import format_chance, format_quantity

COMPARATOR_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}

STATE_LABELS = {
    "upcoming": N_("upcoming"),
    "open": N_("open"),
    "awaiting_data": N_("awaiting data"),
    "needs_review": N_("needs review"),
    "resolved_true": N_("resolved: kept"),
    "resolved_false": N_("resolved: not kept"),
    "resolved_partial": N_("resolved: partly kept"),
    "void": N_("void"),
    "ambiguous": N_("ambiguous"),
    "withdrawn": N_("withdrawn"),
    "error": N_("error"),
}
TREND_LABELS = {
    "on_track": N_("on track"),
    "off_track": N_("off track"),
    "insufficient_data": N_("insufficient data"),
    "not_applicable": "",
}

_criterion_adapter: TypeAdapter[Any] = TypeAdapter(Criterion)


def state_label(state: str | None) -> str:
    """A state's label in the reader's language ("resolved: kept", "解決：実現")."""
    if not state:
        return _("not evaluated")
    label = STATE_LABELS.get(state)
    return _(label) if label else state.replace("_", " ")


def trend_label(trend: str | None) -> str:
    if not trend:
        return ""
    label = TREND_LABELS.get(trend)
    if label is None:
        return trend.replace("_", " ")
    return _(label) if label else ""


def date_at_precision(day: dt.date | None, precision: str | None = None) -> str:
    """A date as precisely as it is known: "2026-01" (month), "2026" (year), else the day."""
    if day is None:
        return "—"
    if precision == "year":
        period = f"{day.year:04d}"
    elif precision == "month":
        period = f"{day.year:04d}-{day.month:02d}"
    else:
        return format_date(day)
    # "2026年", "2026年1月": the reasons' period words (tracker.i18n.reasons.ja_period)
    return ja_period(period) if current_lang() == "ja" else period


@dataclass(frozen=True, slots=True)
class TrendBadge:
    """What the trend badge says: its label, and why it is uncertain (None: it is not)."""

    trend: str
    label: str
    uncertain_because: str | None = None
    # an uncertain trend's chance of coming true ("62 % chance"): shown in a neutral badge
    # instead of the trend's green or red
    chance: str | None = None


def band_straddles(low: float | None, high: float | None, threshold: float | None) -> bool:
    """Whether a projection's band contains the threshold (the evaluator's "could go either
    way" rule: low <= threshold <= high)."""
    if low is None or high is None or threshold is None:
        return False
    return all(math.isfinite(v) for v in (low, high, threshold)) and low <= threshold <= high


def trend_uncertain(
    trend: str | None,
    low: float | None = None,
    high: float | None = None,
    threshold: float | None = None,
) -> bool:
    """Whether a trend is "(uncertain)": on or off track by the projected value, while the
    projection's band straddles the threshold. The dashboard's badge, the API's
    `status.uncertain` and the exports' `uncertain` column all ask this."""
    return trend in ("on_track", "off_track") and band_straddles(low, high, threshold)


TOO_UNCERTAIN_LABEL = N_("too uncertain to call")


def trend_badge(
    trend: str | None,
    low: float | None = None,
    high: float | None = None,
    threshold: float | None = None,
    value: float | None = None,
    probability: float | None = None,
) -> TrendBadge | None:
    """The trend badge of a status: "on track" / "off track", or "on track (uncertain)" when the
    projection's band straddles the threshold. The stored trend is the evaluator's (the
    projected value decides it); this only says how firm it is. None: no badge.

    An `insufficient_data` trend with a projection (`value`) whose band is too wide to call
    (the evaluator's `too_uncertain` rule) says "too uncertain to call": the data are there,
    the trend through them says nothing. The stored trend stays `insufficient_data`.
    """
    label = trend_label(trend)
    if not trend or not label:
        return None
    if trend == "insufficient_data" and value is not None and band_too_uncertain(value, low, high):
        why = _(
            "The projection %(value)s has a range of %(low)s–%(high)s: too wide to say whether "
            "the claim is on track."
        ) % {"value": format_number(value), "low": format_number(low), "high": format_number(high)}
        return TrendBadge(trend, _(TOO_UNCERTAIN_LABEL), why)
    if trend_uncertain(trend, low, high, threshold):
        assert low is not None and high is not None and threshold is not None
        why = _(
            "The projection says %(trend)s, but its range %(low)s–%(high)s includes the "
            "threshold %(threshold)s: this could go either way."
        ) % {
            "trend": label,
            "low": format_number(low),
            "high": format_number(high),
            "threshold": format_number(threshold),
        }
        chance = format_chance(probability) if probability is not None else None
        return TrendBadge(trend, _("%(trend)s (uncertain)") % {"trend": label}, why, chance)
    return TrendBadge(trend, label)


def release_overdue(expected: dt.date, today: dt.date) -> bool:
    """Whether data expected on `expected` and not yet arrived is overdue on `today`: from the
    day after its expected date (on the day itself it is simply due)."""
    return expected < today


def expected_on_text(value: dt.date | str | None, today: dt.date) -> str:
    """ "expected 2025-01-30 (overdue)": a data release's expected date, marked overdue once
    past; the claim page, the overview's next deadlines and the calendar all say it this way."""
    if value is None or value == "":
        return _("expected date unknown")
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if release_overdue(day, today):
        return _("expected %(day)s (overdue)") % {"day": format_date(day)}
    return _("expected %(day)s") % {"day": format_date(day)}


def growth_needed_text(
    required: float,
    observed: float | None,
    from_period: str | None,
    to_period: str | None,
) -> str:
    """The growth needed (and the trend's) as the reason says it: per year over a year or
    more ("+5.08 %/yr (observed trend +5.10 %/yr)"), else the change over the horizon from
    the latest period to the target ("+6.7 % in 15 days (observed trend +3.1 % in 15 days)")."""
    return en(growth_needed_parts(required, observed, from_period, to_period))


def growth_needed_parts(
    required: float,
    observed: float | None,
    from_period: str | None,
    to_period: str | None,
) -> Part:
    """`growth_needed_text` as parts (tracker.evaluation.text), for any language."""
    years, days = 1.0, 365
    if from_period and to_period:
        try:
            start, end = period_start(from_period), period_start(to_period)
        except ValueError:
            pass
        else:
            years, days = decimal_year(end) - decimal_year(start), (end - start).days
    if years <= 0:
        years, days = 1.0, 365
    needed = _rate_part(required, years, days, observed)
    if observed is None:
        return needed
    return msg(
        "{rate} (observed trend {trend})",
        rate=needed,
        trend=_rate_part(observed, years, days, required),
    )


# the dashboard's `num` filter and chart labels: the one formatter of tracker.numbers
format_number = format_quantity


def parse_criterion(spec: Mapping[str, Any]) -> Any | None:
    """The typed criterion of a stored spec, or None when the spec does not validate."""
    try:
        return _criterion_adapter.validate_python(dict(spec))
    except ValidationError:
        return None


def describe_expression(expr: SeriesExpr, titles: Mapping[str, str]) -> str:
    if isinstance(expr, IndicatorRef):
        return titles.get(expr.indicator) or expr.indicator
    if isinstance(expr, Ratio):
        top, bottom = (describe_expression(e, titles) for e in expr.ratio)
        return f"ratio of {top} to {bottom}"
    if isinstance(expr, Difference):
        first, second = (describe_expression(e, titles) for e in expr.difference)
        return f"difference between {first} and {second}"
    parts = [describe_expression(e, titles) for e in expr.sum]
    return "sum of " + ", ".join(parts[:-1]) + " and " + parts[-1]


def _describe_threshold(
    threshold: float | RelativeThreshold,
    unit: str | None,
    titles: Mapping[str, str],
    *,
    percent: bool = False,
) -> str:
    if isinstance(threshold, RelativeThreshold):
        base = threshold.baseline
        what = describe_expression(base.series, titles) if base.series else "the same series"
        span = base.start if base.start == base.end else f"{base.start}–{base.end}"
        return f"{format_number(threshold.factor)}× the {base.function} of {what} over {span}"
    if percent:
        return f"{format_number(threshold * 100)} %/yr"
    return format_number(threshold, unit)


def describe_criterion(spec: Mapping[str, Any], titles: Mapping[str, str]) -> str:
    """One sentence saying what the criterion checks, e.g. "ratio of A to B in 2030 ≥ 3"."""
    criterion = parse_criterion(spec)
    if criterion is None:
        description = spec.get("description")
        return str(description) if description else f"{spec.get('type', 'criterion')} (unreadable)"
    if isinstance(criterion, JudgedCriterion):
        return _("A reviewer decides: %(rubric)s") % {"rubric": criterion.rubric}
    if isinstance(criterion, SignalCriterion):
        what = describe_expression(criterion.series, titles)
        return _("Context signal: %(what)s (shown beside the claim, never used to resolve it)") % {
            "what": what
        }
    what = describe_expression(criterion.series, titles)
    symbol = COMPARATOR_SYMBOLS.get(criterion.comparator, criterion.comparator)
    if isinstance(criterion, ThresholdCriterion):
        target = _describe_threshold(criterion.threshold, criterion.unit, titles)
        if criterion.mode == "any_time_within" and criterion.window is not None:
            w = criterion.window
            return f"{what} {symbol} {target} at any time from {w.start} to {w.end}"
        return f"{what} in {criterion.period} {symbol} {target}"
    if isinstance(criterion, GrowthCriterion):
        percent = criterion.measure == "cagr"
        target = _describe_threshold(criterion.threshold, None, titles, percent=percent)
        if criterion.window:
            span = f"from {criterion.window.start} to {criterion.window.end}"
            if percent:
                return f"annual growth rate of {what} {span} {symbol} {target}"
            return f"growth of {what} {span}, as a yearly factor, {symbol} {target}x per year"
        # no window: the evaluator judges the trend on the rate sustained over TREND_YEARS
        how = (
            f"(judged on the rate sustained over the last {TREND_YEARS} years; "
            "the latest year over the one before is shown too)"
        )
        verbs = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}
        amount = f"{target}" if percent else f"{target}x a year"
        if criterion.comparator in verbs:
            return f"{what} grows {verbs[criterion.comparator]} {amount} {how}"
        return f"yearly growth of {what} {symbol} {amount} {how}"
    assert isinstance(criterion, AggregateCriterion)
    target = _describe_threshold(criterion.threshold, criterion.unit, titles)
    w = criterion.window
    return f"{criterion.function} of {what} over {w.start}–{w.end} {symbol} {target}"


# One vocabulary for verdicts on every page (the API keeps the Outcome enum's values): the
# states say "resolved: kept", so the outcomes say "kept" too.
OUTCOME_LABELS = {
    "true": N_("kept"),
    "false": N_("not kept"),
    "partial": N_("partly kept"),
    "void": N_("void"),
    "ambiguous": N_("ambiguous"),
}
# What each outcome means when the claim's own rubric says nothing about it.
OUTCOME_MEANINGS = {
    "true": N_("The claim came true as its criteria read it."),
    "false": N_("The claim did not come true as its criteria read it."),
    "partial": N_("Part of the claim came true and part did not (say which in the rationale)."),
    "void": N_(
        "The claim cannot be judged as stated: its premise failed, the data or event it "
        "depends on will never exist, or it was overtaken (e.g. the measure was discontinued). "
        "Neither kept nor not kept: left out of the claimant's share kept."
    ),
    "ambiguous": N_(
        "The evidence exists but fits both readings: reasonable reviewers, reading the same "
        "rubric, would disagree. Neither kept nor not kept (left out of the share kept); a "
        "later verdict may settle it."
    ),
}


# stored words shown as they are in English (a fetch run's, a delivery's status, a verdict's
# method): the reader's words for them; unknown values are shown unchanged
STATUS_WORDS = {
    "ok": N_("ok"),
    "error": N_("error"),
    "running": N_("running"),
    "abandoned": N_("abandoned"),
    "pending": N_("pending"),
    "sending": N_("sending"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "auto": N_("auto"),
    "manual": N_("manual"),
}


def status_word(value: str | None) -> str:
    if not value:
        return ""
    word = STATUS_WORDS.get(value)
    return _(word) if word else value


def outcome_label(outcome: str | None) -> str:
    if not outcome:
        return _("no verdict")
    label = OUTCOME_LABELS.get(outcome)
    return _(label) if label else outcome.replace("_", " ")
