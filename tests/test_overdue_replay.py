"""Property: a claim replayed as of T reads exactly what the tracker said at T, whatever came
after T: new and revised values, quarantined vintages and the reviewer's decisions on them,
and extensions of the wait for overdue data.

Hypothesis draws sequences of events at increasing days on a real database (SQLite, or
PostgreSQL with TRACKER_TEST_DATABASE_URL): a value arriving or revised, a vintage quarantined
(an implausible value held back), accepted or rejected by a reviewer, a reviewer extending the
wait (tracker.overdue.extend_wait). After each event the claim is evaluated live, as the
scheduler would; afterwards the replay as of each of those days must say the same (state,
reason, outcome, data-overdue fields). The claim waits for annual data with a 30-day lag and a
grace of 120 days, so the sequences cross "expected", "overdue" and "extended" often.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_status_factories import fetch_run, make_claim, make_indicator, observe

from tracker.models import Claim, Evaluation, Indicator
from tracker.observations import upsert_points
from tracker.overdue import InvalidExtension, extend_wait
from tracker.plausibility import Finding, VintageCheck
from tracker.quarantine import pending_vintage, quarantine_vintage, review_vintage
from tracker.sources.base import Point
from tracker.status import evaluate_claims, replay_claim

START = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
BASE = {str(y): 90.0 + y - 2018 for y in range(2018, 2025)}  # 2025 due 2026-01-30: overdue soon

events = st.one_of(
    st.tuples(
        st.just("value"), st.sampled_from(["2025", "2026", "2027"]), st.sampled_from([95.0, 120.0])
    ),
    st.tuples(st.just("quarantine"), st.sampled_from(["2024", "2025"]), st.just(9999.0)),
    st.tuples(st.just("review"), st.sampled_from(["accept", "reject"]), st.just(0.0)),
    st.tuples(st.just("extend"), st.sampled_from(["30", "200"]), st.just(0.0)),
    st.tuples(st.just("extend"), st.sampled_from(["60", "400"]), st.just(0.0)),
    st.tuples(st.just("tick"), st.just(""), st.just(0.0)),
)
step = st.tuples(events, st.integers(min_value=1, max_value=240))  # days after the step before


def _said(result: Any) -> tuple[Any, ...]:
    return (
        str(result.state),
        str(result.trend) if result.trend is not None else None,
        result.reason,
        str(result.outcome) if result.outcome is not None else None,
        result.review_reason,
        result.overdue_since,
    )


def _apply(session: Session, ind: Indicator, claim: Claim, kind: str, what: str, value: float,
           now: dt.datetime) -> None:  # fmt: skip
    assert ind.id is not None
    if kind == "value":  # through the ingest path's writer, as a fetch would
        run = fetch_run(session, ind, now)
        upsert_points(session, ind.id, [Point(what, value)], fetch_run_id=run.id, known_from=now)
    elif kind == "quarantine" and pending_vintage(session, ind.id) is None:
        run = fetch_run(session, ind, now)
        assert run.id is not None
        upsert_points(
            session, ind.id, [Point(what, value)], fetch_run_id=run.id, known_from=now,
            quarantined=True,
        )  # fmt: skip
        check = VintageCheck(
            findings=[Finding("range", f"{value:g} is above the plausible range", what, value)],
            findings_total=1,
            changes=1,
        )
        quarantine_vintage(session, indicator_id=ind.id, fetch_run_id=run.id, check=check, now=now)
    elif kind == "review":
        pending = pending_vintage(session, ind.id)
        if pending is not None:
            review_vintage(
                session, pending.fetch_run_id, accept=what == "accept", decided_by="reviewer",
                reason="property", now=now,
            )  # fmt: skip
    elif kind == "extend":
        try:
            extend_wait(
                session, claim, wait_until=now.date() + dt.timedelta(days=int(what)),
                reason="the publisher announced a later release", decided_by="reviewer",
                now=now,
            )  # fmt: skip
        except InvalidExtension:
            pass  # nothing waits for data now: no extension


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_a_replay_as_of_t_ignores_what_came_after_t(
    engine: Engine, steps: list[tuple[tuple[str, str, float], int]]
) -> None:
    with Session(engine) as session:
        n = len(session.exec(select(Claim)).all())
        ind = make_indicator(session, f"prop.{n}", unit="count", lag=30, revision=60)
        observe(session, ind, BASE, START - dt.timedelta(days=30))
        criteria = [
            {
                "key": "k",
                "type": "threshold",
                "series": {"indicator": ind.key},
                "mode": "at_period",
                "period": "2027",
                "comparator": ">=",
                "threshold": 100.0,
            }
        ]
        claim = make_claim(session, f"prop-{n}", criteria, deadline=dt.date(2027, 12, 31))
        session.commit()
        now = START
        records: list[tuple[dt.datetime, tuple[Any, ...]]] = []
        for (kind, what, value), days in steps:
            now += dt.timedelta(days=days)
            _apply(session, ind, claim, kind, what, value, now)
            session.flush()
            evaluate_claims(session, now=now, claim_ids=[claim.id] if claim.id else None)
            session.commit()
            session.refresh(claim)
            then = replay_claim(session, claim, now.date(), now=now)  # as of that day's end
            stored = session.get(Evaluation, claim.status_evaluation_id)
            assert stored is not None
            # what the tracker said live is what the replay of that day says
            live = (stored.state, stored.reason, stored.review_reason, stored.overdue_since)
            assert live == (_said(then)[0], *_said(then)[2:3], *_said(then)[4:]), steps
            records.append((now, _said(then)))
            event(f"{_said(then)[0]} {_said(then)[4] or ''}".strip())
            if kind == "extend" and "wait extended" in then.reason:
                event("a wait extended")
        later = now + dt.timedelta(days=400)
        for moment, said in records:
            replayed = replay_claim(session, claim, moment.date(), now=later)
            assert _said(replayed) == said, (moment, steps)
