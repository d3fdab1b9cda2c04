"""Small parsing helpers shared by the adapters: JSON/CSV decoding with clear ParseErrors,
numbers, and the re-iterable point stream of a fetch (errors found while streaming keep their
provenance; each page's periods are recorded).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
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
    except RecursionError:  # a body nested deeper than the parser goes: malformed for us
        raise ParseError(f"{what}: JSON nested too deeply to parse") from None


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


PageParser = Callable[[], Iterable[Point]]


@dataclass(slots=True)
class PageCoverage:
    """The periods one response body gave: how many points, and the first and last period."""

    rows: int = 0
    first: str | None = None
    last: str | None = None

    def add(self, period: str) -> None:
        self.rows += 1
        if self.first is None or period < self.first:
            self.first = period
        if self.last is None or period > self.last:
            self.last = period

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "first": self.first, "last": self.last}


class PointStream:
    """The points of one fetch, parsed from its recorded bodies each time it is iterated.

    Re-iterable: ingest checks a vintage (tracker.plausibility) in one pass and writes it in a
    second without holding every point in memory (the bodies are in memory already). Primed at
    construction, so header/schema errors and empty data surface at fetch time; a SourceError
    raised later still carries `responses`. Each pass records which periods each body gave
    (`coverage`): the provenance of every page of a multi-page fetch.
    """

    def __init__(
        self,
        pages: Sequence[tuple[RecordedResponse, PageParser]],
        responses: list[RecordedResponse],
        what: str,
    ) -> None:
        self.pages = list(pages)
        self.responses = responses
        self.coverage: dict[int, PageCoverage] = {}  # id(response) -> what it gave
        try:
            next(iter(self._points({})))
        except StopIteration:
            raise EmptyDataError(f"{what}: no data points", responses=responses) from None
        except SourceError as exc:
            if not exc.responses:
                exc.responses = responses
            raise

    def __iter__(self) -> Iterator[Point]:
        self.coverage = {}
        return _with_provenance(self._points(self.coverage), self.responses)

    def _points(self, coverage: dict[int, PageCoverage]) -> Iterator[Point]:
        for response, parse in self.pages:
            page = coverage.setdefault(id(response), PageCoverage())
            for point in parse():
                page.add(point.period)
                yield point

    def coverage_of(self, response: RecordedResponse) -> PageCoverage | None:
        """What `response` gave in the last complete pass (None: it is not a data page)."""
        return self.coverage.get(id(response))


def paged(
    responses: Sequence[RecordedResponse],
    parse: Callable[[RecordedResponse], Iterable[Point]],
    what: str,
    *,
    all_responses: list[RecordedResponse] | None = None,
) -> PointStream:
    """A PointStream parsing each of `responses` (the data pages, in order) with `parse`.

    `all_responses` (default: `responses`): every response of the fetch, for errors.
    """
    pages = [(response, _bind(parse, response)) for response in responses]
    return PointStream(pages, all_responses if all_responses is not None else list(responses), what)


def _bind(
    parse: Callable[[RecordedResponse], Iterable[Point]], response: RecordedResponse
) -> PageParser:
    return lambda: parse(response)


def _with_provenance(points: Iterator[Point], responses: list[RecordedResponse]) -> Iterator[Point]:
    try:
        yield from points
    except SourceError as exc:
        if not exc.responses:
            exc.responses = responses
        raise
    except RecursionError:  # a page nested deeper than a parser goes
        raise ParseError("a page is nested too deeply to parse", responses=responses) from None


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
