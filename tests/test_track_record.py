"""tracker's own track record (tracker.calibration, GET /api/v1/track-record, /track-record):
claims evaluated on a fixed clock 12, 6 and 1 month(s) before their deadlines, resolved in the
test, and scored from the stored evaluation history as known then."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dashboard_seed import (
    make_claim,
    make_claimant,
    make_fetch_run,
    make_indicator,
    make_observation,
)
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker import status
from tracker.calibration import brier, months_before, tracker_track_record
from tracker.models import Claim, Evaluation, Indicator, Observation
from tracker.web.app import create_app

DEADLINE = dt.date(2028, 6, 30)
HORIZONS = {12: dt.date(2027, 6, 30), 6: dt.date(2027, 12, 30), 1: dt.date(2028, 5, 30)}
RESOLVED_AT = dt.datetime(2028, 7, 20, 9, 0, tzinfo=dt.UTC)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def months(first: str, count: int) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _threshold(indicator: str, threshold: float) -> dict[str, Any]:
    return {
        "key": "level",
        "type": "threshold",
        "series": {"indicator": indicator},
        "comparator": ">=",
        "threshold": threshold,
        "period": "2028-06",
    }


def _add_months(
    session: Session, indicator: Indicator, values: dict[str, float], known: dt.datetime
) -> None:
    run = make_fetch_run(session, indicator, at=known)
    for period, value in values.items():
        make_observation(session, indicator, period, value, known_from=known, run=run)


@pytest.fixture
def resolved(engine: Engine) -> dict[str, Any]:
    """Two claims on monthly series, evaluated at each horizon (and the day after, on data that
    arrived then), then resolved by their June 2028 values: `kept` comes true (stated 0.9),
    `missed` does not (no stated probability; a prediction market quotes it)."""
    with Session(engine) as session:
        claimant = make_claimant(session)
        grow = make_indicator(
            session, "test.grow", title="Growing", unit="GWh", frequency="monthly"
        )
        flat = make_indicator(session, "test.flat", title="Flat", unit="count", frequency="monthly")
        market = make_indicator(
            session, "test.market", title="Market", unit="probability", source="manifold",
            frequency="point",
        )  # fmt: skip
        kept = make_claim(
            session, claimant, "kept", deadline=DEADLINE, probability=0.9,
            criteria=[_threshold("test.grow", 140.0)],
        )  # fmt: skip
        missed = make_claim(
            session, claimant, "missed", deadline=DEADLINE,
            criteria=[
                _threshold("test.flat", 60.0),
                {"key": "market", "type": "signal", "role": "context",
                 "series": {"indicator": "test.market"}},
            ],
        )  # fmt: skip
        session.commit()
        series = months("2026-01", 30)  # 2026-01 .. 2028-06
        grow_values = {p: 100.0 * 1.012**i for i, p in enumerate(series)}
        flat_values = {p: 50.0 + (3.0 if i % 2 else -3.0) + 0.2 * i for i, p in enumerate(series)}
        # data up to the month before each horizon, known 5 days before it
        for horizon in sorted(HORIZONS.values()):
            known = at(horizon - dt.timedelta(days=5))
            shown = [p for p in series if p < f"{horizon.year:04d}-{horizon.month:02d}"]
            done = {o.period for o in session.exec(select(Observation)).all()}
            _add_months(session, grow, {p: grow_values[p] for p in shown if p not in done}, known)
            _add_months(session, flat, {p: flat_values[p] for p in shown if p not in done}, known)
            _add_months(
                session, market, {horizon.isoformat(): 0.2 if horizon.year == 2027 else 0.1}, known
            )
            session.commit()
            status.evaluate_claims(session, now=at(horizon))
            session.commit()
            # the next day: a revision that moves the projection (never scored as the horizon's)
            latest = shown[-1]
            _revise(
                session,
                grow,
                latest,
                grow_values[latest] * 0.9,
                at(horizon + dt.timedelta(days=1), 8),
            )
            status.evaluate_claims(session, now=at(horizon + dt.timedelta(days=1)))
            session.commit()
        # the deciding month, then the evaluation that resolves both
        _add_months(session, grow, {"2028-06": 150.0}, at(dt.date(2028, 7, 10)))
        _add_months(session, flat, {"2028-06": 55.0}, at(dt.date(2028, 7, 10)))
        session.commit()
        status.evaluate_claims(session, now=RESOLVED_AT)
        session.commit()
        return {"kept": kept.id, "missed": missed.id}


def _revise(
    session: Session, indicator: Indicator, period: str, value: float, known: dt.datetime
) -> None:
    current = session.exec(
        select(Observation).where(
            col(Observation.indicator_id) == indicator.id,
            col(Observation.period) == period,
            col(Observation.known_until).is_(None),
        )
    ).one()
    current.known_until = known
    session.add(current)
    session.flush()
    run = make_fetch_run(session, indicator, at=known)
    make_observation(session, indicator, period, value, known_from=known, run=run)
    session.commit()


def _stored_then(session: Session, claim_id: int, day: dt.date) -> Evaluation:
    """By hand: the claim's newest stored evaluation by the end of `day`."""
    return session.exec(
        select(Evaluation)
        .where(
            col(Evaluation.claim_id) == claim_id,
            col(Evaluation.evaluated_at) <= dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC),
        )
        .order_by(col(Evaluation.evaluated_at).desc(), col(Evaluation.id).desc())
    ).first()  # type: ignore[return-value]


