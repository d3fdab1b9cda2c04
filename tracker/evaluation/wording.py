"""Reason-text helpers for the evaluator (the numeric formatter is tracker.numbers)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tracker.evaluation.model import CriterionResult
from tracker.evaluation.serialise import _iso
from tracker.evaluation.text import Part, count, join, msg, num, period, rule
from tracker.numbers import (
    ANNUALISE_FROM_YEARS,
    change_over,
    format_change,
    format_number,
    format_pair,
    format_rate,
)


def parts_of(r: CriterionResult) -> Part:
    """A criterion's reason as parts (its English text when it has none)."""
    return r.reason if r.reason_parts is None else r.reason_parts


def _gap_text(missing: Sequence[str], total: int, shown: int = 6) -> str:
    """ "2026-07-02, 2026-07-03 and 6 more (8 of 10 periods)": the periods a window lacks."""
    head = ", ".join(missing[:shown])
    more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
    return f"{head}{more} ({len(missing)} of {total} periods)"


def _gap_part(missing: Sequence[str], total: int, shown: int = 6) -> Part:
    """`_gap_text` as parts."""
    head: Part = join(", ", [period(p) for p in missing[:shown]])
    if len(missing) > shown:
        head = msg("{periods} and {more} more", periods=head, more=count(len(missing) - shown))
    return msg(
        "{periods} ({missing} of {total} periods)",
        periods=head,
        missing=count(len(missing)),
        total=count(total),
    )


def _rule_part(comparator: str, threshold: float) -> Part:
    """`_describe_threshold` as parts."""
    return rule(comparator, num(format_number(threshold)))


def _versus_parts(value: float, comparator: str, threshold: float) -> tuple[Part, Part]:
    """`_versus` as parts."""
    value_text, threshold_text = format_pair(value, threshold)
    return num(value_text), rule(comparator, num(threshold_text))


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


def _overdue_part(resolving: Sequence[CriterionResult]) -> Part:
    """Which data is overdue, in words ("2026-07-03, 2026-07-05 (2 of 10 periods)")."""
    parts: list[Part] = []
    for r in resolving:
        if r.decided or "overdue_since" not in r.details:
            continue
        d = r.details
        text: Part
        if d.get("missing_periods"):
            shown = list(d["missing_periods"])
            more = d.get("periods_missing", len(shown)) - len(shown)
            text = join(", ", [period(p) for p in shown])
            if more > 0:
                text = msg("{periods} and {more} more", periods=text, more=count(more))
        elif (
            r.target_period
            and r.data_expected_on
            and d["overdue_since"] == _iso(r.data_expected_on)
        ):
            text = msg("data for {period}", period=period(r.target_period))
        elif d.get("next_period"):
            text = msg(
                "data for {period} (the series' next release)", period=period(d["next_period"])
            )
        else:
            text = msg("data")
        parts.append(text)
    return join("; ", parts) if parts else msg("data")


def _context_part(context: Sequence[CriterionResult]) -> Part:
    shown = [parts_of(r) for r in context if r.metric is not None]
    return msg(" (context: {items})", items=join("; ", shown)) if shown else ""


def _summary_part(measured: Sequence[CriterionResult]) -> Part:
    if not measured:
        return ""
    if len(measured) == 1:
        return msg("; {reason}", reason=parts_of(measured[0]))
    return msg(
        "; {items}",
        items=join("; ", [msg("{key}: {reason}", key=r.key, reason=parts_of(r)) for r in measured]),
    )


def _horizon_part(days: int) -> Part:
    """`tracker.numbers.horizon_text` as parts."""
    if days < 60:
        return msg("1 day") if days == 1 else msg("{n} days", n=count(days))
    return msg("{n} months", n=count(round(days / 30.4375)))


def _rate_part(rate: float, years: float, days: int, beside: float | None = None) -> Part:
    """`tracker.numbers.rate_text` as parts."""
    if years >= ANNUALISE_FROM_YEARS:
        return ["r", format_rate(rate, beside)]
    other = change_over(beside, years) if beside is not None else None
    return msg(
        "{change} in {horizon}",
        change=["c", format_change(change_over(rate, years), other)],
        horizon=_horizon_part(days),
    )
