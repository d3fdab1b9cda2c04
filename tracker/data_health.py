"""Data health of each indicator in one vocabulary for the data API, the dashboard, /readyz,
the scheduler and the CLI: never_fetched, needs_key, bundled, ok, stale, quarantined or failing,
with the reason an operator can act on. Reads the fetch bookkeeping; never fetches, never writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.config import Settings
from tracker.i18n.catalogs import _
from tracker.models import FetchRun, FetchStatus, Indicator, Observation
from tracker.quarantine import PendingQuarantine, last_decided, pending_quarantines

log = logging.getLogger(__name__)

HealthState = Literal[
    "never_fetched", "needs_key", "bundled", "ok", "stale", "quarantined", "failing"
]
HEALTH_STATES: tuple[HealthState, ...] = (
    "failing",
    "quarantined",
    "stale",
    "needs_key",
    "never_fetched",
    "bundled",
    "ok",
)  # also the order in which an operator should look at them
# Stale: no successful fetch within this many refresh intervals.
STALE_AFTER_INTERVALS = 2
BUNDLED_TRIGGER = "bundled"

_REFRESH = re.compile(r"^every ([1-9][0-9]*)([hm])$")


def parse_refresh(text: str) -> dt.timedelta:
    """ "daily" | "weekly" | "monthly" | "every Nh" | "every Nm" → interval (unknown: daily)."""
    text = (text or "daily").strip().lower()
    fixed = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
    if text in fixed:
        return fixed[text]
    if text == "monthly":
        return dt.timedelta(days=30)
    match = _REFRESH.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(minutes=amount)
    log.warning("unknown refresh cadence %r; using daily", text)
    return dt.timedelta(days=1)


def missing_key_setting(source: str, settings: Settings) -> str | None:
    """The setting to fill in (e.g. `TRACKER_FRED_API_KEY`) when `source` needs an API key
    that `settings` does not have; None when no key is needed or it is configured."""
    from tracker.sources import REGISTRY

    adapter = REGISTRY.get(source)
    if adapter is None or not adapter.needs_key or settings.api_key(source):
        return None
    return f"TRACKER_{source.upper()}_API_KEY"


def stale_since(indicator: Indicator) -> dt.datetime:
    """What staleness counts from: the last successful fetch (bundled or live), or, when none
    ever succeeded, when tracking the indicator began (its catalogue row was created)."""
    return indicator.last_success_at or indicator.created_at


def stale_from(indicator: Indicator) -> dt.datetime:
    """The moment `is_stale` turns true if no fetch succeeds before it."""
    return stale_since(indicator) + STALE_AFTER_INTERVALS * parse_refresh(indicator.refresh)


def is_stale(indicator: Indicator, now: dt.datetime) -> bool:
    """The one definition of stale, for the data API, the dashboard and /readyz: no successful
    fetch for STALE_AFTER_INTERVALS refresh intervals, counted from `stale_since` (so a new
    indicator whose first fetch failed is failing, not yet stale)."""
    return now > stale_from(indicator)


def is_failing(indicator: Indicator) -> bool:
    """The latest fetch failed after the last success (or nothing ever succeeded)."""
    if indicator.last_error_at is None:
        return False
    return indicator.last_success_at is None or indicator.last_error_at > indicator.last_success_at


@dataclass(frozen=True, slots=True)
class IndicatorHealth:
    """One indicator's health: `state` is the one word, `reason` the sentence behind it."""

    indicator: Indicator
    last_run: FetchRun | None
    state: HealthState
    reason: str
    stale: bool  # is_stale: no success within STALE_AFTER_INTERVALS intervals of stale_since
    failing: bool  # is_failing
    needs_setting: str | None = None  # e.g. TRACKER_FRED_API_KEY, when that key is missing
    bundled_retrieved_on: str | None = None  # the bundled snapshot's retrieval date, if loaded
    live_success: bool = True  # some live fetch has succeeded (False: bundled snapshot at most)
    quarantine: PendingQuarantine | None = None  # a vintage held back, waiting for a decision
    quarantine_decided_at: dt.datetime | None = None  # the last quarantine decision, if any

    @property
    def healthy(self) -> bool:
        return self.state == "ok"


