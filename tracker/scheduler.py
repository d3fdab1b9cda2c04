"""The scheduler: every periodic job in one visible table (`job_table`), run by exactly one
process per database (PostgreSQL advisory lock / SQLite lease row), each run recorded as a JobRun
so a restart neither loses nor duplicates work. Jobs are plain functions that never raise.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tracker.config import Settings
from tracker.data_health import indicator_health, missing_key_setting, parse_refresh
from tracker.db import session_scope
from tracker.models import FetchRun, Indicator, JobRun, SchedulerLease, utcnow
from tracker.pipeline import evaluate, fetchable_indicators, refresh_indicator

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# pg_try_advisory_lock key: a fixed 64-bit number naming "the tracker scheduler"
ADVISORY_LOCK_KEY = 0x7472_6163_6B65_72  # "tracker"
MISFIRE_GRACE_SECONDS = 6 * 3600
CATCH_UP_DELAY = dt.timedelta(seconds=10)
CATCH_UP_STAGGER = dt.timedelta(seconds=3)
# A one-off check this long after OWID's announced nextUpdate day starts.
NEXT_UPDATE_CHECK_DELAY = dt.timedelta(hours=30)

JobOutcome = str | None  # None: done; a string: what went wrong (recorded on the JobRun)


@dataclass(frozen=True)
class JobDef:
    """One scheduled job: `interval` for repeating jobs, `run_at` for one-off ones."""

    id: str
    trigger: BaseTrigger
    func: Callable[[], JobOutcome]
    description: str
    interval: dt.timedelta | None = None
    run_at: dt.datetime | None = None


# --- the jobs (plain functions: they return an outcome, they never raise) ---


def refresh_job(engine: Engine, http: Any, key: str) -> JobOutcome:
    """Fetch one indicator and re-evaluate its claims; a failed fetch is a FetchRun, not a crash."""
    result = refresh_indicator(engine, http, key, trigger="scheduler")
    if not result.fetch.ok:
        return f"fetch failed ({result.fetch.error_kind}): {result.fetch.error}"
    return result.evaluation_error


def evaluate_job(engine: Engine) -> JobOutcome:
    """Re-evaluate every claim (deadlines pass even when no data changes)."""
    evaluate(engine, now=utcnow())
    return None


def job_table(
    engine: Engine,
    http: Any,
    *,
    now: dt.datetime,
    indicators: Sequence[Indicator] | None = None,
    settings: Settings | None = None,
) -> list[JobDef]:
    """Every job this scheduler runs, in one list.

    An indicator whose source needs an API key that is not configured (`settings`, default: the
    fetcher's) gets no fetch job at all: nothing is fetched and nothing is recorded for it, since
    every attempt would fail the same way. Its data health says `needs_key` and names the setting
    (tracker.data_health); setting the key and restarting the scheduler installs its jobs.
    """
    settings = settings or getattr(http, "settings", None)
    jobs: list[JobDef] = [
        JobDef(
            id="evaluate:all",
            # just after each UTC midnight, so a deadline that passed shows the same day
            trigger=CronTrigger(hour=0, minute=5, timezone=dt.UTC),
            func=functools.partial(evaluate_job, engine),
            description="re-evaluate every claim",
            interval=dt.timedelta(days=1),
        )
    ]
    for indicator in indicators if indicators is not None else fetchable_indicators(engine):
        if settings is not None and missing_key_setting(indicator.source, settings):
            continue  # needs_key: see the docstring
        interval = parse_refresh(indicator.refresh)
        fetch = functools.partial(refresh_job, engine, http, indicator.key)
        jobs.append(
            JobDef(
                id=f"refresh:{indicator.key}",
                trigger=IntervalTrigger(seconds=int(interval.total_seconds()), timezone=dt.UTC),
                func=fetch,
                description=f"fetch {indicator.key} from {indicator.source} ({indicator.refresh})",
                interval=interval,
            )
        )
        if indicator.next_update_expected is not None:
            run_at = (
                dt.datetime.combine(indicator.next_update_expected, dt.time(), tzinfo=dt.UTC)
                + NEXT_UPDATE_CHECK_DELAY
            )
            if run_at > now:
                jobs.append(
                    JobDef(
                        id=f"check:{indicator.key}:{indicator.next_update_expected.isoformat()}",
                        trigger=DateTrigger(run_date=run_at, timezone=dt.UTC),
                        func=fetch,
                        description=(
                            f"fetch {indicator.key} after its announced update "
                            f"({indicator.next_update_expected.isoformat()})"
                        ),
                        run_at=run_at,
                    )
                )
    return jobs


def last_successful_runs(engine: Engine, job_ids: Sequence[str]) -> dict[str, dt.datetime]:
    """When each job last started a run that finished ok (one query)."""
    if not job_ids:
        return {}
    runs = JobRun.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.job_id, sa.func.max(runs.started_at))
            .where(runs.job_id.in_(list(job_ids)), runs.status == "ok")
            .group_by(runs.job_id)
        ).all()
    # max() keeps the column type, so these are aware UTC datetimes on every backend
    return {job_id: started for job_id, started in rows if started is not None}


def plan_jobs(
    engine: Engine, jobs: Sequence[JobDef], *, now: dt.datetime
) -> dict[str, dt.datetime | None]:
    """First run time of each job after a (re)start; None: nothing to do (already done).

    A repeating job that ran ok within its interval waits for the rest of it; one that did not
    (or never ran) runs soon — once, however many runs were missed. A one-off job that already
    ran ok is not run again.
    """
    last = last_successful_runs(engine, [job.id for job in jobs])
    plan: dict[str, dt.datetime | None] = {}
    catch_up = 0
    for job in jobs:
        previous = last.get(job.id)
        if job.interval is None:
            plan[job.id] = None if previous is not None else job.run_at
            continue
        if isinstance(job.trigger, CronTrigger):
            # due at fixed times: run now if the last due time passed without a run, else wait
            last_due = job.trigger.get_next_fire_time(None, now - job.interval)
            missed = last_due is not None and last_due <= now and (previous or now) < last_due
            if previous is not None and not missed:
                plan[job.id] = job.trigger.get_next_fire_time(None, now)
                continue
            plan[job.id] = now + CATCH_UP_DELAY + catch_up * CATCH_UP_STAGGER
            catch_up += 1
        elif previous is not None and now - previous < job.interval:
            plan[job.id] = previous + job.interval
        else:
            plan[job.id] = now + CATCH_UP_DELAY + catch_up * CATCH_UP_STAGGER
            catch_up += 1
    return plan


def run_recorded(engine: Engine, job_id: str, holder: str, func: Callable[[], JobOutcome]) -> None:
    """Run a job and record it as a JobRun; nothing escapes (a failure is a JobRun with error)."""
    try:
        with session_scope(engine) as session:
            run = JobRun(job_id=job_id, started_at=utcnow(), holder=holder, status="running")
            session.add(run)
            session.flush()
            run_id = run.id
    except Exception:  # the database is unreachable: nothing can be recorded, try next time
        log.exception("job %s: cannot record its start", job_id)
        return
    try:
        outcome = func()
    except Exception as exc:  # a bug in a job: recorded, not raised into the scheduler
        log.exception("job %s failed", job_id)
        outcome = f"{type(exc).__name__}: {exc}"
    try:
        with session_scope(engine) as session:
            done = session.get(JobRun, run_id)
            if done is not None:
                done.finished_at = utcnow()
                done.status = "ok" if outcome is None else "error"
                done.error = None if outcome is None else outcome[:2000]
    except Exception:
        log.exception("job %s: cannot record its end", job_id)


# --- one active scheduler per database ---


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """The right to run jobs. SQLite: the SchedulerLease row (taken over once expired);
    PostgreSQL: additionally a session advisory lock held on a dedicated connection."""

    def __init__(self, engine: Engine, holder: str, ttl: dt.timedelta) -> None:
        self.engine = engine
        self.holder = holder
        self.ttl = ttl
        self._lock_connection: Connection | None = None

    @property
    def uses_advisory_lock(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _take_advisory_lock(self) -> bool:
        if self._lock_connection is not None:
            try:
                self._lock_connection.execute(sa.text("SELECT 1"))
                self._lock_connection.commit()
                return True
            except Exception:  # the connection died, and the lock with it
                self._drop_lock_connection()
        connection = self.engine.connect()
        try:
            got = connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(ADVISORY_LOCK_KEY))
            ).scalar_one()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._lock_connection = connection
        return True

    def _drop_lock_connection(self) -> None:
        connection, self._lock_connection = self._lock_connection, None
        if connection is None:
            return
        try:
            connection.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
            connection.commit()
        except Exception:
            log.debug("advisory unlock failed (connection gone)", exc_info=True)
        finally:
            connection.invalidate()  # never hand a lock-holding session back to the pool
            connection.close()

    def try_acquire(self, now: dt.datetime) -> bool:
        """Take the lease if free, expired or ours; True if we hold it now."""
        if self.uses_advisory_lock and not self._take_advisory_lock():
            return False
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        expires = now + self.ttl
        try:
            with self.engine.begin() as conn:
                condition = sa.or_(table.c.holder == self.holder, table.c.expires_at < now)
                if self.uses_advisory_lock:
                    condition = sa.true()  # the lock is the authority; the row says who has it
                taken = conn.execute(
                    sa.update(table)
                    .where(table.c.name == LEASE_NAME, condition)
                    .values(
                        holder=self.holder, acquired_at=now, heartbeat_at=now, expires_at=expires
                    )
                ).rowcount
                if taken == 0:
                    conn.execute(
                        sa.insert(table).values(
                            name=LEASE_NAME,
                            holder=self.holder,
                            acquired_at=now,
                            heartbeat_at=now,
                            expires_at=expires,
                        )
                    )
            return True
        except IntegrityError:  # someone else holds a live lease
            return False

    def renew(self, now: dt.datetime) -> bool:
        """Extend our lease; False if it was lost (expired and taken over, or lock gone)."""
        if self.uses_advisory_lock and not self._take_advisory_lock():
            return False
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            kept = conn.execute(
                sa.update(table)
                .where(table.c.name == LEASE_NAME, table.c.holder == self.holder)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            ).rowcount
        if kept == 0 and self.uses_advisory_lock:
            return self.try_acquire(now)  # the row was removed by hand; the lock is still ours
        return kept == 1

    def release(self) -> None:
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.delete(table).where(
                        table.c.name == LEASE_NAME, table.c.holder == self.holder
                    )
                )
        finally:
            self._drop_lock_connection()


class TrackerScheduler:
    """APScheduler 3 BackgroundScheduler running `job_table` while this process holds the lease.

    A process that does not hold the lease runs no jobs and retries every heartbeat.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        http: Any = None,
        holder: str | None = None,
        lease_ttl: dt.timedelta = dt.timedelta(seconds=60),
        heartbeat: dt.timedelta = dt.timedelta(seconds=15),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.holder = holder or default_holder()
        self.lease = Lease(engine, self.holder, lease_ttl)
        self.heartbeat = heartbeat
        self._http = http
        self._http_client: Any = None
        self._scheduler: BackgroundScheduler | None = None
        self._job_ids: set[str] = set()
        self._job_intervals: dict[str, dt.timedelta | None] = {}
        self._skipped: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.active = False

    @property
    def http(self) -> Any:
        if self._http is None:
            from tracker.sources.http import HttpFetcher, make_http_client

            self._http_client = make_http_client(self.settings)
            self._http = HttpFetcher(self._http_client, self.settings)
        return self._http

    def start(self) -> None:
        self._stopping = False
        scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.heartbeat.total_seconds(), timezone=dt.UTC),
            id="lease",
            name="hold the scheduler lease; install or remove the jobs",
            next_run_time=utcnow(),
        )
        self._scheduler = scheduler
        scheduler.start()

    def tick(self) -> None:
        """Heartbeat: keep or take the lease, and keep the installed jobs equal to the table."""
        with self._lock:
            if self._stopping:
                return
            now = utcnow()
            try:
                if self.active:
                    if not self.lease.renew(now):
                        log.warning("scheduler lease lost by %s; stopping jobs", self.holder)
                        self._remove_jobs(set(self._job_ids))
                        self.active = False
                        return
                elif self.lease.try_acquire(now):
                    log.info("scheduler lease taken by %s", self.holder)
                    self.active = True
                if self.active:
                    self.sync_jobs(now)
            except Exception:  # e.g. the database is down: try again next heartbeat
                log.exception("scheduler heartbeat failed")

    def sync_jobs(self, now: dt.datetime) -> None:
        """Make the installed jobs equal the table: add new jobs (planned against JobRun
        history), drop vanished ones, and re-plan a job whose cadence changed in the catalogue
        (its next run counts the new interval from its last successful run)."""
        indicators = fetchable_indicators(self.engine)
        self._announce_skipped(indicators)
        jobs = job_table(
            self.engine, self.http, now=now, indicators=indicators, settings=self.settings
        )
        wanted = {job.id for job in jobs}
        self._remove_jobs(self._job_ids - wanted)
        changed = {
            job.id
            for job in jobs
            if job.id in self._job_ids and self._job_intervals.get(job.id) != job.interval
        }
        for job in jobs:
            if job.id in changed:
                log.info(
                    "job %s: cadence changed from %s to %s; re-planned",
                    job.id,
                    self._job_intervals.get(job.id),
                    job.interval,
                )
        self._remove_jobs(changed)
        new_jobs = [job for job in jobs if job.id not in self._job_ids]
        if not new_jobs or self._scheduler is None:
            return
        plan = plan_jobs(self.engine, new_jobs, now=now)
        for job in new_jobs:
            first_run = plan[job.id]
            if first_run is None:
                continue  # a one-off job already done
            self._scheduler.add_job(
                run_recorded,
                job.trigger,
                args=(self.engine, job.id, self.holder, job.func),
                id=job.id,
                name=job.description,
                next_run_time=first_run,
                replace_existing=True,
            )
            self._job_ids.add(job.id)
            self._job_intervals[job.id] = job.interval

    def _announce_skipped(self, indicators: Sequence[Indicator]) -> None:
        """Log (once per change, not every heartbeat) the indicators left out for a missing key."""
        skipped: dict[str, str] = {}
        for indicator in indicators:
            setting = missing_key_setting(indicator.source, self.settings)
            if setting is not None:
                skipped[indicator.key] = setting
        if skipped != self._skipped:
            for key, setting in sorted(skipped.items()):
                log.info("not scheduling fetches of %s: set %s to fetch it", key, setting)
            self._skipped = skipped

    def _remove_jobs(self, ids: set[str]) -> None:
        for job_id in ids:
            if self._scheduler is not None and self._scheduler.get_job(job_id) is not None:
                self._scheduler.remove_job(job_id)
            self._job_ids.discard(job_id)
            self._job_intervals.pop(job_id, None)

    def planned_jobs(self) -> list[dict[str, Any]]:
        """The installed jobs and their next run (for status pages and tests)."""
        if self._scheduler is None:
            return []
        return [
            {"id": job.id, "description": job.name, "next_run_at": job.next_run_time}
            for job in self._scheduler.get_jobs()
            if job.id != "lease"
        ]

    def stop(self) -> None:
        # Let a running heartbeat finish and start no other: APScheduler's shutdown(wait=True)
        # holds its job-store lock while waiting for running jobs, and a heartbeat adding a job
        # at that moment would wait for that lock forever.
        with self._lock:
            self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        with self._lock:
            try:
                self.lease.release()
            except Exception:
                log.exception("releasing the scheduler lease failed")
            self.active = False
            self._job_ids.clear()
            self._job_intervals.clear()
        if self._http_client is not None:
            self._http_client.close()


