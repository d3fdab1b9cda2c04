"""The bulk insert path stores timestamps exactly as SQLAlchemy itself would."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from tracker.models import Indicator, Observation
from tracker.observations import upsert_points
from tracker.sources.base import Point

KNOWN = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)


def test_bulk_inserted_rows_match_orm_written_rows(engine):
    with Session(engine) as session:
        indicator = Indicator(key="k", source="owid", unit="TWh")
        session.add(indicator)
        session.flush()
        assert indicator.id is not None
        upsert_points(
            session, indicator.id, [Point("2020", 1.0)], fetch_run_id=None, known_from=KNOWN
        )
        session.add(
            Observation(
                indicator_id=indicator.id,
                period="2021",
                period_start=dt.date(2021, 1, 1),
                value=2.0,
                known_from=KNOWN,
            )
        )
        session.commit()
        stored = session.execute(
            sa.text("SELECT period, CAST(known_from AS TEXT) FROM observation ORDER BY period")
        ).all()
        # same text form for both writers, so equality filters find both rows
        assert stored[0][1] == stored[1][1]
        found = session.exec(  # type: ignore[call-overload]
            sa.select(Observation.period).where(Observation.known_from == KNOWN)
        ).all()
        assert sorted(row[0] for row in found) == ["2020", "2021"]