def health_changed_at(health: IndicatorHealth, now: dt.datetime) -> dt.datetime:
    """When what is reported of this indicator last changed (the data API's Last-Modified):
    its row (catalogue metadata, successes, errors), its latest fetch run and, once it is
    stale, the moment it became so (the clock alone changes that)."""
    indicator, run = health.indicator, health.last_run
    times = [indicator.created_at, indicator.updated_at]
    times += [t for t in (indicator.last_success_at, indicator.last_error_at) if t is not None]
    if run is not None:
        times += [t for t in (run.started_at, run.finished_at) if t is not None]
    if health.quarantine_decided_at is not None:  # e.g. a reviewer accepted a vintage
        times.append(health.quarantine_decided_at)
    if health.stale:
        times.append(min(stale_from(indicator), now))  # the clock passed it: it is <= now
    return max(times)


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def classify(
    indicator: Indicator,
    last_run: FetchRun | None,
    *,
    has_data: bool,
    live_success: bool,
    bundled_retrieved_on: str | None,
    settings: Settings,
    now: dt.datetime,
    quarantine: PendingQuarantine | None = None,
    quarantine_decided_at: dt.datetime | None = None,
) -> IndicatorHealth:
    """The health of one indicator (pure: everything it needs is passed in).

    - failing: the latest fetch failed after the last success (the error is the reason), unless
      it failed only because the key is missing;
    - quarantined: a fetched vintage failed a plausibility gate and waits for a later fetch to
      confirm it or a reviewer to accept or reject it (`quarantine`);
    - needs_key: the source needs an API key that is not configured (the scheduler skips it);
    - never_fetched: no observations and no successful fetch;
    - bundled: the only successful load is the shipped snapshot (no live fetch yet);
    - stale: no success for STALE_AFTER_INTERVALS refresh intervals (`is_stale`);
    - ok: otherwise.

    `stale` and `failing` are also flags of their own: a failing indicator can be stale too.
    """
    stale, failing = is_stale(indicator, now), is_failing(indicator)
    setting = missing_key_setting(indicator.source, settings)
    bundled_only = bundled_retrieved_on is not None and not live_success
    snapshot = _("the bundled snapshot retrieved %(day)s") % {"day": bundled_retrieved_on}
    showing = _("; showing %(snapshot)s") % {"snapshot": snapshot} if bundled_only else ""

    def health(state: HealthState, reason: str) -> IndicatorHealth:
        return IndicatorHealth(
            indicator,
            last_run,
            state,
            reason,
            stale=stale,
            failing=failing,
            needs_setting=setting,
            bundled_retrieved_on=bundled_retrieved_on,
            live_success=live_success,
            quarantine=quarantine,
            quarantine_decided_at=quarantine_decided_at,
        )

    config_failure = last_run is not None and last_run.error_kind == "config"
    if failing and not (setting and config_failure):
        if last_run is not None and last_run.status in (FetchStatus.error, FetchStatus.abandoned):
            kind = last_run.error_kind or "error"
            reason = _("last fetch %(when)s failed (%(kind)s): %(error)s") % {
                "when": _when(last_run.started_at),
                "kind": kind,
                "error": last_run.error,
            }
        else:
            assert indicator.last_error_at is not None  # is_failing implies it
            reason = _("last fetch failed at %(when)s") % {"when": _when(indicator.last_error_at)}
        return health("failing", reason + showing)
    if quarantine is not None:
        return health(
            "quarantined",
            _(
                "the vintage of fetch run %(run)s (%(when)s, %(values)s value(s)) is "
                "quarantined: %(reason)s; the values in use stay until a later fetch confirms "
                "it or a reviewer accepts it"
            )
            % {
                "run": quarantine.fetch_run_id,
                "when": _when(quarantine.since),
                "values": quarantine.values,
                "reason": quarantine.reason,
            },
        )
    if setting is not None:
        return health(
            "needs_key",
            _("%(source)s needs an API key: set %(setting)s to fetch it")
            % {"source": indicator.source, "setting": setting}
            + showing,
        )
    if not has_data and indicator.last_success_at is None:
        if last_run is not None and last_run.status == FetchStatus.running:
            return health("never_fetched", _("the first fetch is running"))
        return health("never_fetched", _("not fetched yet: no data"))
    if bundled_only:
        return health(
            "bundled", _("only %(snapshot)s; not fetched live yet") % {"snapshot": snapshot}
        )
    cadence = _("%(n)sx its refresh interval (%(refresh)s)") % {
        "n": STALE_AFTER_INTERVALS,
        "refresh": indicator.refresh,
    }
    if indicator.last_success_at is None:
        if stale:
            return health(
                "stale",
                _("no successful fetch since tracking began %(when)s, longer than %(cadence)s")
                % {"when": _when(indicator.created_at), "cadence": cadence},
            )
        return health("never_fetched", _("no successful fetch recorded yet"))
    if stale:
        return health(
            "stale",
            _("last success %(when)s, older than %(cadence)s")
            % {"when": _when(indicator.last_success_at), "cadence": cadence},
        )
    return health("ok", _("last success %(when)s") % {"when": _when(indicator.last_success_at)})


