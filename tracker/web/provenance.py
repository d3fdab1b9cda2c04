"""Provenance as the API and the dashboard show it: every page a fetch read (URL, size, sha256
and the periods it gave), the page behind one stored value, and what became of a quarantined
vintage (why it was held back, and each decision since).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from tracker.models import FetchRun, QuarantineDecision
from tracker.quarantine import decisions_of, state_of


@dataclass(frozen=True, slots=True)
class Page:
    """One HTTP response of a fetch run (a page, for a multi-page fetch), 1-based `number`."""

    number: int
    url: str | None
    status: int | None
    bytes: int | None
    sha256: str | None
    content_type: str | None = None
    rows: int | None = None  # points this page gave (None: not recorded, e.g. an older run)
    first: str | None = None  # its first and last period
    last: str | None = None

    def holds(self, period: str) -> bool:
        """Whether this page gave `period` (its recorded first..last periods include it)."""
        return (
            self.first is not None and self.last is not None and self.first <= period <= self.last
        )

    @property
    def periods(self) -> str | None:
        """'1990–1999 (10 rows)', or None when not recorded."""
        if self.rows is None or self.first is None:
            return None
        span = self.first if self.first == self.last else f"{self.first}–{self.last}"
        return f"{span} ({self.rows} row{'s' if self.rows != 1 else ''})"


def pages_of(run: FetchRun) -> list[Page]:
    """Every response of the run as recorded; a run recorded before pages were (no
    meta.responses) shows its one URL and body."""
    recorded = (run.meta or {}).get("responses")
    if not isinstance(recorded, list) or not recorded:
        if run.url is None and run.body_sha256 is None:
            return []
        return [Page(1, run.url, run.http_status, run.bytes, run.body_sha256)]
    pages: list[Page] = []
    for number, item in enumerate(recorded, start=1):
        if not isinstance(item, dict):
            continue
        periods: dict[str, Any] = item.get("periods") or {}
        pages.append(
            Page(
                number=number,
                url=_text(item.get("url")),
                status=_int(item.get("status")),
                bytes=_int(item.get("bytes")),
                sha256=_text(item.get("sha256")),
                content_type=_text(item.get("content_type")),
                rows=_int(periods.get("rows")),
                first=_text(periods.get("first")),
                last=_text(periods.get("last")),
            )
        )
    return pages


def page_of(pages: Sequence[Page], period: str) -> Page | None:
    """The page that gave `period` (the first whose recorded periods include it)."""
    return next((page for page in pages if page.holds(period)), None)


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class QuarantineView:
    """A quarantined vintage as of a moment: its state, why it was held back, the decisions."""

    fetch_run_id: int
    state: str  # pending | confirmed | accepted | rejected | superseded
    reason: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    findings_total: int = 0
    decisions: list[QuarantineDecision] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.state == "pending"

    @property
    def decision(self) -> QuarantineDecision | None:
        """The decision that ended the quarantine (None while pending)."""
        return None if self.pending or not self.decisions else self.decisions[-1]


def quarantine_views(
    session: Session, runs: Iterable[FetchRun], as_of: dt.datetime | None = None
) -> dict[int, QuarantineView]:
    """For each run whose vintage was quarantined by `as_of` (None: now), what became of it by
    then: decisions made later are not shown (a replay sees the quarantine as it stood)."""
    quarantined = [run for run in runs if run.quarantined and run.id is not None]
    decisions = decisions_of(session, [run.id for run in quarantined if run.id is not None])
    out: dict[int, QuarantineView] = {}
    for run in quarantined:
        assert run.id is not None
        seen = [d for d in decisions.get(run.id, []) if as_of is None or d.decided_at <= as_of]
        state = state_of(seen)
        if state is None:
            continue
        recorded = (run.meta or {}).get("quarantine") or {}
        out[run.id] = QuarantineView(
            fetch_run_id=run.id,
            state=state,
            reason=str(recorded.get("reason") or seen[0].reason),
            findings=[f for f in recorded.get("findings") or [] if isinstance(f, dict)],
            findings_total=int(recorded.get("findings_total") or 0),
            decisions=seen,
        )
    return out
