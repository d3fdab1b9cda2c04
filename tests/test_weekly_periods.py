"""Weekly periods end to end: week-dated observations stored through the ingest writer
(tracker.observations.upsert_points), read back by the evaluator from the database, a weekly
window waiting for its missing week, and a week-dated report deciding a day-dated deadline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_status_factories import fetch_run, make_claim, make_indicator

from tracker.models import Indicator, Observation
from tracker.observations import upsert_points
from tracker.sources.base import Point
from tracker.status import evaluate_claims


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _store(session: Session, ind: Indicator, values: dict[str, float], when: dt.datetime) -> None:
    assert ind.id is not None
    run = fetch_run(session, ind, when)
    points = [Point(period, value) for period, value in values.items()]
    upsert_points(session, ind.id, points, fetch_run_id=run.id, known_from=when)


def test_a_weekly_window_waits_for_its_missing_week_then_decides(engine: Engine) -> None:
    with Session(engine) as s:
        ind = make_indicator(s, "eia.weekly", unit="kb/d", frequency="weekly", lag=5, revision=0)
        _store(s, ind, {"2026-W27": 30.0, "2026-W29": 30.0, "2026-W30": 30.0}, day("2026-07-29"))
        stored = {tuple(r) for r in s.exec(select(Observation.period, Observation.period_start))}
        assert ("2026-W27", dt.date(2026, 6, 29)) in stored
        spec = {
            "key": "k", "type": "aggregate", "series": {"indicator": "eia.weekly"},
            "function": "sum", "window": {"start": "2026-W27", "end": "2026-W30"},
            "comparator": ">=", "threshold": 100.0,
        }  # fmt: skip
        make_claim(s, "weekly-sum", [spec], deadline=dt.date(2026, 7, 26))
        s.commit()
        (waiting,) = evaluate_claims(s, now=day("2026-07-30"))
        assert waiting.state == "awaiting_data"  # W28's data was due 07-17: 14 days' grace
        assert "missing 2026-W28 (1 of 4 periods)" in waiting.reason
        s.commit()
        _store(s, ind, {"2026-W28": 30.0}, day("2026-07-31"))
        (done,) = evaluate_claims(s, now=day("2026-07-31"))
        assert done.state == "resolved_true"
        assert done.reason.startswith("sum 120 over 2026-W27..2026-W30 meets >= 100")


def test_a_week_dated_report_decides_a_day_dated_deadline(engine: Engine) -> None:
    """EIA-style: the report dated 07-24 covers the week holding the 07-19 deadline."""
    with Session(engine) as s:
        ind = make_indicator(s, "eia.stocks", unit="kb/d", frequency="weekly", lag=5, revision=0)
        _store(s, ind, {"2026-07-17": 410.0}, day("2026-07-22"))
        spec = {
            "key": "k", "type": "threshold", "series": {"indicator": "eia.stocks"},
            "mode": "at_period", "period": "2026-07-19", "read": "first_on_or_after",
            "tolerance_days": 7, "comparator": "<=", "threshold": 400.0,
        }  # fmt: skip
        make_claim(s, "stocks-below-400", [spec], deadline=dt.date(2026, 7, 19))
        s.commit()
        (waiting,) = evaluate_claims(s, now=day("2026-07-23"))
        # 07-17 is before the deadline: it cannot decide
        assert waiting.state == "awaiting_data", waiting.reason
        s.commit()
        _store(s, ind, {"2026-07-24": 395.0}, day("2026-07-29"))
        (decided,) = evaluate_claims(s, now=day("2026-07-29"))
        assert decided.state == "resolved_true"
        assert decided.reason.startswith("395 in 2026-07-24 meets <= 400")
