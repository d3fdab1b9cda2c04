"""The bounds of every input tracker accepts: one place that says what text, numbers, dates and
identifiers may be, applied at each edge (the HTTP body and query, claim documents from files or
the API, pagination cursors).

- text: no NUL (PostgreSQL cannot store it in text) and no lone UTF-16 surrogate (it cannot be
  encoded to UTF-8, so neither database nor response can hold it);
- numbers: finite (NaN and ±infinity, or a literal like 1e400 that overflows to infinity, have no
  meaning in a threshold, a factor or a probability and are stored differently by each database);
- dates: years MIN_YEAR..MAX_YEAR (deadlines, stated dates, windows, criteria periods); the
  evaluator adds years and days to them, so year 9999 would overflow `datetime.date`;
- database ids: positive and within a signed 32-bit integer (PostgreSQL's INTEGER).

Pure: no clock, database or network. Each check returns a message (what is wrong, in plain
words) or None; the callers turn messages into their own 4xx or claim issue.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from typing import Any

MIN_YEAR = 1900
MAX_YEAR = 2200
# ids are INTEGER columns: 32-bit on PostgreSQL (64-bit on SQLite); the smaller bound for both
MAX_ID = 2**31 - 1
# a JSON body nested deeper than this is refused before anything walks it recursively
MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_PERIOD_YEAR = re.compile(r"^(\d{4})")


class OutOfBounds(ValueError):
    """An input outside tracker's bounds: `path` where it is, `field` that path dotted ("body"
    for the whole body), str() the message."""

    def __init__(
        self, path: tuple[str | int, ...] | str, message: str, kind: str = "out_of_bounds"
    ) -> None:
        super().__init__(message)
        self.path = (path,) if isinstance(path, str) else path
        self.field = ".".join(str(p) for p in self.path) or "body"
        self.message = message
        self.kind = kind


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "contains the NUL character (U+0000), which is not allowed"
    found = _SURROGATE.search(value)
    if found:
        return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"
    return None


def number_problem(value: float) -> str | None:
    """Why `value` is not an acceptable number, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    return None


def year_problem(year: int) -> str | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"the year {year} is outside the supported range {MIN_YEAR}-{MAX_YEAR}"
    return None


def date_problem(value: dt.date) -> str | None:
    """Why the date is out of the supported range, or None."""
    return year_problem(value.year)


def period_problem(value: str) -> str | None:
    """Why a period ("2030", "2030-06", "2030-06-30") is out of range, or None."""
    found = _PERIOD_YEAR.match(value)
    return year_problem(int(found.group(1))) if found else None


def check_date(value: dt.date) -> dt.date:
    """A pydantic AfterValidator: the date, or ValueError naming the supported range."""
    problem = date_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_period(value: str) -> str:
    """A pydantic AfterValidator for periods."""
    problem = period_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_text(value: str) -> str:
    """A pydantic AfterValidator for text."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def id_problem(value: Any) -> str | None:
    """Why `value` is not a database id (a positive int within int64), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer id"
    if not 1 <= value <= MAX_ID:
        return f"must be an id between 1 and {MAX_ID}"
    return None


def walk(data: Any, path: tuple[str | int, ...] = (), depth: int = 0) -> Iterator[OutOfBounds]:
    """Every value in parsed JSON/YAML data (keys included) that is out of bounds; each one's
    `path` is where it is (keys and list indexes), `field` that path dotted."""
    if depth > MAX_DEPTH:
        yield OutOfBounds(path, f"nested more than {MAX_DEPTH} levels deep", "too_deep")
        return
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            yield OutOfBounds(path, problem, "text")
    elif isinstance(data, float):
        problem = number_problem(data)
        if problem:
            yield OutOfBounds(path, problem, "finite_number")
    elif isinstance(data, dict):
        for key, value in data.items():
            problem = text_problem(str(key))
            if problem:
                yield OutOfBounds(path, f"a key {problem}", "text")
                continue
            yield from walk(value, (*path, str(key)), depth + 1)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from walk(value, (*path, index), depth + 1)


def _no_constant(name: str) -> float:
    raise OutOfBounds("body", f"{name} is not a number JSON allows; send a finite number")


def strict_json(text: str | bytes) -> Any:
    """json.loads without NaN/Infinity literals (OutOfBounds); may raise JSONDecodeError or
    RecursionError like json.loads. Numbers that overflow (1e400) are caught by `walk`."""
    return json.loads(text, parse_constant=_no_constant)
