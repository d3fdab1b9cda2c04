"""What a reader asks of a claim, as one word: is it on track, off track, too uncertain to say,
without data, waiting for data or a verdict, or settled kept / not kept?

An `Outlook` is derived from the claim's stored state and trend and the band of its status
evaluation, by the same rules as the trend badge (tracker.web.wording.trend_badge: an on/off
track trend whose band straddles the threshold is "uncertain"; an insufficient-data trend whose
projection is too wide is "too uncertain to call"). `outlook_clause` is that rule in SQL, so the
overview's counts and the filtered lists (`?outlook=` on the API and the dashboard) agree;
`outlook_of` is the same rule in Python, for the status tracker.status writes (a test holds the
two to the same answers).
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from tracker.evaluation import UNCERTAIN_RATIO, UNCERTAIN_WIDTH
from tracker.i18n.catalogs import N_
from tracker.models import Claim, Evaluation, State, Trend


class Outlook(StrEnum):
    on_track = "on_track"
    off_track = "off_track"
    too_uncertain = "too_uncertain"
    no_data = "no_data"
    judged_at_deadline = "judged_at_deadline"
    awaiting_data = "awaiting_data"
    needs_verdict = "needs_verdict"
    kept = "kept"
    not_kept = "not_kept"


# The reader's words for each outlook, in the overview's order.
OUTLOOK_LABELS: dict[Outlook, str] = {
    Outlook.on_track: N_("on track"),
    Outlook.off_track: N_("off track"),
    Outlook.too_uncertain: N_("too uncertain to say"),
    Outlook.no_data: N_("no data yet"),
    Outlook.judged_at_deadline: N_("judged at the deadline"),
    Outlook.awaiting_data: N_("deadline passed, awaiting data"),
    Outlook.needs_verdict: N_("needs a verdict"),
    Outlook.kept: N_("resolved: kept"),
    Outlook.not_kept: N_("resolved: not kept"),
}
OUTLOOK_HELP: dict[Outlook, str] = {
    Outlook.on_track: N_("still open; the projection meets the claim, its range clear of the line"),
    Outlook.off_track: N_(
        "still open; the projection misses the claim, its range clear of the line"
    ),
    Outlook.too_uncertain: N_(
        "still open; the projection's range includes the line, or is too wide"
    ),
    Outlook.no_data: N_("still open; not enough data for a projection yet"),
    Outlook.judged_at_deadline: N_("still open; a reviewer decides at the deadline"),
    Outlook.awaiting_data: N_("the deadline passed; the data for it is not out yet"),
    Outlook.needs_verdict: N_("a reviewer must record a verdict"),
    Outlook.kept: N_("the claim came true"),
    Outlook.not_kept: N_("the claim did not come true"),
}
OUTLOOK_DESCRIPTION = (
    "What a reader asks, derived from the state, the trend and the projection band: "
    + "; ".join(f"`{o.value}` — {OUTLOOK_HELP[o]}" for o in Outlook)
    + "."
)

LIVE_STATES = (State.open.value, State.upcoming.value)


def _uncertainty(
    trend: Any, low: Any, high: Any, value: Any, threshold: Any
) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """(straddles, too wide): the band straddles the threshold; an insufficient-data trend's
    projection is too wide to call. Both definite (never NULL) for any stored row."""
    straddles = sa.and_(
        low.is_not(None),
        high.is_not(None),
        threshold.is_not(None),
        low <= threshold,
        threshold <= high,
    )
    too_wide = sa.and_(
        trend == Trend.insufficient_data.value,
        value.is_not(None),
        sa.or_(
            low.is_(None),
            high.is_(None),
            sa.and_(low > 0, high > low * UNCERTAIN_RATIO),
            high - low > sa.func.abs(value) * UNCERTAIN_WIDTH,
        ),
    )
    return straddles, too_wide


def _rule(
    outlook: Outlook, state: Any, trend: Any, low: Any, high: Any, value: Any, threshold: Any
) -> sa.ColumnElement[bool]:
    """The outlook's rule over a claim's status state and trend (coalesced to '') and its
    status evaluation's projection band and threshold."""
    live = state.in_(LIVE_STATES)
    straddles, too_wide = _uncertainty(trend, low, high, value, threshold)
    if outlook in (Outlook.on_track, Outlook.off_track):
        return sa.and_(live, trend == outlook.value, sa.not_(straddles))
    if outlook is Outlook.too_uncertain:
        on_or_off = trend.in_((Trend.on_track.value, Trend.off_track.value))
        return sa.and_(live, sa.or_(sa.and_(on_or_off, straddles), too_wide))
    if outlook is Outlook.no_data:
        thin = sa.or_(trend == "", sa.and_(trend == Trend.insufficient_data.value, ~too_wide))
        return sa.or_(state == "", sa.and_(live, thin))
    if outlook is Outlook.judged_at_deadline:
        return sa.and_(live, trend == Trend.not_applicable.value)
    states = {
        Outlook.awaiting_data: State.awaiting_data,
        Outlook.needs_verdict: State.needs_review,
        Outlook.kept: State.resolved_true,
        Outlook.not_kept: State.resolved_false,
    }
    same: sa.ColumnElement[bool] = state == states[outlook].value
    return same


