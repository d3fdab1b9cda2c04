"""Plausibility gates: does a new vintage of an indicator look like data, or like damage?

Pure checks of one fetch (its parsed points, its response bodies) against the vintage in use and
the indicator's declared gates (tracker.indicators.PlausibilityGates). Ingest runs them before
anything is written; a vintage that fails one is quarantined (tracker.quarantine).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from tracker.indicators import PlausibilityGates
from tracker.observations import same_value
from tracker.sources.base import Point, RecordedResponse, period_end

Gate = Literal["revision", "range", "rows", "body"]
GATE_BATCH = 5_000
# findings kept for the record (the count of the rest is kept too): one bad fetch of a daily
# series must not write a megabyte of reasons
MAX_FINDINGS_KEPT = 50


@dataclass(frozen=True, slots=True)
class Finding:
    """One gate a vintage failed, in words (`message`) and, for a value, its period."""

    gate: Gate
    message: str
    period: str | None = None
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "message": self.message, "period": self.period}


@dataclass(frozen=True, slots=True)
class Held:
    """The value in use for one period, and since when it was known."""

    value: float | None
    known_from: dt.datetime


@dataclass(frozen=True, slots=True)
class Pending:
    """A quarantined vintage still undecided: its values by period, and its fetch's row count."""

    fetch_run_id: int
    values: Mapping[str, float | None]
    rows_seen: int


@dataclass
class VintageCheck:
    """What the gates found in one new vintage and what it would change.

    `confirms` is True when the vintage brings the values of the pending quarantined vintage
    again, from a whole body, and fails no gate that vintage had not failed in the same way.
    """

    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    rows_seen: int = 0
    changes: int = 0  # periods first seen or revised against the vintage in use
    confirms: bool = False

    @property
    def passed(self) -> bool:
        return self.findings_total == 0

    @property
    def quarantine(self) -> bool:
        """A vintage is held back when it fails a gate and would change something."""
        return not self.passed and self.changes > 0

    def reason(self, limit: int = 3) -> str:
        """The failures in one line: the first `limit`, then how many more."""
        shown = "; ".join(f.message for f in self.findings[:limit])
        more = self.findings_total - min(limit, len(self.findings))
        return shown + (f"; and {more} more" if more > 0 else "")

    def _add(self, finding: Finding) -> None:
        self.findings_total += 1
        if len(self.findings) < MAX_FINDINGS_KEPT:
            self.findings.append(finding)


def relative_revision(old: float | None, new: float | None) -> float | None:
    """|new - old| / |old|; a value withdrawn (None) is a revision of 100 %; from 0 any change
    is infinite; None when there was no value (a first value is not a revision)."""
    if old is None:
        return None
    if new is None:
        return 1.0
    if old == 0:
        return 0.0 if new == 0 else math.inf
    return abs(new - old) / abs(old)


def period_had_ended(period: str, when: dt.datetime) -> bool:
    """Whether `period` was over at `when` (a period this code cannot read counts as over:
    then its revisions are checked, never waved through)."""
    try:
        return period_end(period) < when.astimezone(dt.UTC).date()
    except (ValueError, IndexError):
        return True


def _number(value: float | None) -> str:
    if value is None:
        return "no value"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.10g}" if abs(value) >= 1e-4 else f"{value:.10g}"


def _percent(share: float) -> str:
    return f"{share * 100:.3g} %"


def _where(response: RecordedResponse) -> str:
    parts = urlsplit(response.url)
    return parts.path.rsplit("/", 1)[-1] or response.url if parts.scheme else response.url


def _is_csv(response: RecordedResponse) -> bool:
    kind = (response.content_type or "").lower()
    return "csv" in kind or urlsplit(response.url).path.lower().endswith(".csv")


def body_findings(responses: Sequence[RecordedResponse]) -> list[Finding]:
    """Bodies that were cut short: fewer bytes than their Content-Length announced, or a CSV
    body that stops inside its last row (no final line break: a cut inside the last value,
    e.g. `China,CHN,2025,10` for 10583.36, still parses as a number)."""
    found: list[Finding] = []
    for response in responses:
        if not 200 <= response.status < 300:
            continue
        received = (
            response.received_bytes if response.received_bytes is not None else len(response.body)
        )
        declared = response.declared_bytes
        if declared is not None and received < declared:
            found.append(
                Finding(
                    "body",
                    f"{_where(response)}: {received:,} of the {declared:,} bytes its "
                    "Content-Length announced arrived (cut short)",
                )
            )
        elif _is_csv(response) and response.body and not response.body.endswith((b"\n", b"\r")):
            last = response.body[response.body.rfind(b"\n") + 1 :][-80:]
            found.append(
                Finding(
                    "body",
                    f"{_where(response)}: the CSV ends inside its last row "
                    f"{last.decode('utf-8', errors='replace')!r} (no final line break: cut short)",
                )
            )
    return found


