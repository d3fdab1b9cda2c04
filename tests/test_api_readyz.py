"""/readyz says whether THIS process holds the scheduler lease, not only who does."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.models import SchedulerLease
from tracker.scheduler import LEASE_NAME, TrackerScheduler, process_id
from tracker.web.app import create_app


def _lease(engine: Engine, holder: str) -> None:
    now = utcnow()
    with Session(engine) as s:
        row = s.get(SchedulerLease, LEASE_NAME)
        if row is None:
            row = SchedulerLease(
                name=LEASE_NAME, holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now
            )
        row.holder = holder
        row.expires_at = now + dt.timedelta(hours=1)
        s.add(row)
        s.commit()


def _scheduler_check(client: TestClient) -> dict[str, object]:
    body = client.get("/readyz").json()
    check: dict[str, object] = body["checks"]["scheduler"]
    return check


def test_readyz_tells_standby_from_holder(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        _lease(engine, "other-host:1:aaaaaa")
        # a web process running no scheduler: names itself, holds nothing
        check = _scheduler_check(client)
        assert check["holder"] == "other-host:1:aaaaaa" and check["active"] is True
        assert check["this_process"] == process_id()
        assert check["this_process_holds"] is False
        # a standby scheduler in this process (not started: it would fetch) vs the holder
        app.state.scheduler = TrackerScheduler(engine, settings, holder="this-host:2:bbbbbb")
        check = _scheduler_check(client)
        assert check["this_process"] == "this-host:2:bbbbbb"
        assert check["this_process_holds"] is False
        _lease(engine, "this-host:2:bbbbbb")
        check = _scheduler_check(client)
        assert check["holder"] == "this-host:2:bbbbbb"
        assert check["this_process_holds"] is True