def outlook_clause(outlook: Outlook | str) -> sa.ColumnElement[bool]:
    """The claims with this outlook; the query must outer-join the claim's status evaluation
    (`Evaluation.id == Claim.status_evaluation_id`), as tracker.queries' claim lists do."""
    return _rule(
        Outlook(outlook),
        sa.func.coalesce(col(Claim.status_state), ""),
        sa.func.coalesce(col(Claim.status_trend), ""),
        col(Evaluation.projection_low),
        col(Evaluation.projection_high),
        col(Evaluation.projection_value),
        col(Evaluation.threshold),
    )


def outlook_value(
    state: Any, trend: Any, low: Any, high: Any, value: Any, threshold: Any
) -> sa.ColumnElement[str]:
    """The outlook (its value; '' when no outlook covers the row) of a status state, trend and
    band: stored as `claim.status_outlook` with the status (tracker.status), so the overview
    counts claims by one indexed column instead of joining every claim to its evaluation."""
    state, trend = sa.func.coalesce(state, ""), sa.func.coalesce(trend, "")
    whens = [(_rule(o, state, trend, low, high, value, threshold), o.value) for o in Outlook]
    return sa.case(*whens, else_="")


def outlook_of(
    state: str | None,
    trend: str | None,
    low: float | None,
    high: float | None,
    value: float | None,
    threshold: float | None,
) -> str:
    """`outlook_value` computed in Python, clause for clause, for a status about to be written:
    tracker.status binds it with the status (one UPDATE writes each claim row and its indexes
    once) rather than evaluating the SQL rule in a second UPDATE. The SQL rule stays the one the
    lists filter by; tests/test_outlook_rule.py checks that the two agree on every case.

    Numbers compare as the database's double precision does; a stored band is finite or NULL
    (tracker.status writes non-finite floats as NULL)."""
    # an int as the float the database stores (a stored band is floats or NULL already)
    low = float(low) if type(low) is int else low
    high = float(high) if type(high) is int else high
    value = float(value) if type(value) is int else value
    threshold = float(threshold) if type(threshold) is int else threshold
    state, trend = state or "", trend or ""
    live = state in LIVE_STATES
    straddles = (
        low is not None
        and high is not None
        and threshold is not None
        and low <= threshold
        and threshold <= high
    )
    too_wide = (
        trend == Trend.insufficient_data.value
        and value is not None
        and (
            low is None
            or high is None
            or (low > 0 and high > low * UNCERTAIN_RATIO)
            or high - low > abs(value) * UNCERTAIN_WIDTH
        )
    )
    if live and trend in _ON_OR_OFF and not straddles:
        return trend  # Outlook.on_track / off_track: the trend's own value
    if live and ((trend in _ON_OR_OFF and straddles) or too_wide):
        return Outlook.too_uncertain.value
    if state == "" or (
        live and (trend == "" or (trend == Trend.insufficient_data.value and not too_wide))
    ):
        return Outlook.no_data.value
    if live and trend == Trend.not_applicable.value:
        return Outlook.judged_at_deadline.value
    return _OUTLOOK_OF_STATE.get(state, "")


_ON_OR_OFF = (Trend.on_track.value, Trend.off_track.value)
# the outlooks that follow from the state alone (`_rule`'s last clauses)
_OUTLOOK_OF_STATE = {
    State.awaiting_data.value: Outlook.awaiting_data.value,
    State.needs_review.value: Outlook.needs_verdict.value,
    State.resolved_true.value: Outlook.kept.value,
    State.resolved_false.value: Outlook.not_kept.value,
}


def refresh_outlooks(session: Session, claim_ids: Collection[int] | None = None) -> None:
    """Store `claim.status_outlook` (and `status_review_reason`) from each claim's status columns
    and status evaluation (one UPDATE): for status written other than by tracker.status (which
    sets them with the status)."""
    claim_t = Claim.__table__  # type: ignore[attr-defined]
    ev_t = Evaluation.__table__  # type: ignore[attr-defined]

    def of_status(column: Any) -> Any:
        return (
            sa.select(column).where(ev_t.c.id == claim_t.c.status_evaluation_id).scalar_subquery()
        )

    stmt = sa.update(claim_t).values(
        status_outlook=outlook_value(
            claim_t.c.status_state,
            claim_t.c.status_trend,
            of_status(ev_t.c.projection_low),
            of_status(ev_t.c.projection_high),
            of_status(ev_t.c.projection_value),
            of_status(ev_t.c.threshold),
        ),
        status_review_reason=of_status(ev_t.c.review_reason),
    )
    if claim_ids is not None:
        stmt = stmt.where(claim_t.c.id.in_(list(claim_ids)))
    session.execute(stmt)


def counts_by_outlook(session: Session) -> dict[Outlook, int]:
    """How many claims have each outlook: one aggregate over the stored `status_outlook` (an
    index-only scan of ix_claim_tally; never evaluated: no data yet), so its cost does not grow
    with the claims' evaluations."""
    outlook = sa.func.coalesce(col(Claim.status_outlook), Outlook.no_data.value)
    rows = session.execute(sa.select(outlook, sa.func.count()).group_by(outlook)).all()
    found = {str(value): int(n) for value, n in rows}
    return {o: found.get(o.value, 0) for o in Outlook}
