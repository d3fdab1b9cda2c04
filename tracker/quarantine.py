"""Quarantine of implausible vintages: holding one back, and every later decision on it.

Every decision is an appended QuarantineDecision. `quarantine_vintage` is the one place a vintage
is held back (the hook for an `observation.quarantined` event); `release_vintage` the one place
a held-back vintage comes into use (a later fetch confirmed it, or a reviewer accepted it): its
values are inserted again as ordinary rows known from that moment, so a replay of any earlier
time still reads what was in use then. Nothing here commits: the caller's transaction is the unit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.models import (
    FetchRun,
    FetchStatus,
    Indicator,
    Observation,
    QuarantineAction,
    QuarantineDecision,
)
from tracker.observations import has_values_in_use, upsert_points, values_in_use
from tracker.plausibility import Held, Pending, VintageCheck
from tracker.sources.base import Point
from tracker.webhooks.events import record_quarantine

BUNDLED_TRIGGER = "bundled"
# decisions that put a quarantined vintage into use, and those that end it unused
RELEASED = frozenset({QuarantineAction.confirmed.value, QuarantineAction.accepted.value})
DECIDED = RELEASED | {QuarantineAction.rejected.value, QuarantineAction.superseded.value}


class QuarantineConflict(Exception):
    """The vintage is not (or no longer) pending: it was decided already, or never held back."""


def lock_indicator(session: Session, indicator_id: int) -> None:
    """One ingest or decision per indicator at a time (PostgreSQL row lock; SQLite serialises
    writers anyway)."""
    table = Indicator.__table__.c  # type: ignore[attr-defined]
    session.execute(sa.select(table.id).where(table.id == indicator_id).with_for_update())


def in_use_lookup(
    session: Session, indicator_id: int
) -> Callable[[Sequence[str]], Mapping[str, Held]] | None:
    """For the gates: the values in use of a batch of periods (None: nothing in use at all)."""
    if not has_values_in_use(session, indicator_id):
        return None

    def held(periods: Sequence[str]) -> Mapping[str, Held]:
        found = values_in_use(session, indicator_id, periods)
        return {period: Held(value, known_from) for period, (value, known_from) in found.items()}

    return held


def previous_rows_seen(session: Session, indicator_id: int) -> int | None:
    """Rows of the last live fetch whose vintage was used (not quarantined, or quarantined and
    then released): what the next fetch's row count is compared with."""
    runs = FetchRun.__table__.c  # type: ignore[attr-defined]
    decisions = QuarantineDecision.__table__.c  # type: ignore[attr-defined]
    released = sa.select(decisions.fetch_run_id).where(decisions.action.in_(sorted(RELEASED)))
    stmt = (
        sa.select(runs.rows_seen)
        .where(
            runs.indicator_id == indicator_id,
            runs.status == FetchStatus.ok.value,
            runs.trigger != BUNDLED_TRIGGER,
            sa.or_(runs.quarantined == sa.false(), runs.id.in_(released)),
        )
        .order_by(runs.started_at.desc(), runs.id.desc())
        .limit(1)
    )
    rows = session.execute(stmt).scalar()
    return int(rows) if rows else None


def _open_quarantined_rows(
    session: Session, indicator_id: int, fetch_run_id: int | None = None
) -> list[tuple[int, str, float | None]]:
    table = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(table.fetch_run_id, table.period, table.value).where(
        table.indicator_id == indicator_id,
        table.quarantined == sa.true(),
        table.known_until.is_(None),
    )
    if fetch_run_id is not None:
        stmt = stmt.where(table.fetch_run_id == fetch_run_id)
    return [(row[0], row[1], row[2]) for row in session.execute(stmt.order_by(table.period))]


def pending_vintage(session: Session, indicator_id: int) -> Pending | None:
    """The indicator's quarantined vintage still undecided (at most one: a new one supersedes
    the old), with its values by period."""
    rows = _open_quarantined_rows(session, indicator_id)
    if not rows:
        return None
    run_id = rows[0][0]
    run = session.get(FetchRun, run_id)
    return Pending(
        fetch_run_id=run_id,
        values={period: value for _, period, value in rows},
        rows_seen=run.rows_seen if run is not None else 0,
    )


def _decide(
    session: Session,
    *,
    fetch_run_id: int,
    indicator_id: int,
    action: QuarantineAction,
    now: dt.datetime,
    reason: str,
    decided_by: str | None = None,
    by_fetch_run_id: int | None = None,
    details: Mapping[str, object] | None = None,
) -> QuarantineDecision:
    decision = QuarantineDecision(
        fetch_run_id=fetch_run_id,
        indicator_id=indicator_id,
        action=action.value,
        decided_at=now,
        decided_by=decided_by,
        reason=reason,
        by_fetch_run_id=by_fetch_run_id,
        details=dict(details or {}),
    )
    session.add(decision)
    session.flush()
    return decision


