"""tracker's own track record: how good were its chances of coming true, once claims resolved.

For each claim resolved true or false, the probability tracker had stored (Evaluation history,
append-only, read as known then: the newest row evaluated by the end of that day) 12, 6 and 1
month(s) before its deadline, scored with the Brier score (p − outcome)², beside the claimant's
stated probability (the claim file's `probability`) and a prediction market's (a `signal`
criterion on an indicator with unit `probability`, e.g. Manifold's, as known then) over the
same claims. Reads only; no clock (`now` is given).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.models import Claim, Criterion, Evaluation, Indicator, Lifecycle, Observation, State
from tracker.observations import known_as_of_clause
from tracker.status import end_of_day

HORIZON_MONTHS = (12, 6, 1)
MARKET_UNIT = "probability"
_OUTCOMES = {State.resolved_true.value: 1, State.resolved_false.value: 0}


def months_before(day: dt.date, months: int) -> dt.date:
    """`day` moved back by whole months (the 31st to the month's last day when shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def brier(pairs: Iterable[tuple[float, int]]) -> float | None:
    """The mean of (p − outcome)² (None for no pairs): 0 is perfect, 0.25 is always saying ½."""
    terms = [(p - o) ** 2 for p, o in pairs]
    return sum(terms) / len(terms) if terms else None


@dataclass(frozen=True)
class Call:
    """What was said of a claim `months` before its deadline, as known at the end of `on`."""

    months: int
    on: dt.date
    probability: float | None  # tracker's stored chance then (None: none stored yet)
    evaluation_id: int | None  # the Evaluation row it comes from
    market: float | None  # the prediction market's probability then (None: no market)


@dataclass(frozen=True)
class ScoredClaim:
    slug: str
    title: str
    deadline: dt.date
    outcome: int  # 1: came true, 0: did not
    claimant_probability: float | None  # stated in the claim file
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class HorizonScore:
    """Brier scores at one horizon, each over the claims where that forecaster had a number;
    the claimant's and the market's also over only the claims tracker scored (paired)."""

    months: int
    tracker_brier: float | None
    tracker_count: int
    claimant_brier: float | None  # over the claims tracker scored here that state one
    claimant_count: int
    market_brier: float | None  # over the claims tracker scored here that have a market
    market_count: int


@dataclass(frozen=True)
class TrackerRecord:
    as_of: dt.datetime
    resolved: int  # claims resolved true or false (each row of `claims`)
    horizons: tuple[HorizonScore, ...]
    claims: tuple[ScoredClaim, ...]


def tracker_track_record(session: Session, *, now: dt.datetime) -> TrackerRecord:
    """Score tracker's stored chances of the claims resolved true or false by `now`."""
    claim_t = Claim.__table__.c  # type: ignore[attr-defined]
    claims = session.execute(
        sa.select(
            claim_t.id,
            claim_t.slug,
            claim_t.title,
            claim_t.deadline,
            claim_t.status_state,
            claim_t.probability,
        )
        .where(
            claim_t.status_state.in_(list(_OUTCOMES)),
            claim_t.deadline.is_not(None),
            claim_t.lifecycle != Lifecycle.withdrawn.value,
        )
        .order_by(claim_t.deadline, claim_t.slug)
    ).all()
    history = _probabilities(session, [c.id for c in claims], now)
    markets = _market_indicators(session, [c.id for c in claims])
    scored: list[ScoredClaim] = []
    for c in claims:
        calls = []
        for months in HORIZON_MONTHS:
            on = months_before(c.deadline, months)
            moment = min(end_of_day(on), now)
            found = _latest_before(history.get(c.id, ()), moment)
            market_id = markets.get(c.id)
            market = (
                _market_value(session, market_id, moment, on) if market_id is not None else None
            )
            calls.append(
                Call(
                    months=months,
                    on=on,
                    probability=found[1] if found else None,
                    evaluation_id=found[0] if found else None,
                    market=market,
                )
            )
        scored.append(
            ScoredClaim(
                slug=c.slug,
                title=c.title,
                deadline=c.deadline,
                outcome=_OUTCOMES[c.status_state],
                claimant_probability=c.probability,
                calls=tuple(calls),
            )
        )
    return TrackerRecord(now, len(scored), _horizon_scores(scored), tuple(scored))


def _horizon_scores(claims: Sequence[ScoredClaim]) -> tuple[HorizonScore, ...]:
    out = []
    for index, months in enumerate(HORIZON_MONTHS):
        tracker, claimant, market = [], [], []
        for c in claims:
            call = c.calls[index]
            if call.probability is None:
                continue
            tracker.append((call.probability, c.outcome))
            if c.claimant_probability is not None:
                claimant.append((c.claimant_probability, c.outcome))
            if call.market is not None:
                market.append((call.market, c.outcome))
        out.append(
            HorizonScore(
                months=months,
                tracker_brier=brier(tracker),
                tracker_count=len(tracker),
                claimant_brier=brier(claimant),
                claimant_count=len(claimant),
                market_brier=brier(market),
                market_count=len(market),
            )
        )
    return tuple(out)


_Row = tuple[int, float | None, dt.datetime]


def _probabilities(
    session: Session, claim_ids: list[int], now: dt.datetime
) -> dict[int, list[_Row]]:
    """Per claim, its stored evaluations up to `now` (id, probability, evaluated_at), oldest
    first: live ones only (a replay is never stored as what tracker said then)."""
    if not claim_ids:
        return {}
    ev = Evaluation.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(ev.claim_id, ev.id, ev.probability, ev.evaluated_at)
        .where(ev.claim_id.in_(claim_ids), ev.evaluated_at <= now)
        .order_by(ev.claim_id, ev.evaluated_at, ev.id)
    ).all()
    out: dict[int, list[_Row]] = {}
    for claim_id, row_id, probability, evaluated_at in rows:
        out.setdefault(claim_id, []).append((row_id, probability, evaluated_at))
    return out


