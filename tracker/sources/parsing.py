"""Small parsing helpers shared by the adapters: JSON/CSV decoding with clear ParseErrors,
numbers, and wrapping a lazy point stream so errors found while streaming keep provenance.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tracker.sources.base import (
    EmptyDataError,
    IndicatorSpec,
    ParseError,
    Point,
    RecordedResponse,
    SourceError,
)


def load_json(body: bytes, what: str) -> Any:
    """Decode a JSON body; malformed JSON → ParseError naming `what` and the position."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{what}: malformed JSON ({exc})") from None


def csv_rows(body: bytes) -> Iterator[list[str]]:
    """Stream CSV rows from a body (quoted newlines allowed) without building a list."""
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text, strict=True)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ParseError(f"malformed CSV ({exc})") from None


def column_index(header: Sequence[str], column: str, what: str) -> int:
    """Position of `column` in a CSV header; missing → ParseError (schema drift)."""
    try:
        return list(header).index(column)
    except ValueError:
        raise ParseError(
            f"{what}: expected column {column!r} is missing (schema drift); "
            f"header has {list(header)!r}"
        ) from None


def to_float(raw: Any, where: str) -> float | None:
    """A number from JSON/CSV text; "" / None / "." → None; garbage → ParseError naming `where`."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ParseError(f"{where}: expected a number, got {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = str(raw).strip()
        if text in ("", "."):
            return None
        try:
            value = float(text)
        except ValueError:
            raise ParseError(f"{where}: expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ParseError(f"{where}: expected a finite number, got {raw!r}")
    return value


def primed(
    points: Iterable[Point], responses: list[RecordedResponse], what: str
) -> Iterator[Point]:
    """Start a lazy point stream now: header/schema errors and empty data surface at fetch time.

    The rest stays lazy; any SourceError raised later still carries `responses`.
    """
    iterator = iter(points)
    try:
        first = next(iterator)
    except StopIteration:
        raise EmptyDataError(f"{what}: no data points", responses=responses) from None
    except SourceError as exc:
        if not exc.responses:
            exc.responses = responses
        raise
    return _with_provenance(itertools.chain([first], iterator), responses)


def _with_provenance(points: Iterator[Point], responses: list[RecordedResponse]) -> Iterator[Point]:
    try:
        yield from points
    except SourceError as exc:
        if not exc.responses:
            exc.responses = responses
        raise


def require_param(params: Any, name: str, source: str) -> str:
    """A required indicator parameter as a non-empty string; missing → SourceError(kind=config)."""
    value = params.get(name) if hasattr(params, "get") else None
    if value is None or str(value).strip() == "":
        raise SourceError(f"{source}: indicator parameter {name!r} is required", kind="config")
    return str(value).strip()


def year_range(spec: IndicatorSpec, current_year: int, default_start: int) -> range:
    """Years from params `years` ([a, b, ...] → min..max, or "2015..2025") or start/end_year."""
    years = spec.params.get("years")
    try:
        if isinstance(years, list | tuple) and years:
            start, end = min(int(y) for y in years), max(int(y) for y in years)
        elif isinstance(years, str) and ".." in years:  # "2015..2025"
            first, last = years.split("..", 1)
            start, end = int(first), int(last)
        else:
            start = int(spec.params.get("start_year", default_start))
            end = int(spec.params.get("end_year", current_year))
    except (TypeError, ValueError):
        raise SourceError(f"{spec.source}: bad year parameters", kind="config") from None
    if start > end:
        raise SourceError(f"{spec.source}: start_year {start} after end_year {end}", kind="config")
    return range(start, end + 1)
