"""What a reader asks of a claim, as one word: is it on track, off track, too uncertain to say,
without data, waiting for data or a verdict, or settled kept / not kept?

An `Outlook` is derived from the claim's stored state and trend and the band of its status
evaluation, by the same rules as the trend badge (tracker.web.wording.trend_badge: an on/off
track trend whose band straddles the threshold is "uncertain"; an insufficient-data trend whose
projection is too wide is "too uncertain to call"). `outlook_clause` is that rule in SQL, so the
overview's counts and the filtered lists (`?outlook=` on the API and the dashboard) agree.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col

from tracker.evaluation import UNCERTAIN_RATIO, UNCERTAIN_WIDTH
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
    Outlook.on_track: "on track",
    Outlook.off_track: "off track",
    Outlook.too_uncertain: "too uncertain to say",
    Outlook.no_data: "no data yet",
    Outlook.judged_at_deadline: "judged at the deadline",
    Outlook.awaiting_data: "deadline passed, awaiting data",
    Outlook.needs_verdict: "needs a verdict",
    Outlook.kept: "resolved: kept",
    Outlook.not_kept: "resolved: not kept",
}
OUTLOOK_HELP: dict[Outlook, str] = {
    Outlook.on_track: "still open; the projection meets the claim, its range clear of the line",
    Outlook.off_track: "still open; the projection misses the claim, its range clear of the line",
    Outlook.too_uncertain: "still open; the projection's range includes the line, or is too wide",
    Outlook.no_data: "still open; not enough data for a projection yet",
    Outlook.judged_at_deadline: "still open; a reviewer decides at the deadline",
    Outlook.awaiting_data: "the deadline passed; the data for it is not out yet",
    Outlook.needs_verdict: "a reviewer must record a verdict",
    Outlook.kept: "the claim came true",
    Outlook.not_kept: "the claim did not come true",
}
OUTLOOK_DESCRIPTION = (
    "What a reader asks, derived from the state, the trend and the projection band: "
    + "; ".join(f"`{o.value}` — {OUTLOOK_HELP[o]}" for o in Outlook)
    + "."
)

LIVE_STATES = (State.open.value, State.upcoming.value)


def _uncertainty() -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """(straddles, too wide): the band straddles the threshold; an insufficient-data trend's
    projection is too wide to call. Both definite (never NULL) for any stored row."""
    low, high = col(Evaluation.projection_low), col(Evaluation.projection_high)
    value, threshold = col(Evaluation.projection_value), col(Evaluation.threshold)
    straddles = sa.and_(
        low.is_not(None),
        high.is_not(None),
        threshold.is_not(None),
        low <= threshold,
        threshold <= high,
    )
    too_wide = sa.and_(
        sa.func.coalesce(col(Claim.status_trend), "") == Trend.insufficient_data.value,
        value.is_not(None),
        sa.or_(
            low.is_(None),
            high.is_(None),
            sa.and_(low > 0, high > low * UNCERTAIN_RATIO),
            high - low > sa.func.abs(value) * UNCERTAIN_WIDTH,
        ),
    )
    return straddles, too_wide


def outlook_clause(outlook: Outlook | str) -> sa.ColumnElement[bool]:
    """The claims with this outlook; the query must outer-join the claim's status evaluation
    (`Evaluation.id == Claim.status_evaluation_id`), as tracker.queries' claim lists do."""
    outlook = Outlook(outlook)
    state = sa.func.coalesce(col(Claim.status_state), "")
    trend = sa.func.coalesce(col(Claim.status_trend), "")
    live = state.in_(LIVE_STATES)
    straddles, too_wide = _uncertainty()
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
    return state == states[outlook].value


def counts_by_outlook(session: Session) -> dict[Outlook, int]:
    """How many claims have each outlook (one query)."""
    columns = [sa.func.count(sa.case((outlook_clause(o), 1))).label(o.value) for o in Outlook]
    stmt = (
        sa.select(*columns)
        .select_from(Claim)
        .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
    )
    row = session.execute(stmt).one()
    return {o: int(n) for o, n in zip(Outlook, row, strict=True)}
