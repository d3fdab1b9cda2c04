"""The daily re-evaluation runs just after UTC midnight, and a restart catches up a missed one."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from tracker.models import JobRun
from tracker.scheduler import job_table, plan_jobs

UTC = dt.UTC


def _evaluate_job(engine, now):
    jobs = job_table(engine, http=None, now=now, indicators=[])
    return next(job for job in jobs if job.id == "evaluate:all")


def _ran_ok(engine, job_id, at):
    with Session(engine) as session:
        session.add(JobRun(job_id=job_id, started_at=at, finished_at=at, status="ok"))
        session.commit()


def test_daily_evaluation_fires_after_midnight_not_a_day_after_start(engine):
    now = dt.datetime(2026, 12, 31, 14, 0, tzinfo=UTC)
    job = _evaluate_job(engine, now)
    _ran_ok(engine, job.id, dt.datetime(2026, 12, 31, 10, 0, tzinfo=UTC))  # started at 10:00
    plan = plan_jobs(engine, [job], now=now)
    # the deadline 2026-12-31 has passed by 2027-01-01 00:05, not by 14:00 on 2027-01-01
    assert plan[job.id] == dt.datetime(2027, 1, 1, 0, 5, tzinfo=UTC)


def test_a_restart_after_a_missed_midnight_run_catches_up_at_once(engine):
    now = dt.datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    job = _evaluate_job(engine, now)
    _ran_ok(engine, job.id, dt.datetime(2026, 12, 31, 0, 5, tzinfo=UTC))
    plan = plan_jobs(engine, [job], now=now)
    first = plan[job.id]
    assert first is not None and now < first < now + dt.timedelta(minutes=5)


def test_never_run_catches_up_at_once(engine):
    now = dt.datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    job = _evaluate_job(engine, now)
    first = plan_jobs(engine, [job], now=now)[job.id]
    assert first is not None and first < now + dt.timedelta(minutes=5)