def test_months_before_keeps_the_day_or_the_months_last() -> None:
    assert months_before(dt.date(2028, 6, 30), 12) == dt.date(2027, 6, 30)
    assert months_before(dt.date(2028, 6, 30), 1) == dt.date(2028, 5, 30)
    assert months_before(dt.date(2028, 3, 31), 1) == dt.date(2028, 2, 29)
    assert months_before(dt.date(2028, 1, 15), 1) == dt.date(2027, 12, 15)
    assert brier([]) is None and brier([(1.0, 1), (0.5, 0)]) == pytest.approx(0.125)


def test_the_track_record_scores_the_chances_stored_then(engine, resolved, settings) -> None:
    with Session(engine) as session:
        kept = session.get(Claim, resolved["kept"])
        missed = session.get(Claim, resolved["missed"])
        assert kept is not None and missed is not None
        assert kept.status_state == "resolved_true" and missed.status_state == "resolved_false"
        expected: dict[str, dict[int, Evaluation]] = {
            slug: {m: _stored_then(session, cid, day) for m, day in HORIZONS.items()}
            for slug, cid in (("kept", kept.id), ("missed", missed.id))
        }
        record = tracker_track_record(session, now=RESOLVED_AT)
        counts = {
            cid: len(session.exec(select(Evaluation).where(col(Evaluation.claim_id) == cid)).all())
            for cid in (kept.id, missed.id)
        }
    # the next day's revision appended rows of its own for the growing series (never scored)
    assert counts[kept.id] >= 7
    for rows in expected.values():
        for row in rows.values():
            assert row.probability is not None and 0 < row.probability < 1
            assert row.evaluated_at.date() in HORIZONS.values()  # not the next day's revision
    assert record.resolved == 2 and [c.slug for c in record.claims] == ["kept", "missed"]
    outcomes = {"kept": 1, "missed": 0}
    for claim in record.claims:
        assert claim.outcome == outcomes[claim.slug]
        for call in claim.calls:
            row = expected[claim.slug][call.months]
            assert call.on == HORIZONS[call.months]
            assert call.evaluation_id == row.id and call.probability == row.probability
    market = {c.months: c.market for c in record.claims[1].calls}
    assert market == {12: 0.2, 6: 0.2, 1: 0.1}  # the quote known on each day, not a later one
    assert all(c.market is None for c in record.claims[0].calls)
    for horizon in record.horizons:
        pairs = [(expected[s][horizon.months].probability or 0.0, o) for s, o in outcomes.items()]
        assert horizon.tracker_count == 2
        assert horizon.tracker_brier == pytest.approx(sum((p - o) ** 2 for p, o in pairs) / 2)
        assert horizon.claimant_count == 1 and horizon.claimant_brier == pytest.approx(0.01)
        assert horizon.market_count == 1
        assert horizon.market_brier == pytest.approx(market[horizon.months] ** 2)

    app = create_app(settings, engine=engine)
    app.state.clock = lambda: RESOLVED_AT
    with TestClient(app) as client:
        body = client.get("/api/v1/track-record").json()
        page = client.get("/track-record")
    assert body["resolved"] == 2 and body["horizon_months"] == [12, 6, 1]
    served = {h["months"]: h for h in body["horizons"]}
    for horizon in record.horizons:
        assert served[horizon.months]["tracker_brier"] == pytest.approx(horizon.tracker_brier)
        assert served[horizon.months]["claimant_brier"] == pytest.approx(0.01)
    calls = body["claims"][0]["calls"]
    assert [c["months"] for c in calls] == [12, 6, 1]
    assert calls[0]["probability"] == expected["kept"][12].probability
    assert body["claims"][0]["claimant_probability"] == 0.9
    assert page.status_code == 200
    assert "tracker's own track record" in page.text
    first = next(h for h in record.horizons if h.months == 12)
    assert f"{first.tracker_brier:.3f}" in page.text
    assert "came true" in page.text and "market 20 %" in page.text


def test_before_anything_resolves_there_is_nothing_to_score(engine, settings) -> None:
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: RESOLVED_AT
    with TestClient(app) as client:
        body = client.get("/api/v1/track-record").json()
        page = client.get("/track-record").text
    assert body["resolved"] == 0 and body["claims"] == []
    assert all(h["tracker_brier"] is None and h["tracker_count"] == 0 for h in body["horizons"])
    assert "nothing to score" in page
