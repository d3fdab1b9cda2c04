"""The oracle for the stored status-change columns: the LAG formulation the queries used before
(no tests here). Each evaluation's previous state and trend are those of the claim's previous
evaluation by time, then id, computed over the whole history at read time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from tracker import queries
from tracker.models import Claim, Evaluation

# (evaluation id, previous state, previous trend, status change) as the columns should hold them
Expected = tuple[int, str | None, str | None, str | None]


def _lagged(claim_id: int | None = None) -> tuple[Any, Any, Any]:
    ev = Evaluation.__table__.c  # type: ignore[attr-defined]
    history = sa.select(ev.id, ev.evaluated_at, ev.state, ev.trend)
    if claim_id is not None:
        history = history.where(ev.claim_id == claim_id)
    order = (ev.evaluated_at, ev.id)
    lagged = history.add_columns(
        *(
            sa.func.lag(column).over(partition_by=ev.claim_id, order_by=order).label(name)
            for column, name in (
                (ev.id, "previous_id"),
                (ev.state, "previous_state"),
                (ev.trend, "previous_trend"),
            )
        )
    ).subquery("lagged")
    is_first = lagged.c.previous_id.is_(None)
    moved = sa.or_(
        lagged.c.state.is_distinct_from(lagged.c.previous_state),
        lagged.c.trend.is_distinct_from(lagged.c.previous_trend),
    )
    return lagged, is_first, moved


def expected_columns(session: Session) -> list[Expected]:
    """Every evaluation with the columns the LAG says it should carry, by id."""
    lagged, is_first, moved = _lagged()
    kind = sa.case((is_first, "first"), (moved, "moved"), else_=None)
    rows = session.execute(
        sa.select(lagged.c.id, lagged.c.previous_state, lagged.c.previous_trend, kind).order_by(
            lagged.c.id
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def stored_columns(session: Session) -> list[Expected]:
    ev = Evaluation.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(ev.id, ev.previous_state, ev.previous_trend, ev.status_change).order_by(ev.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def status_changes(
    session: Session, limit: int, *, claim_id: int | None = None, first: bool | None = None
) -> list[tuple[int, str | None, str | None]]:
    """The old `queries.recent_status_changes`: (evaluation id, previous state, previous trend)
    of the newest `limit` changes, newest first."""
    lagged, is_first, moved = _lagged(claim_id)
    wanted = {None: sa.or_(is_first, moved), True: is_first, False: sa.and_(~is_first, moved)}
    rows = session.execute(
        sa.select(lagged.c.id, lagged.c.previous_state, lagged.c.previous_trend)
        .where(wanted[first])
        .order_by(lagged.c.evaluated_at.desc(), lagged.c.id.desc())
        .limit(limit)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def _ids(changes: list[queries.StatusChange]) -> list[tuple[int, str | None, str | None]]:
    return [(c.evaluation.id or 0, c.previous_state, c.previous_trend) for c in changes]


def assert_queries_match(session: Session) -> None:
    """Every variant of `queries.recent_status_changes` and `recent_changes_and_firsts` gives
    what the LAG formulation gives."""
    claim_ids = [None, *session.exec(select(Claim.id)).all()]
    for limit in (1, 2, 3, 5, 100):
        for first in (None, True, False):
            for claim_id in claim_ids:
                got = queries.recent_status_changes(session, limit, claim_id=claim_id, first=first)
                want = status_changes(session, limit, claim_id=claim_id, first=first)
                assert _ids(got) == want, (limit, first, claim_id)
        for firsts in (1, 2, 100):
            changes, first_ones = queries.recent_changes_and_firsts(
                session, changes=limit, firsts=firsts
            )
            assert _ids(changes) == status_changes(session, limit, first=False)
            assert _ids(first_ones) == status_changes(session, firsts, first=True)