def _latest_before(rows: Sequence[_Row], moment: dt.datetime) -> tuple[int, float] | None:
    """The newest evaluation by `moment`, if it stored a probability (an older evaluator's
    row stored none: then tracker gave no chance then, and none is borrowed from later)."""
    found = None
    for row_id, probability, evaluated_at in rows:
        if evaluated_at > moment:
            break
        found = (row_id, probability)
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


def _market_indicators(session: Session, claim_ids: list[int]) -> dict[int, int]:
    """Per claim, the indicator of its first current `signal` criterion quoting a probability
    (a prediction market)."""
    if not claim_ids:
        return {}
    crit = Criterion.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(crit.claim_id, crit.spec)
        .where(crit.claim_id.in_(claim_ids), crit.valid_until.is_(None), crit.kind == "signal")
        .order_by(crit.claim_id, crit.id)
    ).all()
    wanted: dict[int, str] = {}
    for claim_id, spec in rows:
        key = _signal_indicator(spec)
        if key is not None:
            wanted.setdefault(claim_id, key)
    if not wanted:
        return {}
    ind = Indicator.__table__.c  # type: ignore[attr-defined]
    ids = dict(
        session.execute(
            sa.select(ind.key, ind.id).where(
                ind.key.in_(sorted(set(wanted.values()))), ind.unit == MARKET_UNIT
            )
        ).all()
    )
    return {claim_id: ids[key] for claim_id, key in wanted.items() if key in ids}


def _signal_indicator(spec: Any) -> str | None:
    series = (spec or {}).get("series") if isinstance(spec, dict) else None
    if isinstance(series, dict) and isinstance(series.get("indicator"), str):
        return str(series["indicator"])
    return None


def _market_value(
    session: Session, indicator_id: int, moment: dt.datetime, on: dt.date
) -> float | None:
    """The market's latest probability for a period starting by `on`, as known at `moment`."""
    obs = Observation.__table__.c  # type: ignore[attr-defined]
    value = session.execute(
        sa.select(obs.value)
        .where(
            obs.indicator_id == indicator_id,
            obs.period_start <= on,
            obs.value.is_not(None),
            known_as_of_clause(moment),
        )
        .order_by(obs.period_start.desc(), obs.known_from.desc())
        .limit(1)
    ).scalar()
    return float(value) if value is not None and 0 <= value <= 1 else None
