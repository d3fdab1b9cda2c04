"""Comparing a value with a threshold: met or not, the signed margin, the progress."""

from __future__ import annotations

from typing import Any


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


def _margin_fields(value: float, comparator: str, threshold: float) -> dict[str, Any]:
    return {
        "margin": signed_margin(value, comparator, threshold),
        "progress": _progress(value, comparator, threshold),
    }
