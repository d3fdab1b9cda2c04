"""The overview's counts: claims by state and by outlook, the size of each queue, and how many
claims wait because their data is overdue.

They are read together, from one index-only aggregate over the claims' stored status columns
(ix_claim_tally) and one count over the partial index of upcoming claims (ix_claim_upcoming),
and then kept with the database connection until the database says they may have changed,
exactly, whichever process wrote:

- PostgreSQL: a statement trigger on `claim` (migration 0011) notes the id of each transaction
  that writes to it in `claim_change`, committed with the write. Counts are kept with the
  snapshot they were read at, and read again as soon as a transaction listed there is visible
  that this snapshot did not see (pg_visible_in_snapshot). Writes to other tables, or to other
  databases on the server, do not matter. Not kept while the reading transaction has written.
- SQLite: `PRAGMA data_version` (changes when another connection, in any process, commits) and
  this connection's `total_changes()` (its own writes). Not kept inside a write transaction.

Counts are read after the snapshot or stamp they are kept under, so a reader gets counts at
least as new as its own view: never counts from before a write it can see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from tracker.evaluation import REVIEW_DATA_OVERDUE
from tracker.models import UPCOMING_PREDICATE, Claim, Lifecycle, State
from tracker.outlook import Outlook

_CACHE_KEY = "tracker.overview_counts"


@dataclass(frozen=True, slots=True)
class OverviewCounts:
    """The overview's counts at one moment (`upcoming`: due in [today, horizon])."""

    by_state: dict[str, int]  # never-evaluated claims as "unevaluated"
    by_outlook: dict[Outlook, int]  # never-evaluated claims as no_data
    upcoming: int
    awaiting_data: int
    needs_review: int
    overdue: int  # active, in review because their data is overdue (tracker.overdue)


def upcoming_select(
    dialect: str, what: str, today: dt.date, horizon: dt.date, *, limit: int | None = None
) -> sa.TextClause:
    """SELECT `what` of the active claims due in [today, horizon] not yet resolved, awaiting
    data or in review (the upcoming queue, tracker.queries._due_between), read through the
    partial index ix_claim_upcoming in deadline order, its first `limit` if given.

    Written as SQL text: the index serves only a query that repeats its condition word for word
    (tracker.models.UPCOMING_PREDICATE), and SQLite is told to use it (INDEXED BY), as its
    planner, without statistics, would rather read every active claim by ix_claim_tally."""
    source = "claim INDEXED BY ix_claim_upcoming" if dialect == "sqlite" else "claim"
    tail = " ORDER BY deadline, id LIMIT :limit" if limit is not None else ""
    params: list[sa.BindParameter[Any]] = [
        sa.bindparam("today", today, type_=sa.Date()),
        sa.bindparam("horizon", horizon, type_=sa.Date()),
    ]
    if limit is not None:
        params.append(sa.bindparam("limit", limit, type_=sa.Integer()))
    return sa.text(
        f"SELECT {what} FROM {source} WHERE deadline >= :today AND deadline <= :horizon "
        f"AND {UPCOMING_PREDICATE}{tail}"
    ).bindparams(*params)


def compute_counts(session: Session, today: dt.date, horizon: dt.date) -> OverviewCounts:
    """The counts, read now (two statements, neither reading a claim's row)."""
    rows = session.execute(
        sa.select(
            col(Claim.lifecycle),
            col(Claim.status_state),
            col(Claim.status_outlook),
            col(Claim.status_review_reason),
            sa.func.count(),
        ).group_by(
            col(Claim.lifecycle),
            col(Claim.status_state),
            col(Claim.status_outlook),
            col(Claim.status_review_reason),
        )
    ).all()
    dialect = session.get_bind().dialect.name
    upcoming = session.execute(upcoming_select(dialect, "count(*)", today, horizon)).scalar_one()
    by_state: dict[str, int] = {}
    outlooks: dict[str, int] = {}
    awaiting = review = overdue = 0
    active = Lifecycle.active.value
    for lifecycle, state, outlook, reason, n in rows:
        n = int(n)
        by_state[state or "unevaluated"] = by_state.get(state or "unevaluated", 0) + n
        key = outlook if outlook is not None else Outlook.no_data.value
        outlooks[key] = outlooks.get(key, 0) + n
        if lifecycle != active:
            continue
        if state == State.awaiting_data.value:
            awaiting += n
        elif state == State.needs_review.value:
            review += n
            if reason == REVIEW_DATA_OVERDUE:
                overdue += n
    return OverviewCounts(
        by_state=by_state,
        by_outlook={o: outlooks.get(o.value, 0) for o in Outlook},
        upcoming=int(upcoming),
        awaiting_data=awaiting,
        needs_review=review,
        overdue=overdue,
    )


