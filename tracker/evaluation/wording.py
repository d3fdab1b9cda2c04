"""Reason-text helpers for the evaluator (the numeric formatter is tracker.numbers)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tracker.evaluation.model import CriterionResult
from tracker.evaluation.serialise import _iso
from tracker.numbers import format_number, format_pair


def _gap_text(missing: Sequence[str], total: int, shown: int = 6) -> str:
    """ "2026-07-02, 2026-07-03 and 6 more (8 of 10 periods)": the periods a window lacks."""
    head = ", ".join(missing[:shown])
    more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
    return f"{head}{more} ({len(missing)} of {total} periods)"


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


def _context_text(context: Sequence[CriterionResult]) -> str:
    shown = [r.reason for r in context if r.metric is not None]
    return f" (context: {'; '.join(shown)})" if shown else ""


def _summary(measured: Sequence[CriterionResult]) -> str:
    if not measured:
        return ""
    if len(measured) == 1:
        return f"; {measured[0].reason}"
    return "; " + "; ".join(f"{r.key}: {r.reason}" for r in measured)
