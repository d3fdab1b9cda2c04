"""Marks on a verdict that a reader must not miss: decided early (on or before the claim's
deadline day, the day status.record_manual_resolution asks an early verdict's note for) and
overriding an earlier verdict (it supersedes one; both are kept). The claim page, the claim
lists, the API (`early`, `overrides` on each resolution) and the Atom feed all read these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tracker.i18n import format_date
from tracker.i18n.catalogs import _
from tracker.models import Claim, Resolution

# the states a verdict puts a claim in
VERDICT_STATES = frozenset(
    {"resolved_true", "resolved_false", "resolved_partial", "void", "ambiguous"}
)


def is_early(resolution: Resolution, deadline: dt.date | None) -> bool:
    """Decided before the deadline had passed (the deadline is the end of its UTC day)."""
    return deadline is not None and resolution.decided_at.astimezone(dt.UTC).date() <= deadline


def overrides(resolution: Resolution) -> bool:
    """It supersedes an earlier verdict (automatic or manual)."""
    return resolution.supersedes_id is not None


@dataclass(frozen=True, slots=True)
class VerdictMarks:
    early: bool
    overrides: bool
    deadline: dt.date | None

    @property
    def any(self) -> bool:
        return self.early or self.overrides

    def words(self) -> list[str]:
        """The marks as a reader reads them, e.g. ["early: before the 2026-12-31 deadline"]."""
        out = []
        if self.early and self.deadline is not None:
            out.append(
                _("early: before the %(day)s deadline") % {"day": format_date(self.deadline)}
            )
        if self.overrides:
            out.append(_("overrides an earlier verdict"))
        return out

    def terms(self) -> list[str]:
        """The marks as Atom category terms."""
        return ["early-verdict"] * self.early + ["overriding-verdict"] * self.overrides


def marks_of(resolution: Resolution, deadline: dt.date | None) -> VerdictMarks:
    return VerdictMarks(is_early(resolution, deadline), overrides(resolution), deadline)


def current_marks(session: Session, claims: Iterable[Claim]) -> dict[int, VerdictMarks]:
    """The marks of each claim's verdict in force (claims without one are left out): one query."""
    by_id = {c.id: c for c in claims if c.id is not None}
    if not by_id:
        return {}
    rows = session.exec(
        select(Resolution)
        .where(
            col(Resolution.claim_id).in_(list(by_id)), col(Resolution.superseded_by_id).is_(None)
        )
        .order_by(col(Resolution.decided_at), col(Resolution.id))
    ).all()
    out: dict[int, VerdictMarks] = {}
    for row in rows:  # the newest last: it wins, as status.current_resolution picks it
        out[row.claim_id] = marks_of(row, by_id[row.claim_id].deadline)
    return out


def _behind(row: Resolution, at: dt.datetime, evaluation_id: int | None) -> bool:
    """Whether verdict `row` was in the record when evaluation `evaluation_id` (at `at`) was
    made. A manual verdict names the evaluation it was decided on (an earlier one); an automatic
    one names the evaluation that decided it (that one itself)."""
    if row.decided_at > at:
        return False
    if row.evaluation_id is None or evaluation_id is None:
        return True
    if row.method == "manual":
        return row.evaluation_id < evaluation_id
    return row.evaluation_id <= evaluation_id


def marks_at(
    session: Session, wanted: Sequence[tuple[int, dt.datetime, int | None]]
) -> dict[int | None, VerdictMarks]:
    """For each (claim id, time, evaluation id), the marks of the verdict in force when that
    evaluation was made (when there was one), by evaluation id: for marking the status change
    a verdict caused."""
    claim_ids = sorted({claim_id for claim_id, _, _ in wanted})
    if not claim_ids:
        return {}
    claims = session.exec(select(Claim).where(col(Claim.id).in_(claim_ids))).all()
    deadlines = {c.id: c.deadline for c in claims}
    rows = session.exec(
        select(Resolution)
        .where(col(Resolution.claim_id).in_(claim_ids))
        .order_by(col(Resolution.decided_at), col(Resolution.id))
    ).all()
    out: dict[int | None, VerdictMarks] = {}
    for claim_id, at, evaluation_id in wanted:
        then = [r for r in rows if r.claim_id == claim_id and _behind(r, at, evaluation_id)]
        if then:
            out[evaluation_id] = marks_of(then[-1], deadlines.get(claim_id))
    return out