# PostgreSQL: this statement's snapshot, whether this transaction has written, and whether a
# transaction that wrote to `claim` (claim_change, noted by trigger) committed since `since`
_PG_CHECK = sa.text(
    """
SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned() IS NOT NULL,
  CASE WHEN :since IS NULL THEN true ELSE EXISTS (
    SELECT 1 FROM claim_change
    WHERE xid >= pg_snapshot_xmin(CAST(:since AS pg_snapshot))::text::bigint
      AND NOT pg_visible_in_snapshot(xid::text::xid8, CAST(:since AS pg_snapshot))
  ) END,
  EXISTS (SELECT 1 FROM pg_trigger
    WHERE tgname = 'tracker_claim_changed' AND tgrelid = 'claim'::regclass)
"""
).bindparams(sa.bindparam("since", type_=sa.Text()))


def _postgres_counts(session: Session, today: dt.date, horizon: dt.date) -> OverviewCounts:
    """Kept with the connection under the snapshot they were read at, and reused until a
    transaction that wrote to `claim` commits (whichever process): claim_change, filled by the
    trigger of migration 0011, lists them; without that trigger, read every time."""
    conn = session.connection()
    info = conn.info
    cached = info.get(_CACHE_KEY)
    since = cached[0] if cached is not None and cached[1] == (today, horizon) else None
    snapshot, wrote, changed, noted = conn.execute(_PG_CHECK, {"since": since}).one()
    if not noted:  # no trigger notes the writes (a database not made by the migrations)
        return compute_counts(session, today, horizon)
    if wrote:  # this transaction's own writes: counted, never kept
        return compute_counts(session, today, horizon)
    # read after `snapshot`, so at least as new as it
    counts = compute_counts(session, today, horizon) if cached is None or changed else cached[2]
    info[_CACHE_KEY] = (str(snapshot), (today, horizon), counts)
    return counts


def _sqlite_stamp(session: Session) -> Hashable | None:
    """PRAGMA data_version (another connection, in any process, committed) and this
    connection's total_changes() (its own writes); None inside a write transaction."""
    conn = session.connection()
    dbapi: Any = conn.connection.dbapi_connection
    if dbapi is None or getattr(dbapi, "in_transaction", True):
        return None
    version, changes = conn.execute(
        sa.text("SELECT (SELECT data_version FROM pragma_data_version()), total_changes()")
    ).one()
    return (int(version), int(changes))


def overview_counts(session: Session, today: dt.date, *, within_days: int) -> OverviewCounts:
    """The overview's counts: kept with the connection and reused while the database shows no
    change to them (see the module docstring) and `today` stays the same, read afresh
    otherwise."""
    horizon = today + dt.timedelta(days=within_days)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _postgres_counts(session, today, horizon)
    stamp = _sqlite_stamp(session) if dialect == "sqlite" else None
    if stamp is None:
        return compute_counts(session, today, horizon)
    info = session.connection().info
    cached = info.get(_CACHE_KEY)
    key = (stamp, today, horizon)
    if cached is not None and cached[0] == key:
        counts: OverviewCounts = cached[1]
        return counts
    counts = compute_counts(session, today, horizon)
    info[_CACHE_KEY] = (key, counts)
    return counts
