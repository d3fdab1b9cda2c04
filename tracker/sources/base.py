"""The source protocol: what every provider adapter offers, and the values it returns.

An adapter has a pure `parse(...)` (recorded payload in, points out) and a thin `fetch(...)`
that builds the request(s) for one indicator and hands the bodies to `parse`. HTTP itself —
timeouts, retries, size limits, redirect policy, secret redaction — is `tracker.sources.http`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# period arithmetic lives in tracker.periods (the evaluator reads it without the sources);
# re-exported here for the modules that import it from the sources
from tracker.periods import period_end, period_start

__all__ = [
    "EmptyDataError",
    "IndicatorSpec",
    "ParseError",
    "Point",
    "RecordedResponse",
    "Source",
    "SourceError",
    "SourceResult",
    "period_end",
    "period_start",
]


@dataclass(frozen=True, slots=True)
class Point:
    """One value of a series: `period` is "2025", "2025-Q1", "2025-03", "2025-W09" or
    "2025-03-01" (see tracker.periods).

    `known_from` is set only when the upstream says since when this value was published
    (FRED/ALFRED vintages: the observation's `realtime_start`); otherwise None.
    """

    period: str
    value: float | None
    known_from: dt.date | None = None


@dataclass(frozen=True)
class IndicatorSpec:
    """What an adapter needs to know about one indicator (from the catalogue)."""

    key: str
    source: str
    params: Mapping[str, Any]
    unit: str
    frequency: str = "annual"


@dataclass(frozen=True)
class RecordedResponse:
    """One HTTP exchange, as kept for provenance (URL already stripped of secrets).

    `declared_bytes` is the Content-Length the server announced for an unencoded body (None:
    none announced, or the body was compressed on the wire) and `received_bytes` how many body
    bytes arrived (before secrets were scrubbed from `body`): fewer than announced is a body
    cut short (tracker.plausibility).
    """

    url: str
    status: int
    body: bytes
    content_type: str | None
    elapsed_ms: int
    attempts: int = 1
    declared_bytes: int | None = None
    received_bytes: int | None = None


@dataclass
class SourceResult:
    """What a fetch produced: the points (possibly lazy), every response, and metadata.

    `meta` may carry `last_updated` / `next_update` (dates) when the upstream says them.
    """

    points: Iterable[Point]
    responses: list[RecordedResponse] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


class SourceError(Exception):
    """A fetch or parse failed. `kind` is a short machine-readable label stored on the run."""

    kind: str = "error"

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        responses: list[RecordedResponse] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.responses = responses or []
        self.http_status = http_status


class ParseError(SourceError):
    """The payload is malformed, or its schema drifted (e.g. an expected column is missing)."""

    kind = "parse"


class EmptyDataError(SourceError):
    """The upstream answered but had no data for the indicator."""

    kind = "empty"


class Source(Protocol):
    """A provider adapter. Registered by `name` in `tracker.sources.REGISTRY`."""

    name: str
    needs_key: bool

    def fetch(self, http: Any, spec: IndicatorSpec) -> SourceResult:
        """Fetch one indicator through the shared `tracker.sources.http.HttpFetcher`."""
        ...

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """Parse one recorded response body into points (pure; raises ParseError)."""
        ...
