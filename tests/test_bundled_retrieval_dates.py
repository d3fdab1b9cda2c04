"""The bundled snapshot's values are known from its recorded retrieval date, not from the day a
fresh install loaded them: a replay of a date between the two reads them (fixed clock)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tracker import bundled
from tracker.clock import FixedClock
from tracker.models import Indicator, Observation
from tracker.web.app import create_app

INSTALLED = dt.datetime(2027, 1, 2, 9, 0, tzinfo=dt.UTC)  # a fresh install, after retrieval
KEY = "owid.electricity_generation.chn"


def test_bundled_values_are_known_from_the_snapshots_retrieval_date(settings, engine):
    retrieved = dt.date.fromisoformat(bundled.manifest()["indicators"][KEY]["retrieved_on"])
    assert retrieved < INSTALLED.date()
    with Session(engine) as session:  # the one catalogue entry this test loads
        session.add(Indicator(key=KEY, source="owid", unit="TWh", created_at=INSTALLED))
        session.commit()
    assert [s.ok for s in bundled.load_bundled(engine, now=INSTALLED).loaded] == [True]
    with Session(engine) as session:
        indicator_id = session.exec(select(Indicator.id).where(Indicator.key == KEY)).one()
        known = set(
            session.exec(
                select(Observation.known_from).where(col(Observation.indicator_id) == indicator_id)
            ).all()
        )
    assert known == {dt.datetime.combine(retrieved, dt.time.min, tzinfo=dt.UTC)}

    app = create_app(settings, engine=engine, clock=FixedClock(INSTALLED))
    between = retrieved + dt.timedelta(days=3)  # after retrieval, before the install
    with TestClient(app) as client:
        then = client.get(f"/api/v1/indicators/{KEY}/observations?as_of={between}").json()
        assert {o["period"] for o in then["observations"]} >= {"2024", "2025"}
        before = client.get(
            f"/api/v1/indicators/{KEY}/observations?as_of={retrieved - dt.timedelta(days=1)}"
        ).json()
        assert before["observations"] == []


def test_a_retrieval_date_after_now_is_capped_at_now():
    early = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert bundled.retrieved_at(KEY, early) == early
