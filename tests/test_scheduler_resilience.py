"""The scheduler through an upstream outage and a slow source (SQLite and PostgreSQL): failed runs
are retried with backoff, the lease heartbeat never waits behind fetches, a job that lost the
lease stores nothing, and lease changes are logged."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_ingest_support import Upstream, count_rows, make_owid_indicator, owid_key
from test_scheduler import TTL, record_run, wait_for

from tracker import scheduler as sched
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.models import FetchRun, JobRun, Observation
from tracker.scheduler import (
    JobDef,
    Lease,
    TrackerScheduler,
    acquired_message,
    plan_jobs,
    retry_delay,
    scheduler_status,
)

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
WEEK = dt.timedelta(days=7)


def _weekly(job_id: str) -> JobDef:
    return JobDef(job_id, sched.IntervalTrigger(days=7), lambda: None, job_id, interval=WEEK)


def test_retry_delay_doubles_from_the_base_up_to_the_interval() -> None:
    base = 15 * MIN
    assert [retry_delay(n, base, WEEK) for n in (1, 2, 3, 4)] == [
        15 * MIN,
        30 * MIN,
        60 * MIN,
        120 * MIN,
    ]
    assert retry_delay(40, base, WEEK) == WEEK
    assert retry_delay(3, base, dt.timedelta(minutes=40)) == dt.timedelta(minutes=40)


def test_plan_retries_a_failed_job_at_its_backoff_time(engine: Engine) -> None:
    # once failed a minute ago, never succeeded: 15 min after the failure, not a week later
    record_run(engine, "once", NOW - MIN, status="error")
    # succeeded 2 days ago, then failed three times: the third retry waits an hour
    record_run(engine, "thrice", NOW - 2 * dt.timedelta(days=1))
    for minutes_ago in (40, 20, 5):
        record_run(engine, "thrice", NOW - minutes_ago * MIN, status="error")
    # an outage long ago: the retry time has passed, so it runs soon (a restart catches up)
    record_run(engine, "long-ago", NOW - dt.timedelta(hours=3), status="error")
    # failed, then a success: the backoff is reset and the normal interval counts from it
    record_run(engine, "recovered", NOW - 3 * MIN, status="error")
    record_run(engine, "recovered", NOW - 2 * MIN)
    # twenty failures: the delay is capped at the job's interval
    for hours_ago in range(20, 0, -1):
        record_run(engine, "capped", NOW - dt.timedelta(hours=hours_ago), status="error")
    jobs = [_weekly(i) for i in ("once", "thrice", "long-ago", "recovered", "capped")]
    plan = plan_jobs(engine, jobs, now=NOW)
    assert plan["once"] == NOW - MIN + 15 * MIN
    assert plan["thrice"] == NOW - 5 * MIN + 60 * MIN
    assert plan["long-ago"] is not None and NOW < plan["long-ago"] <= NOW + MIN
    assert plan["recovered"] == NOW - 2 * MIN + WEEK
    assert plan["capped"] == NOW - dt.timedelta(hours=1) + WEEK
    custom = plan_jobs(engine, jobs[:1], now=NOW, retry_base=dt.timedelta(minutes=2))
    assert custom["once"] == NOW - MIN + 2 * MIN


def _job_runs(engine: Engine, job_id: str) -> list[JobRun]:
    with Session(engine) as s:
        return list(
            s.exec(select(JobRun).where(JobRun.job_id == job_id).order_by(col(JobRun.id))).all()
        )


def _next_run(scheduler: TrackerScheduler, job_id: str) -> dt.datetime | None:
    return {j["id"]: j["next_run_at"] for j in scheduler.planned_jobs()}.get(job_id)


def test_running_scheduler_retries_a_failed_fetch_with_backoff_then_recovers(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(0))
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")  # daily refresh
    down = threading.Event()
    down.set()
    normal = upstream.handler

    def outage(request: httpx.Request) -> httpx.Response:
        if down.is_set():
            return httpx.Response(503, content=b"down for maintenance")
        del upstream.faults["CHN"]
        try:
            return normal(request)
        finally:
            upstream.faults["CHN"] = outage

    upstream.faults["CHN"] = outage
    base = 2.0  # seconds: TRACKER_SCHEDULER_RETRY_BASE
    tuned = settings.model_copy(update={"scheduler_retry_base": base})
    http = upstream.fetcher(tuned, http_max_retries=0)
    job_id = f"refresh:{owid_key('CHN')}"
    scheduler = TrackerScheduler(
        engine, tuned, http=http, holder="proc-a", heartbeat=dt.timedelta(seconds=0.2)
    )
    scheduler.start()
    try:
        for failures in (1, 2):  # each failure is a JobRun; the retry comes base, then 2x base
            assert wait_for(
                lambda n=failures: sum(r.status == "error" for r in _job_runs(engine, job_id)) == n
            ), scheduler_status(engine)
            failed = _job_runs(engine, job_id)[-1]
            assert failed.finished_at is not None
            expected = failed.finished_at + dt.timedelta(seconds=base * 2 ** (failures - 1))
            assert wait_for(lambda e=expected: _next_run(scheduler, job_id) == e), (
                _next_run(scheduler, job_id),
                expected,
            )
        down.clear()  # the source is back
        assert wait_for(lambda: _job_runs(engine, job_id)[-1].status == "ok", timeout=20)
        runs = _job_runs(engine, job_id)
        assert [r.status for r in runs] == ["error", "error", "ok"]
        assert runs[2].started_at >= expected - dt.timedelta(seconds=0.5)
        # a success resets the backoff: the next run is a whole interval after it
        assert wait_for(
            lambda: (_next_run(scheduler, job_id) or NOW) > utcnow() + dt.timedelta(hours=23)
        )
    finally:
        scheduler.stop()
    with Session(engine) as s:
        fetches = s.exec(select(FetchRun).order_by(col(FetchRun.id))).all()
    assert [f.status for f in fetches] == ["error", "error", "ok"]
    assert count_rows(engine, Observation) > 0


def _blocking(
    upstream: Upstream, release: threading.Event
) -> Callable[[httpx.Request], httpx.Response]:
    """A source that hangs until `release`, then answers with the recorded payload."""
    entered = threading.Semaphore(0)

    def slow(request: httpx.Request) -> httpx.Response:
        entered.release()
        release.wait(30)
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, content=upstream.csv, headers={"content-type": "text/csv"})
        return httpx.Response(
            200, content=upstream.meta, headers={"content-type": "application/json"}
        )

    slow.entered = entered  # type: ignore[attr-defined]
    return slow


def _heartbeat(engine: Engine) -> dt.datetime:
    return dt.datetime.fromisoformat(scheduler_status(engine)["heartbeat_at"])


def test_heartbeat_runs_while_both_job_threads_are_blocked(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(0))
    upstream = Upstream()
    release = threading.Event()
    for country in ("CHN", "USA"):
        make_owid_indicator(engine, country)
        upstream.faults[country] = _blocking(upstream, release)
    ttl = dt.timedelta(seconds=1.5)
    fast = dt.timedelta(seconds=0.2)
    holder = TrackerScheduler(
        engine,
        settings,
        http=upstream.fetcher(settings),
        holder="proc-a",
        lease_ttl=ttl,
        heartbeat=fast,
    )
    rival = TrackerScheduler(engine, settings, holder="proc-b", lease_ttl=ttl, heartbeat=fast)
    holder.start()
    try:
        for country in ("CHN", "USA"):  # both job threads now wait on the source
            assert upstream.faults[country].entered.acquire(timeout=15)  # type: ignore[attr-defined]
        blocked_at = _heartbeat(engine)
        deadline = utcnow() + 2 * ttl
        while utcnow() < deadline:  # longer than the lease lives without a heartbeat
            rival.tick()
            assert not rival.active, "another process took the lease while fetches were slow"
            threading.Event().wait(0.1)
        assert holder.active and _heartbeat(engine) > blocked_at + ttl
        assert scheduler_status(engine)["holder"] == "proc-a"
    finally:
        release.set()
        holder.stop()
        rival.stop()
    assert count_rows(engine, FetchRun, FetchRun.status == "ok") == 2


def test_a_job_that_lost_the_lease_stops_before_storing(
    engine: Engine, settings: Settings, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(0))
    upstream = Upstream()
    release = threading.Event()
    make_owid_indicator(engine, "CHN")
    upstream.faults["CHN"] = slow = _blocking(upstream, release)
    holder = TrackerScheduler(  # one heartbeat only: the takeover below is not undone
        engine,
        settings,
        http=upstream.fetcher(settings),
        holder="proc-a",
        heartbeat=dt.timedelta(minutes=5),
    )
    rival = Lease(engine, "proc-b", TTL)
    holder.start()
    try:
        assert slow.entered.acquire(timeout=15)  # type: ignore[attr-defined]
        # proc-a stalled past its lease's expiry: proc-b takes over
        later = utcnow() + dt.timedelta(minutes=2)
        assert wait_for(lambda: rival.try_acquire(later))
        release.set()  # the slow answer arrives after the lease was lost
        job_id = f"refresh:{owid_key('CHN')}"
        assert wait_for(lambda: len(upstream.requests) >= 1)
    finally:
        release.set()
        holder.stop()  # waits for the job: it ended without storing anything
    # proc-a lost the lease: it stored nothing at all afterwards, not even its failure (the
    # fence refuses every write of an ended tenure) ...
    (run,) = _job_runs(engine, job_id)
    assert run.status == "running" and run.finished_at is None
    assert count_rows(engine, Observation) == 0  # nothing stored
    with Session(engine) as s:
        fetch = s.exec(select(FetchRun)).one()
    assert fetch.status == "running"
    # ... and the holder now closes what it left as abandoned
    assert rival.epoch is not None
    with sched.fenced(sched.Fence("proc-b", rival.epoch)):
        sched.close_abandoned(engine, "proc-b", utcnow(), fetch_stale_after=dt.timedelta(0))
    rival.release()
    (run,) = _job_runs(engine, job_id)
    assert run.status == "abandoned" and "proc-b took the scheduler lease" in (run.error or "")
    with Session(engine) as s:
        fetch = s.exec(select(FetchRun)).one()
    assert fetch.status == "abandoned" and "closed by proc-b" in (fetch.error or "")


def test_lease_takeover_and_loss_are_logged(
    engine: Engine, settings: Settings, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tracker.scheduler")
    crashed = Lease(engine, "proc-a", TTL)
    long_ago = utcnow() - dt.timedelta(minutes=5)
    assert crashed.try_acquire(long_ago)  # its lease expired at long_ago + TTL
    b = TrackerScheduler(engine, settings, holder="proc-b", lease_ttl=TTL)
    stolen = Lease(engine, "proc-c", TTL)
    try:
        b.tick()
        expired = (long_ago + TTL).isoformat(timespec="seconds")
        assert (
            f"scheduler lease acquired by proc-b (previous holder proc-a, expired {expired})"
            in caplog.messages
        )
        # proc-b stalls; proc-c takes over once proc-b's lease has expired
        assert stolen.try_acquire(utcnow() + 2 * TTL)
        b.tick()
        assert not b.active
        assert (
            "scheduler lease lost by proc-b (now held by proc-c); stopping jobs" in caplog.messages
        )
    finally:
        b.stop()
        stolen.release()
    fresh = Lease(engine, "proc-d", TTL)
    try:
        assert fresh.try_acquire(utcnow())
        assert acquired_message("proc-d", fresh.taken_from, utcnow()) == (
            "scheduler lease acquired by proc-d (no previous holder)"
        )
    finally:
        fresh.release()