def indicator_health(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    keys: Sequence[str] | None = None,
) -> list[IndicatorHealth]:
    """Every indicator (or those with `keys`) with its health, ordered by key (seven queries)."""
    indicators = Indicator.__table__.c  # type: ignore[attr-defined]
    observations = Observation.__table__.c  # type: ignore[attr-defined]
    runs = FetchRun.__table__.c  # type: ignore[attr-defined]
    stmt = (
        select(Indicator, FetchRun)
        .outerjoin(FetchRun, col(FetchRun.id) == col(Indicator.last_fetch_run_id))
        .order_by(col(Indicator.key))
    )
    if keys is not None:
        stmt = stmt.where(col(Indicator.key).in_(list(keys)))
    rows = session.exec(stmt).all()
    ids = [indicator.id for indicator, _ in rows]
    if not ids:
        return []
    has_data = {
        row[0]
        for row in session.execute(
            sa.select(indicators.id).where(
                indicators.id.in_(ids),
                sa.exists().where(observations.indicator_id == indicators.id),
            )
        )
    }
    ok_runs = sa.and_(runs.indicator_id.in_(ids), runs.status == FetchStatus.ok)
    live = {
        row[0]
        for row in session.execute(
            sa.select(runs.indicator_id)
            .where(ok_runs, runs.trigger != BUNDLED_TRIGGER)
            .group_by(runs.indicator_id)
        )
    }
    bundled: dict[int, str] = {}
    for indicator_id, meta in session.execute(
        sa.select(runs.indicator_id, runs.meta)
        .where(ok_runs, runs.trigger == BUNDLED_TRIGGER)
        .order_by(runs.id)
    ):
        bundled[indicator_id] = _retrieved_on(meta)
    known_ids = [i for i in ids if i is not None]
    held = pending_quarantines(session, known_ids)
    decided = last_decided(session, known_ids)
    return [
        classify(
            indicator,
            run,
            has_data=indicator.id in has_data,
            live_success=indicator.id in live,
            bundled_retrieved_on=bundled.get(indicator.id or -1),
            settings=settings,
            now=now,
            quarantine=held.get(indicator.id or -1),
            quarantine_decided_at=decided.get(indicator.id or -1),
        )
        for indicator, run in rows
    ]


def _retrieved_on(meta: Any) -> str:
    """The retrieval date recorded by the bundled load (FetchRun.meta), else the manifest's."""
    source_meta = (meta or {}).get("source_meta") or {}
    retrieved = (source_meta.get("bundled") or {}).get("retrieved_on")
    if isinstance(retrieved, str) and retrieved:
        return retrieved
    from tracker.bundled import manifest

    return str(manifest().get("retrieved_on") or "unknown")


def attention_order(health: IndicatorHealth) -> tuple[int, str]:
    """Sort key: failing first, then quarantined, stale, needs_key, never_fetched, bundled, ok;
    then key."""
    return HEALTH_STATES.index(health.state), health.indicator.key
