"""The criteria language: indicator discovery and unit checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import TypeAdapter

from tracker.criteria import (
    Criterion,
    SeriesExpr,
    UnitError,
    criterion_unit,
    expression_indicators,
    expression_unit,
)

EXPR = TypeAdapter(SeriesExpr)
CRITERION = TypeAdapter(Criterion)
NESTED = EXPR.validate_python(
    {
        "ratio": [
            {"sum": [{"indicator": "a"}, {"indicator": "b"}]},
            {"difference": [{"indicator": "c"}, {"indicator": "a"}]},
        ]
    }
)


def test_indicators_in_order_of_appearance_without_repeats():
    assert expression_indicators(NESTED) == ["a", "b", "c"]


def test_walking_an_expression_leaves_no_garbage_cycles():
    # in a fresh interpreter, so threads of other tests cannot add garbage of their own
    code = """
import gc
from pydantic import TypeAdapter
from tracker.criteria import SeriesExpr, expression_indicators
nested = TypeAdapter(SeriesExpr).validate_python(
    {"ratio": [{"sum": [{"indicator": "a"}, {"indicator": "b"}]}, {"indicator": "c"}]}
)
gc.collect()
gc.disable()
for _ in range(1000):
    expression_indicators(nested)
print(gc.collect())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert int(out.stdout.strip()) < 100  # a cycle per call would leave thousands


def test_units_of_ratio_difference_and_sum():
    units = {"a": "TWh", "b": "TWh", "c": "TWh"}
    assert expression_unit(NESTED, units) == "1"
    with pytest.raises(UnitError, match="different units"):
        expression_unit(NESTED, {"a": "TWh", "b": "%", "c": "TWh"})


def test_threshold_unit_must_match_the_series():
    ratio = CRITERION.validate_python(
        {
            "key": "r",
            "type": "threshold",
            "series": {"ratio": [{"indicator": "a"}, {"indicator": "b"}]},
            "threshold": 3.0,
            "period": "2030",
            "unit": "TWh",
        }
    )
    with pytest.raises(UnitError, match="does not match"):
        criterion_unit(ratio, {"a": "TWh", "b": "TWh"})