def _close_quarantined(
    session: Session, indicator_id: int, fetch_run_id: int, now: dt.datetime
) -> int:
    table = Observation.__table__  # type: ignore[attr-defined]
    result = session.execute(
        sa.update(table)
        .where(
            table.c.indicator_id == indicator_id,
            table.c.fetch_run_id == fetch_run_id,
            table.c.quarantined == sa.true(),
            table.c.known_until.is_(None),
        )
        .values(known_until=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def quarantine_vintage(
    session: Session,
    *,
    indicator_id: int,
    fetch_run_id: int,
    check: VintageCheck,
    now: dt.datetime,
) -> QuarantineDecision:
    """Record that the vintage of `fetch_run_id` (already written as quarantined rows) is held
    back because of `check`'s findings. The one place a vintage is quarantined."""
    run = session.get(FetchRun, fetch_run_id)
    assert run is not None
    run.quarantined = True
    run.meta = {
        **(run.meta or {}),
        "quarantine": {
            "reason": check.reason(),
            "findings": [f.to_json() for f in check.findings],
            "findings_total": check.findings_total,
        },
    }
    indicator = session.get(Indicator, indicator_id)
    record_quarantine(
        session,
        fetch_run_id=fetch_run_id,
        indicator_key=indicator.key if indicator is not None else str(indicator_id),
        reason=check.reason(),
        now=now,
    )
    return _decide(
        session,
        fetch_run_id=fetch_run_id,
        indicator_id=indicator_id,
        action=QuarantineAction.quarantined,
        now=now,
        reason=check.reason(),
        decided_by="tracker",
        details={
            "findings": [f.to_json() for f in check.findings],
            "findings_total": check.findings_total,
            "rows_seen": check.rows_seen,
            "changes": check.changes,
        },
    )


def release_vintage(
    session: Session,
    indicator_id: int,
    fetch_run_id: int,
    *,
    action: QuarantineAction,
    now: dt.datetime,
    reason: str,
    decided_by: str | None = None,
    by_fetch_run_id: int | None = None,
) -> QuarantineDecision:
    """Put a pending quarantined vintage into use from `now` (confirmed or accepted): its values
    become ordinary rows known from `now` (closing the rows they revise), its quarantined rows
    are closed, and the decision is recorded. The one place a held-back vintage is released."""
    rows = _open_quarantined_rows(session, indicator_id, fetch_run_id)
    if not rows:
        raise QuarantineConflict(f"fetch run {fetch_run_id} has no quarantined values pending")
    upsert_points(
        session,
        indicator_id,
        (Point(period, value) for _, period, value in rows),
        fetch_run_id=fetch_run_id,
        known_from=now,
    )
    _close_quarantined(session, indicator_id, fetch_run_id, now)
    return _decide(
        session,
        fetch_run_id=fetch_run_id,
        indicator_id=indicator_id,
        action=action,
        now=now,
        reason=reason,
        decided_by=decided_by,
        by_fetch_run_id=by_fetch_run_id,
        details={"values": len(rows)},
    )


def drop_vintage(
    session: Session,
    indicator_id: int,
    fetch_run_id: int,
    *,
    action: QuarantineAction,
    now: dt.datetime,
    reason: str,
    decided_by: str | None = None,
    by_fetch_run_id: int | None = None,
) -> QuarantineDecision:
    """End a pending quarantined vintage unused (superseded by a later fetch, or rejected): its
    rows are closed (kept), and the decision is recorded."""
    if not _close_quarantined(session, indicator_id, fetch_run_id, now):
        raise QuarantineConflict(f"fetch run {fetch_run_id} has no quarantined values pending")
    return _decide(
        session,
        fetch_run_id=fetch_run_id,
        indicator_id=indicator_id,
        action=action,
        now=now,
        reason=reason,
        decided_by=decided_by,
        by_fetch_run_id=by_fetch_run_id,
    )


def settle_pending(
    session: Session,
    indicator_id: int,
    pending: Pending,
    check: VintageCheck,
    *,
    by_fetch_run_id: int,
    now: dt.datetime,
) -> QuarantineDecision:
    """What a new fetch does to the pending vintage: confirms it when it brings the same values
    again (it is released), else supersedes it (it ends unused)."""
    if check.confirms:
        return release_vintage(
            session,
            indicator_id,
            pending.fetch_run_id,
            action=QuarantineAction.confirmed,
            now=now,
            reason=f"fetch run {by_fetch_run_id} brought the same values again",
            decided_by="tracker",
            by_fetch_run_id=by_fetch_run_id,
        )
    return drop_vintage(
        session,
        indicator_id,
        pending.fetch_run_id,
        action=QuarantineAction.superseded,
        now=now,
        reason=f"fetch run {by_fetch_run_id} brought other values",
        decided_by="tracker",
        by_fetch_run_id=by_fetch_run_id,
    )


def review_vintage(
    session: Session,
    fetch_run_id: int,
    *,
    accept: bool,
    decided_by: str,
    reason: str,
    now: dt.datetime,
) -> QuarantineDecision:
    """A reviewer accepts (into use from `now`) or rejects a pending quarantined vintage.

    Raises QuarantineConflict when the run's vintage is not pending, LookupError when there is
    no such fetch run. Does not commit.
    """
    run = session.get(FetchRun, fetch_run_id)
    if run is None or run.indicator_id is None:
        raise LookupError(f"no fetch run {fetch_run_id}")
    lock_indicator(session, run.indicator_id)
    state = vintage_states(session, [fetch_run_id]).get(fetch_run_id)
    if state != "pending":
        what = "was never quarantined" if state is None else f"is {state}, not pending"
        raise QuarantineConflict(f"the vintage of fetch run {fetch_run_id} {what}")
    if accept:
        return release_vintage(
            session,
            run.indicator_id,
            fetch_run_id,
            action=QuarantineAction.accepted,
            now=now,
            reason=reason,
            decided_by=decided_by,
        )
    return drop_vintage(
        session,
        run.indicator_id,
        fetch_run_id,
        action=QuarantineAction.rejected,
        now=now,
        reason=reason,
        decided_by=decided_by,
    )


# --- reading decisions (API, dashboard, CLI) ---


def decisions_of(
    session: Session, fetch_run_ids: Iterable[int]
) -> dict[int, list[QuarantineDecision]]:
    """The decisions on each of these runs' vintages, oldest first (one query)."""
    ids = sorted(set(fetch_run_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(QuarantineDecision)
        .where(col(QuarantineDecision.fetch_run_id).in_(ids))
        .order_by(col(QuarantineDecision.decided_at), col(QuarantineDecision.id))
    ).all()
    out: dict[int, list[QuarantineDecision]] = defaultdict(list)
    for row in rows:
        out[row.fetch_run_id].append(row)
    return dict(out)


def state_of(
    decisions: Sequence[QuarantineDecision], as_of: dt.datetime | None = None
) -> str | None:
    """pending | confirmed | accepted | rejected | superseded as of `as_of` (None: now); None
    when the vintage was not quarantined then. Decisions after `as_of` do not count."""
    seen = [d for d in decisions if as_of is None or d.decided_at <= as_of]
    if not seen:
        return None
    last = seen[-1].action
    return "pending" if last == QuarantineAction.quarantined.value else last


def vintage_states(
    session: Session, fetch_run_ids: Iterable[int], as_of: dt.datetime | None = None
) -> dict[int, str]:
    """The quarantine state of each run's vintage that was ever quarantined (see `state_of`)."""
    out: dict[int, str] = {}
    for run_id, decisions in decisions_of(session, fetch_run_ids).items():
        state = state_of(decisions, as_of)
        if state is not None:
            out[run_id] = state
    return out


def last_decided(session: Session, indicator_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """When each indicator's quarantine decisions last changed anything (one query)."""
    if not indicator_ids:
        return {}
    table = QuarantineDecision.__table__.c  # type: ignore[attr-defined]
    stmt = (
        sa.select(table.indicator_id, sa.func.max(table.decided_at))
        .where(table.indicator_id.in_(list(indicator_ids)))
        .group_by(table.indicator_id)
    )
    moments = {row[0]: row[1] for row in session.execute(stmt)}
    # max() over a UTCDateTime column comes back untyped on SQLite: read it as the column would
    return {k: _as_utc(v) for k, v in moments.items() if v is not None}


def _as_utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class PendingQuarantine:
    """An indicator's vintage held back now: which run, since when, why, how many values."""

    indicator_id: int
    fetch_run_id: int
    since: dt.datetime
    reason: str
    values: int


def pending_quarantines(
    session: Session, indicator_ids: Sequence[int] | None = None
) -> dict[int, PendingQuarantine]:
    """Each indicator's pending quarantined vintage, if any (two queries)."""
    obs = Observation.__table__.c  # type: ignore[attr-defined]
    stmt = (
        sa.select(obs.indicator_id, obs.fetch_run_id, sa.func.count())
        .where(obs.quarantined == sa.true(), obs.known_until.is_(None))
        .group_by(obs.indicator_id, obs.fetch_run_id)
    )
    if indicator_ids is not None:
        stmt = stmt.where(obs.indicator_id.in_(list(indicator_ids)))
    counts = {(row[0], row[1]): int(row[2]) for row in session.execute(stmt)}
    if not counts:
        return {}
    decisions = decisions_of(session, [run for _, run in counts])
    out: dict[int, PendingQuarantine] = {}
    for (indicator_id, run_id), values in counts.items():
        held = [d for d in decisions.get(run_id, []) if d.action == QuarantineAction.quarantined]
        since = held[0].decided_at if held else dt.datetime.min.replace(tzinfo=dt.UTC)
        reason = held[0].reason if held else "quarantined"
        out[indicator_id] = PendingQuarantine(indicator_id, run_id, since, reason, values)
    return out
