"""The scheduler: one active process per database, restarts that neither lose nor repeat work,
and jobs that record failures instead of raising (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import functools
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_ingest_support import Upstream, count_rows, make_owid_indicator, owid_key

from tracker import scheduler as sched
from tracker.clock import utcnow
from tracker.db import session_scope
from tracker.models import FetchRun, JobRun, SchedulerLease
from tracker.scheduler import (
    JobDef,
    Lease,
    TrackerScheduler,
    job_table,
    parse_refresh,
    plan_jobs,
    refresh_job,
    run_recorded,
    scheduler_status,
)
from tracker.web.app import create_app

TTL = dt.timedelta(seconds=30)


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def record_run(engine, job_id, started_at, status="ok"):
    with session_scope(engine) as s:
        s.add(JobRun(job_id=job_id, started_at=started_at, finished_at=started_at, status=status))


def test_parse_refresh():
    assert parse_refresh("daily") == dt.timedelta(days=1)
    assert parse_refresh("weekly") == dt.timedelta(days=7)
    assert parse_refresh("monthly") == dt.timedelta(days=30)
    assert parse_refresh("every 6h") == dt.timedelta(hours=6)
    assert parse_refresh("every 30m") == dt.timedelta(minutes=30)
    assert parse_refresh("fortnightly") == dt.timedelta(days=1)  # unknown: daily, logged


def test_job_table_has_refresh_per_indicator_next_update_check_and_evaluation(engine, settings):
    now = utcnow()
    make_owid_indicator(
        engine, "CHN", refresh="weekly", next_update_expected=now.date() + dt.timedelta(days=3)
    )
    make_owid_indicator(engine, "USA", next_update_expected=now.date() - dt.timedelta(days=3))
    jobs = {job.id: job for job in job_table(engine, None, now=now)}
    assert set(jobs) == {
        "evaluate:all",
        f"refresh:{owid_key('CHN')}",
        f"refresh:{owid_key('USA')}",
        f"check:{owid_key('CHN')}:{(now.date() + dt.timedelta(days=3)).isoformat()}",
    }
    assert jobs[f"refresh:{owid_key('CHN')}"].interval == dt.timedelta(days=7)
    check = jobs[f"check:{owid_key('CHN')}:{(now.date() + dt.timedelta(days=3)).isoformat()}"]
    assert check.interval is None and check.run_at is not None and check.run_at > now


def test_restart_neither_repeats_nor_loses_work(engine):
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    noop = lambda: None  # noqa: E731
    jobs = [
        JobDef("fresh", sched.IntervalTrigger(days=1), noop, "ran 1h ago", interval=day),
        JobDef("missed", sched.IntervalTrigger(days=1), noop, "ran 5 days ago", interval=day),
        JobDef("failed", sched.IntervalTrigger(days=1), noop, "last run failed", interval=day),
        JobDef("never", sched.IntervalTrigger(days=1), noop, "never ran", interval=day),
        JobDef("once-done", sched.DateTrigger(now), noop, "one-off done", run_at=now),
        JobDef("once-todo", sched.DateTrigger(now + day), noop, "one-off due", run_at=now + day),
    ]
    record_run(engine, "fresh", now - dt.timedelta(hours=1))
    for days_ago in (5, 4, 3):  # several missed runs: caught up once, not three times
        record_run(engine, "missed", now - days_ago * day)
    record_run(engine, "failed", now - dt.timedelta(hours=2), status="error")
    record_run(engine, "once-done", now - dt.timedelta(hours=3))
    plan = plan_jobs(engine, jobs, now=now)
    assert plan["fresh"] == now - dt.timedelta(hours=1) + day  # not again within its interval
    soon = [plan["missed"], plan["failed"], plan["never"]]
    assert all(p is not None and now < p <= now + dt.timedelta(minutes=1) for p in soon)
    assert len(set(soon)) == 3  # staggered, each exactly once
    assert plan["once-done"] is None and plan["once-todo"] == now + day


def test_two_schedulers_exactly_one_active(engine, settings):
    first = TrackerScheduler(engine, settings, holder="proc-a", lease_ttl=TTL)
    second = TrackerScheduler(engine, settings, holder="proc-b", lease_ttl=TTL)
    try:
        first.tick()
        second.tick()
        second.tick()  # retrying does not steal a live lease
        assert (first.active, second.active) == (True, False)
        assert second.planned_jobs() == [] and second._job_ids == set()
        status = scheduler_status(engine)
        assert status["holder"] == "proc-a" and status["active"] is True
        first.stop()  # releases: the other takes over at its next retry
        second.tick()
        assert second.active and scheduler_status(engine)["holder"] == "proc-b"
    finally:
        first.stop()
        second.stop()


def test_lease_takeover_after_expiry(engine, backend):
    now = utcnow()
    a, b = Lease(engine, "proc-a", TTL), Lease(engine, "proc-b", TTL)
    try:
        assert a.try_acquire(now)
        assert not b.try_acquire(now + dt.timedelta(seconds=10))
        assert a.renew(now + dt.timedelta(seconds=20))  # heartbeat pushes expiry forward
        assert not b.try_acquire(now + dt.timedelta(seconds=45))
        # on PostgreSQL too, whatever A's connections still hold (a frozen process keeps them
        # open): the lease row decides, and its epoch fences A's writes (test_lease_fencing)
        later = now + dt.timedelta(minutes=5)  # A stopped heartbeating: its lease expired
        assert b.try_acquire(later)
        assert not a.renew(later + dt.timedelta(seconds=1))  # A learns it lost the lease
        with Session(engine) as s:
            lease = s.get(SchedulerLease, sched.LEASE_NAME)
            assert lease is not None and lease.holder == "proc-b"
            assert lease.expires_at == later + TTL
    finally:
        a.release()
        b.release()


def test_failing_source_does_not_raise_out_of_the_job(engine, settings):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    upstream.faults["CHN"] = lambda request: httpx.Response(500, content=b"boom")
    http = upstream.fetcher(settings, http_max_retries=1)
    job = functools.partial(refresh_job, engine, http, owid_key("CHN"))
    run_recorded(engine, f"refresh:{owid_key('CHN')}", "proc-a", job)  # must not raise

    def broken() -> None:
        raise RuntimeError("a bug in a job")

    run_recorded(engine, "evaluate:all", "proc-a", broken)  # must not raise either
    with Session(engine) as s:
        runs = {r.job_id: r for r in s.exec(select(JobRun)).all()}
        fetch = s.exec(select(FetchRun)).one()
    refresh = runs[f"refresh:{owid_key('CHN')}"]
    assert refresh.status == "error" and "HTTP 500" in (refresh.error or "")
    assert refresh.finished_at is not None and refresh.holder == "proc-a"
    assert runs["evaluate:all"].status == "error"
    assert runs["evaluate:all"].error == "RuntimeError: a bug in a job"
    assert fetch.status == "error" and fetch.trigger == "scheduler"


def test_running_scheduler_catches_up_once_and_restart_does_not_repeat(
    engine, settings, monkeypatch
):
    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(0))
    monkeypatch.setattr(sched, "CATCH_UP_STAGGER", dt.timedelta(0))
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    http = upstream.fetcher(settings)
    job_id = f"refresh:{owid_key('CHN')}"

    def ok_runs():
        return count_rows(engine, JobRun, JobRun.job_id == job_id, JobRun.status == "ok")

    first = TrackerScheduler(
        engine, settings, http=http, holder="proc-a", heartbeat=dt.timedelta(seconds=0.2)
    )
    first.start()
    try:
        assert wait_for(lambda: ok_runs() == 1), scheduler_status(engine)
        assert wait_for(lambda: count_rows(engine, JobRun, JobRun.job_id == "evaluate:all") == 1)
    finally:
        first.stop()
    assert count_rows(engine, FetchRun, FetchRun.status == "ok") == 1

    second = TrackerScheduler(
        engine, settings, http=http, holder="proc-b", heartbeat=dt.timedelta(seconds=0.2)
    )
    second.start()
    try:
        assert wait_for(lambda: second.active)
        assert wait_for(lambda: any(j["id"] == job_id for j in second.planned_jobs()))
        time.sleep(1.0)  # several heartbeats
        planned = {j["id"]: j["next_run_at"] for j in second.planned_jobs()}
        assert planned[job_id] > utcnow() + dt.timedelta(hours=23)  # waits out its interval
    finally:
        second.stop()
    assert ok_runs() == 1 and count_rows(engine, FetchRun) == 1


def test_readyz_names_the_scheduler_holder(settings, engine):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    upstream.faults["CHN"] = lambda request: httpx.Response(503)
    refresh_job(engine, upstream.fetcher(settings, http_max_retries=0), owid_key("CHN"))
    with TestClient(create_app(settings, engine=engine)) as client:  # no scheduler configured
        response = client.get("/readyz")
        assert response.status_code == 200  # informational: never makes readiness fail
        check = response.json()["checks"]["scheduler"]
        assert check["holder"] is None and check["active"] is False
        assert check["failing_indicators"] == [owid_key("CHN")]
        assert check["last_fetch_at"] is not None

    # the app's scheduler uses the real HTTP client: point it at a closed local port, never
    # at the live network, should a refresh job come due while the test runs
    running = settings.model_copy(
        update={"run_scheduler": True, "owid_base_url": "http://127.0.0.1:9/grapher"}
    )
    app = create_app(running, engine=engine)
    with TestClient(app) as client:
        scheduler = app.state.scheduler
        assert wait_for(lambda: scheduler.active)
        response = client.get("/readyz")
        assert response.status_code == 200
        check = response.json()["checks"]["scheduler"]
        assert check["holder"] == scheduler.holder and check["active"] is True
    # the app's shutdown released the lease
    assert scheduler_status(engine)["holder"] is None


@pytest.mark.parametrize("refresh", ["every 2h", "monthly"])
def test_refresh_cadence_from_the_catalogue(engine, refresh):
    make_owid_indicator(engine, "CHN", refresh=refresh)
    job = {j.id: j for j in job_table(engine, None, now=utcnow())}[f"refresh:{owid_key('CHN')}"]
    assert job.interval == parse_refresh(refresh)


def test_tracker_scheduler_command_runs_alone_and_stops_cleanly(settings, engine, tmp_path):
    """`tracker scheduler` in its own process: takes the lease, stops on SIGTERM, releases it."""
    import os
    import signal
    import subprocess
    import sys

    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": settings.database_url,
        "TRACKER_DATA_DIR": str(tmp_path / "data"),
        "TRACKER_OWID_BASE_URL": "http://127.0.0.1:9/grapher",  # never the live network
        "PYTHONFAULTHANDLER": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: scheduler_status(engine)["active"], timeout=30)
        holder = scheduler_status(engine)["holder"]
        assert holder and str(process.pid) in holder
        time.sleep(1.5)  # the command notices the lease within a second and says so
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # dump every thread's stack (PYTHONFAULTHANDLER)
            os.kill(process.pid, signal.SIGABRT)
            output, _ = process.communicate(timeout=10)
            raise AssertionError(output) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "holds the scheduler lease" in output and "scheduler stopped" in output
    assert scheduler_status(engine)["holder"] is None


def test_no_fetch_job_for_a_source_whose_api_key_is_missing(engine, settings):
    from pydantic import SecretStr
    from test_ingest_support import make_indicator

    make_owid_indicator(engine, "CHN")
    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    ids = {j.id for j in job_table(engine, None, now=utcnow(), settings=settings)}
    assert f"refresh:{owid_key('CHN')}" in ids and "refresh:fred.uspbs" not in ids
    keyed = settings.model_copy(update={"fred_api_key": SecretStr("f" * 32)})
    assert "refresh:fred.uspbs" in {
        j.id for j in job_table(engine, None, now=utcnow(), settings=keyed)
    }


def test_running_scheduler_replans_a_job_whose_cadence_changed(engine, settings, monkeypatch):
    from test_ingest_support import make_indicator

    from tracker.models import Indicator

    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(days=1))  # nothing runs here
    make_owid_indicator(engine, "CHN")
    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    job_id = f"refresh:{owid_key('CHN')}"
    last_ok = utcnow() - dt.timedelta(hours=1)
    record_run(engine, job_id, last_ok)

    def next_run():
        return {j["id"]: j["next_run_at"] for j in scheduler.planned_jobs()}.get(job_id)

    def planned_at(expected):
        return lambda: (
            next_run() is not None and abs(next_run() - expected) < dt.timedelta(seconds=1)
        )

    scheduler = TrackerScheduler(
        engine, settings, http=Upstream().fetcher(settings), heartbeat=dt.timedelta(seconds=0.2)
    )
    scheduler.start()
    try:
        assert wait_for(planned_at(last_ok + dt.timedelta(days=1)), timeout=10), next_run()
        with session_scope(engine) as s:
            row = s.exec(select(Indicator).where(Indicator.key == owid_key("CHN"))).one()
            row.refresh = "weekly"
        assert wait_for(planned_at(last_ok + dt.timedelta(days=7)), timeout=10), next_run()
        with session_scope(engine) as s:
            row = s.exec(select(Indicator).where(Indicator.key == owid_key("CHN"))).one()
            row.refresh = "every 2h"
        # within the new, shorter interval of the last run: due one hour from now
        assert wait_for(planned_at(last_ok + dt.timedelta(hours=2)), timeout=10), next_run()
        planned = {j["id"] for j in scheduler.planned_jobs()}
        assert "refresh:fred.uspbs" not in planned  # no TRACKER_FRED_API_KEY: never scheduled
    finally:
        scheduler.stop()
    assert count_rows(engine, FetchRun) == 0


def test_readyz_lists_failing_and_stale_but_not_missing_keys_or_never_fetched(settings, engine):
    from test_ingest_support import T0, build_health_zoo

    build_health_zoo(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: T0 + dt.timedelta(hours=2)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"
    check = response.json()["checks"]["scheduler"]
    assert check["failing_indicators"] == [owid_key("FRA")]
    assert check["stale_indicators"] == [owid_key("OWID_WRL")]
    assert check["needs_key_indicators"] == {"fred.uspbs": "TRACKER_FRED_API_KEY"}
