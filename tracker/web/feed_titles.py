"""Human titles for the Atom feed's entries: the claim's title and the change in words."""

from __future__ import annotations

from tracker.queries import StatusChange
from tracker.web.wording import state_label, trend_label


def change_title(change: StatusChange) -> str:
    """E.g. "China's power generation 3× the US by 2030: open → resolved: not kept",
    "…: now off track (was on track)", "…: first evaluated: open, on track"."""
    ev = change.evaluation
    state, trend = state_label(ev.state), trend_label(ev.trend)
    if change.previous_state is None:
        words = f"first evaluated: {state}" + (f", {trend}" if trend else "")
    elif change.previous_state != ev.state:
        words = f"{state_label(change.previous_state)} → {state}" + (f" ({trend})" if trend else "")
    else:
        before = trend_label(change.previous_trend) or "no trend"
        words = f"now {trend or 'no trend'} (was {before}); still {state}"
    return f"{change.claim_title}: {words}"