# --- status, for /readyz and the API ---


def scheduler_status(engine: Engine, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Who holds the scheduler, its last heartbeat, and each job's latest run."""
    now = now or utcnow()
    with Session(engine) as session:
        lease = session.get(SchedulerLease, LEASE_NAME)
        cols = JobRun.__table__.c  # type: ignore[attr-defined]
        latest = (
            sa.select(cols.job_id, sa.func.max(cols.id).label("id"))
            .group_by(cols.job_id)
            .subquery()
        )
        runs = session.exec(
            select(JobRun).join(latest, cols.id == latest.c.id).order_by(cols.job_id)
        ).all()
    return {
        "holder": lease.holder if lease else None,
        "active": bool(lease and lease.expires_at > now),
        "acquired_at": lease.acquired_at.isoformat() if lease else None,
        "heartbeat_at": lease.heartbeat_at.isoformat() if lease else None,
        "expires_at": lease.expires_at.isoformat() if lease else None,
        "jobs": [
            {
                "id": run.job_id,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "holder": run.holder,
                "error": run.error,
            }
            for run in runs
        ],
    }


def process_id() -> str:
    """This process, as `host:pid` (a scheduler's holder id starts with it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def readiness_probe(
    engine: Engine,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    own_holder: str | None = None,
) -> dict[str, Any]:
    """/readyz entry: which process holds the scheduler, whether it is this one (`own_holder`:
    the holder id of this process's scheduler, None when it runs none), and which indicators
    are failing or stale (tracker.data_health; `needs_key` ones are listed apart).

    Informational: never makes readiness fail (a web process without a scheduler is ready, and
    an indicator never fetched or waiting for an API key is not a fault of this process).
    """
    now = now or utcnow()
    settings = settings or Settings()  # the process environment says which keys are set
    try:
        status = scheduler_status(engine, now=now)
        with Session(engine) as session:
            health = indicator_health(session, settings, now)
            last_run = session.exec(select(sa.func.max(FetchRun.started_at))).one()
    except Exception as exc:
        # the probe failed: `ok` says so; `informational` keeps it from making /readyz fail
        return {"ok": False, "informational": True, "error": type(exc).__name__}

    def keys(state: str) -> list[str]:
        return [h.indicator.key for h in health if h.state == state]

    return {
        "ok": True,
        "informational": True,
        "holder": status["holder"],
        "active": status["active"],
        "this_process": own_holder or process_id(),
        "this_process_holds": bool(
            own_holder and status["active"] and status["holder"] == own_holder
        ),
        "heartbeat_at": status["heartbeat_at"],
        "failing_indicators": keys("failing"),
        "stale_indicators": keys("stale"),
        "needs_key_indicators": {
            h.indicator.key: h.needs_setting for h in health if h.state == "needs_key"
        },
        "last_fetch_at": last_run.isoformat() if last_run else None,
    }


def _start_in_app(app: Any) -> None:
    settings: Settings = app.state.settings
    if not settings.run_scheduler:
        return
    scheduler = TrackerScheduler(app.state.engine, settings)
    scheduler.start()
    app.state.scheduler = scheduler
    app.state.closers.append(scheduler.stop)


def install(app: Any) -> None:
    """Register the /readyz probe and (when settings.run_scheduler) start/stop with the app."""

    def probe(engine: Engine) -> dict[str, Any]:
        clock = getattr(app.state, "clock", None)  # the app's injected clock, as in the pages
        running = getattr(app.state, "scheduler", None)  # set by _start_in_app
        return readiness_probe(
            engine,
            settings=app.state.settings,
            now=clock() if clock is not None else None,
            own_holder=running.holder if running is not None else None,
        )

    app.state.readiness_probes["scheduler"] = probe
    app.state.startup_hooks.append(_start_in_app)
