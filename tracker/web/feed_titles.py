"""Human titles for the Atom feed's entries: the claim's title and the change in words."""

from __future__ import annotations

from tracker.i18n.catalogs import _
from tracker.i18n.content import claim_text
from tracker.queries import StatusChange
from tracker.web.wording import state_label, trend_label


def change_title(change: StatusChange) -> str:
    """E.g. "China's power generation 3× the US by 2030: open → resolved: not kept",
    "…: now off track (was on track)", "…: first evaluated: open, on track" (in the reader's
    language: the labels and the words around them, and the claim's title where its file gives
    one in that language)."""
    ev = change.evaluation
    state, trend = state_label(ev.state), trend_label(ev.trend)
    if change.previous_state is None:
        if trend:
            words = _("first evaluated: %(state)s, %(trend)s") % {"state": state, "trend": trend}
        else:
            words = _("first evaluated: %(state)s") % {"state": state}
    elif change.previous_state != ev.state:
        words = f"{state_label(change.previous_state)} → {state}" + (f" ({trend})" if trend else "")
    else:
        before = trend_label(change.previous_trend) or _("no trend")
        words = _("now %(trend)s (was %(before)s); still %(state)s") % {
            "trend": trend or _("no trend"),
            "before": before,
            "state": state,
        }
    title = claim_text(change.claim_words, "title")[0] or change.claim_title
    return _("%(title)s: %(change)s") % {"title": title, "change": words}