def _batches(points: Iterable[Point], size: int) -> Iterator[list[Point]]:
    batch: list[Point] = []
    for point in points:
        batch.append(point)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _vintage_time(point: Point) -> dt.datetime | None:
    known = point.known_from
    if known is None:
        return None
    if isinstance(known, dt.datetime):
        return known.astimezone(dt.UTC)
    return dt.datetime.combine(known, dt.time(), tzinfo=dt.UTC)


def check_vintage(
    points: Iterable[Point],
    *,
    gates: PlausibilityGates,
    held: Callable[[Sequence[str]], Mapping[str, Held]] | None,
    responses: Sequence[RecordedResponse] = (),
    previous_rows: int | None = None,
    pending: Pending | None = None,
    batch_size: int = GATE_BATCH,
) -> VintageCheck:
    """Run every gate over one new vintage, streaming `points` in batches.

    `held(periods)` gives the values in use for a batch of periods (None: nothing is in use,
    so nothing can be revised); `previous_rows` is the row count of the last fetch whose
    vintage was used; `pending` the quarantined vintage still undecided, which this one may
    confirm. A point older than the value in use (a FRED vintage) is history: not checked.
    """
    check = VintageCheck()
    if gates.complete_body:
        for finding in body_findings(responses):
            check._add(finding)
    structural = check.findings_total > 0
    unexplained = 0  # value findings the pending vintage does not account for
    matched: set[str] = set()  # pending periods brought again with the same value
    low, high = gates.min, gates.max
    for batch in _batches(points, batch_size):
        check.rows_seen += len(batch)
        in_use = held([p.period for p in batch]) if held is not None else {}
        for point in batch:
            period, value = point.period, point.value
            value_findings: list[Finding] = []
            if value is not None and (
                (low is not None and value < low) or (high is not None and value > high)
            ):
                bounds = f"[{_number(low) if low is not None else '-inf'}, "
                bounds += f"{_number(high) if high is not None else 'inf'}]"
                value_findings.append(
                    Finding(
                        "range",
                        f"{period}: {_number(value)} is outside the declared range {bounds}",
                        period,
                        value,
                    )
                )
            row = in_use.get(period)
            vintage = _vintage_time(point)
            if row is not None and vintage is not None and vintage < row.known_from:
                continue  # an older vintage than the one in use: already history
            if row is None:
                check.changes += 1
            elif not same_value(row.value, value):
                check.changes += 1
                share = relative_revision(row.value, value)
                limit = gates.max_revision
                if (
                    limit is not None
                    and share is not None
                    and share > limit
                    and period_had_ended(period, row.known_from)
                ):
                    change = "from 0" if math.isinf(share) else _percent(share)
                    value_findings.append(
                        Finding(
                            "revision",
                            f"{period}: {_number(row.value)} revised to {_number(value)} "
                            f"({change}), more than the {_percent(limit)} a period that had "
                            "ended may move",
                            period,
                            value,
                        )
                    )
            if (
                pending is not None
                and period in pending.values
                and same_value(pending.values[period], value)
            ):
                matched.add(period)
                value_findings = []  # the pending vintage failed on this same value
            for finding in value_findings:
                unexplained += 1
                check._add(finding)
    rows_explained = True
    if gates.max_row_drop is not None and previous_rows:
        floor = previous_rows * (1 - gates.max_row_drop)
        if check.rows_seen < floor:
            drop = 1 - check.rows_seen / previous_rows
            check._add(
                Finding(
                    "rows",
                    f"{check.rows_seen:,} rows, {_percent(drop)} fewer than the "
                    f"{previous_rows:,} of the last vintage used (at most "
                    f"{_percent(gates.max_row_drop)} fewer allowed)",
                )
            )
            rows_explained = pending is not None and pending.rows_seen == check.rows_seen
    check.confirms = (
        pending is not None
        and not structural
        and unexplained == 0
        and rows_explained
        and len(matched) == len(pending.values)
    )
    return check
