"""Runs a killed process left `running` are closed as `abandoned` by whoever next holds the
scheduler lease (issue 15, item 3): its job runs at once, its fetch runs once they are older
than twice the fetch deadline (no live fetch runs that long). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_ingest_support import make_owid_indicator

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.db import session_scope
from tracker.models import FetchRun, JobRun
from tracker.scheduler import TrackerScheduler, failures_since_success


def _leftovers(engine: Engine, now: dt.datetime) -> None:
    indicator_id = make_owid_indicator(engine, "CHN")
    with session_scope(engine) as s:
        # a killed scheduler's job and fetch, an hour ago
        s.add(JobRun(job_id="refresh:x", started_at=now - dt.timedelta(hours=1), holder="dead"))
        s.add(
            FetchRun(
                indicator_id=indicator_id,
                source="owid",
                trigger="scheduler",
                started_at=now - dt.timedelta(hours=1),
            )
        )
        # a fetch that started a moment ago (another process, e.g. `tracker fetch`): live
        s.add(
            FetchRun(
                indicator_id=indicator_id,
                source="owid",
                trigger="cli",
                started_at=now - dt.timedelta(seconds=5),
            )
        )


def test_the_next_lease_holder_closes_stale_runs_as_abandoned(
    engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    _leftovers(engine, now)
    tuned = settings.model_copy(update={"fetch_deadline_seconds": 60})
    scheduler = TrackerScheduler(engine, tuned, holder="proc-b", http=object())
    scheduler.tick()  # takes the lease: closes what the dead holder left
    assert scheduler.active
    with Session(engine) as s:
        (job,) = s.exec(select(JobRun).where(JobRun.job_id == "refresh:x")).all()
        fetches = s.exec(select(FetchRun).order_by(col(FetchRun.id))).all()
    assert job.status == "abandoned" and job.finished_at is not None
    assert "proc-b took the scheduler lease" in (job.error or "")
    stale, live = fetches
    assert stale.status == "abandoned" and stale.error_kind == "abandoned"
    assert stale.finished_at is not None and "closed by proc-b" in (stale.error or "")
    assert live.status == "running"  # within its deadline: not touched
    # an abandoned job counts as a failure: it is retried with backoff
    assert failures_since_success(engine, ["refresh:x"])["refresh:x"].count == 1
    scheduler.lease.release()
