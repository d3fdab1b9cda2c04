"""The scheduler: every periodic job in one visible table (`job_table`), run by exactly one
process per database (PostgreSQL advisory lock / SQLite lease row), each run recorded as a JobRun
so a restart neither loses nor duplicates work. Jobs are plain functions that never raise.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from tracker.clock import Clock, use_clock, utcnow
from tracker.config import Settings
from tracker.data_health import indicator_health, missing_key_setting, parse_refresh
from tracker.db import session_scope
from tracker.models import FetchRun, Indicator, JobRun, SchedulerLease
from tracker.pipeline import evaluate, fetchable_indicators, refresh_indicator

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
MISFIRE_GRACE_SECONDS = 6 * 3600
LEASE_EXECUTOR = "lease"
WEBHOOK_EXECUTOR = "webhooks"
CATCH_UP_DELAY = dt.timedelta(seconds=10)
CATCH_UP_STAGGER = dt.timedelta(seconds=3)
# A failed run is retried after RETRY_BASE (TRACKER_SCHEDULER_RETRY_BASE), doubling per further
# failure and capped at the job's interval; a success resets it.
RETRY_BASE = dt.timedelta(minutes=15)
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
    if settings is not None and settings.smtp_host and settings.smtp_to.strip():
        from tracker.digest import DIGEST_JOB_ID, digest_job

        every = dt.timedelta(days=settings.digest_interval_days)
        jobs.append(
            JobDef(
                id=DIGEST_JOB_ID,
                trigger=IntervalTrigger(days=settings.digest_interval_days, timezone=dt.UTC),
                func=functools.partial(digest_job, engine, settings),
                description="send the email digest",
                interval=every,
            )
        )
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


@dataclass(frozen=True)
class Failures:
    """A job's failed runs since its last success: how many, and when the latest finished."""

    count: int
    last_at: dt.datetime


def failures_since_success(engine: Engine, job_ids: Sequence[str]) -> dict[str, Failures]:
    """Per job with failed runs after its last successful one (or with no success at all): how
    many and when the latest ended (one query). Runs still `running` count as neither."""
    if not job_ids:
        return {}
    runs = JobRun.__table__.c  # type: ignore[attr-defined]
    ok = JobRun.__table__.alias("ok")  # type: ignore[attr-defined]
    last_ok = (
        sa.select(sa.func.max(ok.c.started_at))
        .where(ok.c.job_id == runs.job_id, ok.c.status == "ok")
        .scalar_subquery()
    )
    ended = sa.func.coalesce(runs.finished_at, runs.started_at)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.job_id, sa.func.count(), sa.func.max(ended).label("last_at"))
            .where(
                runs.job_id.in_(list(job_ids)),
                runs.status.in_(("error", ABANDONED)),
                sa.or_(last_ok.is_(None), runs.started_at > last_ok),
            )
            .group_by(runs.job_id)
        ).all()
    # max() of the timestamp columns keeps their type: aware UTC datetimes on every backend
    return {job_id: Failures(int(count), last_at) for job_id, count, last_at in rows if last_at}


def retry_delay(failures: int, base: dt.timedelta, cap: dt.timedelta | None) -> dt.timedelta:
    """Wait before retry number `failures` (1: `base`, then doubling), at most `cap`."""
    delay: dt.timedelta = base * (1 << min(max(failures - 1, 0), 32))
    return delay if cap is None else min(delay, cap)


def plan_jobs(
    engine: Engine,
    jobs: Sequence[JobDef],
    *,
    now: dt.datetime,
    retry_base: dt.timedelta = RETRY_BASE,
    catch_up_delay: dt.timedelta | None = None,
) -> dict[str, dt.datetime | None]:
    """First run time of each job after a (re)start; None: nothing to do (already done).

    A repeating job that ran ok within its interval waits for the rest of it; one that did not
    (or never ran) runs soon — once, however many runs were missed. A repeating job whose
    latest runs failed is retried `retry_delay` after the latest failure (15 min, 30, 1 h, …
    capped at its interval) when that comes sooner — a restart does not retry sooner. A
    one-off job that already ran ok is not run again.
    """
    ids = [job.id for job in jobs]
    last = last_successful_runs(engine, ids)
    failed = failures_since_success(engine, ids)
    plan: dict[str, dt.datetime | None] = {}
    catch_up = 0
    for job in jobs:
        previous = last.get(job.id)
        if job.interval is None:
            plan[job.id] = None if previous is not None else job.run_at
            continue
        due: dt.datetime | None = None  # None: overdue or never run, so soon
        if isinstance(job.trigger, CronTrigger):
            # due at fixed times: run now if the last due time passed without a run, else wait
            last_due = job.trigger.get_next_fire_time(None, now - job.interval)
            missed = last_due is not None and last_due <= now and (previous or now) < last_due
            if previous is not None and not missed:
                due = job.trigger.get_next_fire_time(None, now)
        elif previous is not None and now - previous < job.interval:
            due = previous + job.interval
        failures = failed.get(job.id)
        if failures is not None:
            retry = failures.last_at + retry_delay(failures.count, retry_base, job.interval)
            if due is None or retry < due:
                due = retry if retry > now else None
        if due is None:
            delay = CATCH_UP_DELAY if catch_up_delay is None else catch_up_delay
            due = now + delay + catch_up * CATCH_UP_STAGGER
            catch_up += 1
        plan[job.id] = due
    return plan


def next_retry(
    engine: Engine, job: str, interval: dt.timedelta | None, *, base: dt.timedelta
) -> dt.datetime | None:
    """When a repeating job whose latest run failed should run again (None: it did not fail)."""
    failures = failures_since_success(engine, [job]).get(job)
    if failures is None:
        return None
    return failures.last_at + retry_delay(failures.count, base, interval)


NOT_STARTED = "the start of the run could not be recorded"


class JobTimedOut(RuntimeError):
    """The job passed its deadline: it is recorded as failed and stores nothing more."""


# the deadline flag of the job the current thread runs (set by _within_deadline)
_current_job = threading.local()


def job_cancelled() -> bool:
    """True when the job this thread runs has passed its deadline (it must store nothing)."""
    flag: threading.Event | None = getattr(_current_job, "cancelled", None)
    return flag is not None and flag.is_set()


def _within_deadline(
    job_id: str, func: Callable[[], JobOutcome], seconds: float | None
) -> JobOutcome:
    """Run `func`; with `seconds`, in a worker thread that the caller stops waiting for once
    the deadline passes (the outcome is then a timeout, and the worker's next upstream answer
    raises JobTimedOut before anything is stored: LeaseGuardedHttp checks job_cancelled)."""
    if seconds is None:
        return func()
    cancelled = threading.Event()
    finished = threading.Event()
    box: dict[str, JobOutcome] = {}
    context = contextvars.copy_context()  # the clock the job runs under

    def work() -> None:
        _current_job.cancelled = cancelled
        try:
            box["outcome"] = context.run(func)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            box["outcome"] = f"{type(exc).__name__}: {exc}"
        finally:
            finished.set()

    threading.Thread(target=work, name=f"job {job_id}", daemon=True).start()
    if not finished.wait(seconds):
        cancelled.set()
        log.warning("job %s passed its deadline of %g s; recorded as failed", job_id, seconds)
        return f"timeout: the job passed its deadline of {seconds:g} s"
    return box.get("outcome")


def run_recorded(
    engine: Engine,
    job_id: str,
    holder: str,
    func: Callable[[], JobOutcome],
    *,
    deadline: float | None = None,
) -> JobOutcome:
    """Run a job and record it as a JobRun; nothing escapes (a failure is a JobRun with error).
    With `deadline` (seconds) a job still running then is recorded as failed (`timeout: ...`)
    and this returns, freeing the scheduler's thread for the next job.

    Returns the outcome (None: ok), or NOT_STARTED when the database could not record the run.
    """
    try:
        with session_scope(engine) as session:
            run = JobRun(job_id=job_id, started_at=utcnow(), holder=holder, status="running")
            session.add(run)
            session.flush()
            run_id = run.id
    except Exception:  # the database is unreachable: nothing can be recorded, try next time
        log.exception("job %s: cannot record its start", job_id)
        return NOT_STARTED
    try:
        outcome = _within_deadline(job_id, func, deadline)
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
    return outcome


# --- runs left `running` by a process that died ---

ABANDONED = "abandoned"


def close_abandoned(
    engine: Engine, holder: str, now: dt.datetime, *, fetch_stale_after: dt.timedelta
) -> tuple[int, int]:
    """Close what a dead or frozen process left `running`, as `abandoned`: every JobRun of
    another holder (only the lease holder runs jobs, and `holder` holds it now), and every
    FetchRun started more than `fetch_stale_after` ago (longer than a fetch's overall
    deadline: no live fetch runs that long). Returns (job runs, fetch runs) closed."""
    jobs = JobRun.__table__  # type: ignore[attr-defined]
    fetches = FetchRun.__table__  # type: ignore[attr-defined]
    note = f"abandoned: still running when {holder} took the scheduler lease at {_iso(now)}"
    with engine.begin() as conn:
        closed_jobs = conn.execute(
            sa.update(jobs)
            .where(jobs.c.status == "running", jobs.c.holder != holder)
            .values(status=ABANDONED, finished_at=now, error=note)
        ).rowcount
        closed_fetches = conn.execute(
            sa.update(fetches)
            .where(fetches.c.status == "running", fetches.c.started_at < now - fetch_stale_after)
            .values(
                status=ABANDONED,
                finished_at=now,
                error_kind=ABANDONED,
                error=f"abandoned: still running {fetch_stale_after} after it started "
                f"(its process died or froze); closed by {holder}",
            )
        ).rowcount
    if closed_jobs or closed_fetches:
        log.warning(
            "closed %d job run(s) and %d fetch run(s) left running as abandoned",
            closed_jobs,
            closed_fetches,
        )
    return int(closed_jobs or 0), int(closed_fetches or 0)


# --- one active scheduler per database ---


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """The right to run jobs: the SchedulerLease row, on SQLite and PostgreSQL alike. A holder
    renews it every heartbeat; once it has expired (a holder that died or froze stops renewing)
    another process takes it over, and the row's `epoch` goes up by one. Everything the
    scheduler stores is fenced by that epoch (`Fence`, checked in the same transaction as the
    write), so a holder that lost the lease — even one frozen and resumed, whose connections
    are still open — cannot store anything afterwards.

    PostgreSQL also shows when a holder has died: each process keeps one open "presence"
    session named after it (application_name), which ends with the process. A live lease whose
    holder has no presence session left is taken over at once; a frozen holder's sessions stay
    open, so it is replaced when its lease expires. (An earlier version took a PostgreSQL
    advisory lock as the authority: it stayed with a frozen process's open connection, so
    nobody ever took over.)
    """

    def __init__(self, engine: Engine, holder: str, ttl: dt.timedelta) -> None:
        self.engine = engine
        self.holder = holder
        self.ttl = ttl
        self.taken_from: tuple[str, dt.datetime] | None = None  # set by try_acquire
        self.epoch: int | None = None  # the fencing token of our current tenure
        self._presence: Connection | None = None

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _keep_presence(self) -> None:
        """PostgreSQL: hold our presence session open (reopened if it died)."""
        if not self._postgres:
            return
        if self._presence is not None:
            try:
                self._presence.execute(sa.text("SELECT 1"))
                self._presence.commit()
                return
            except Exception:  # the session died: open another
                self._close_presence()
        connection = self.engine.connect()
        try:
            connection.execute(
                sa.select(sa.func.set_config("application_name", presence_name(self.holder), False))
            )
            connection.commit()
        except Exception:
            connection.close()
            raise
        self._presence = connection

    def _close_presence(self) -> None:
        connection, self._presence = self._presence, None
        if connection is not None:
            try:
                connection.invalidate()  # never hand a named session back to the pool
                connection.close()
            except Exception:
                log.debug("closing the presence session failed", exc_info=True)

    def _holder_present(self, conn: Connection, holder: str) -> bool:
        """PostgreSQL: whether `holder` still has its presence session (SQLite: assume so)."""
        if not self._postgres:
            return True
        count = conn.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": presence_name(holder)},
        ).scalar_one()
        return bool(count)

    def try_acquire(self, now: dt.datetime) -> bool:
        """Take the lease if free, expired or ours; True if we hold it now.

        On success `taken_from` says whose lease row this replaced: (holder, its expiry), or
        None when there was no row (a first start, or the previous holder released it), and
        `epoch` is the new fencing token.
        """
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        expires = now + self.ttl
        self._keep_presence()  # before taking it: we never look dead to a rival
        try:
            with self.engine.begin() as conn:
                _short_lock_wait(conn)
                seen = conn.execute(
                    sa.select(table.c.holder, table.c.expires_at, table.c.epoch).where(
                        table.c.name == LEASE_NAME
                    )
                ).first()
                if seen is None:
                    epoch = 1
                    conn.execute(
                        sa.insert(table).values(
                            name=LEASE_NAME,
                            holder=self.holder,
                            acquired_at=now,
                            heartbeat_at=now,
                            expires_at=expires,
                            epoch=epoch,
                        )
                    )
                else:
                    if (
                        seen.holder != self.holder
                        and seen.expires_at >= now
                        and self._holder_present(conn, seen.holder)
                    ):
                        return False  # someone else holds a live lease
                    epoch = int(seen.epoch or 0) + 1
                    # compare-and-set: still the row just read (no one took it since)
                    taken = conn.execute(
                        sa.update(table)
                        .where(
                            table.c.name == LEASE_NAME,
                            table.c.holder == seen.holder,
                            table.c.epoch == seen.epoch,
                        )
                        .values(
                            holder=self.holder,
                            acquired_at=now,
                            heartbeat_at=now,
                            expires_at=expires,
                            epoch=epoch,
                        )
                    ).rowcount
                    if taken != 1:
                        return False
            self.taken_from = None if seen is None else (seen.holder, seen.expires_at)
            self.epoch = epoch
            return True
        except (IntegrityError, OperationalError):  # a concurrent taker won, or waited too long
            return False

    def held(self, now: dt.datetime) -> bool:
        """Whether the lease row still names us, at our epoch, and has not expired (one read).
        A job asks this before it writes; the fence then checks again inside each write."""
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(table.c.holder, table.c.expires_at, table.c.epoch).where(
                    table.c.name == LEASE_NAME
                )
            ).first()
        return (
            row is not None
            and row.holder == self.holder
            and row.epoch == self.epoch
            and row.expires_at > now
        )

    def current_holder(self) -> str | None:
        """Who the lease row names now (for messages)."""
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(table.c.holder).where(table.c.name == LEASE_NAME)
            ).scalar_one_or_none()

    def renew(self, now: dt.datetime) -> bool:
        """Extend our lease; False if it was lost (it expired and another process took it)."""
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        try:
            self._keep_presence()
        except Exception:
            log.warning("cannot keep the scheduler's presence session", exc_info=True)
        try:
            with self.engine.begin() as conn:
                _short_lock_wait(conn)
                kept = conn.execute(
                    sa.update(table)
                    .where(
                        table.c.name == LEASE_NAME,
                        table.c.holder == self.holder,
                        table.c.epoch == self.epoch,
                    )
                    .values(heartbeat_at=now, expires_at=now + self.ttl)
                ).rowcount
                if kept == 0:
                    present = conn.execute(
                        sa.select(table.c.holder).where(table.c.name == LEASE_NAME)
                    ).first()
        except OperationalError:  # a lock wait too long: not renewed this time
            return False
        if kept == 0 and present is None:
            return self.try_acquire(now)  # the row was removed by hand: nobody else has it
        if kept != 1:
            self.epoch = None
            self._close_presence()
        return kept == 1

    def release(self) -> None:
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.delete(table).where(
                        table.c.name == LEASE_NAME,
                        table.c.holder == self.holder,
                        table.c.epoch == self.epoch,
                    )
                )
        finally:
            self.epoch = None
            self._close_presence()


def presence_name(holder: str) -> str:
    """The application_name of a holder's presence session (PostgreSQL keeps 63 bytes)."""
    return "tracker-scheduler-" + hashlib.sha256(holder.encode()).hexdigest()[:24]


def _short_lock_wait(conn: Connection) -> None:
    """PostgreSQL: wait at most a few seconds for the lease row's lock (a writer's fence check
    holds it FOR SHARE for an instant; a frozen one must not hang the heartbeat)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL lock_timeout = '3s'"))


# --- fencing: nothing a lost holder writes is stored ---


class Fenced(RuntimeError):
    """A scheduler write refused: this process no longer holds the lease at its epoch."""


@dataclass(frozen=True)
class Fence:
    """The lease tenure a thread's writes belong to: `holder` at `epoch`."""

    holder: str
    epoch: int


_fence: contextvars.ContextVar[Fence | None] = contextvars.ContextVar(
    "tracker_scheduler_fence", default=None
)


@contextlib.contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Every transaction committed in this context (and threads started with a copy of it)
    commits only while the lease row names `fence.holder` at `fence.epoch`."""
    token = _fence.set(fence)
    try:
        yield
    finally:
        _fence.reset(token)


def _check_fence(conn: Connection) -> None:
    """Engine `commit` hook: in a fenced context, read the lease row inside the transaction
    being committed (PostgreSQL: FOR SHARE, so a takeover waits for this commit or this commit
    sees the takeover) and refuse to commit when the tenure has ended."""
    fence = _fence.get()
    if fence is None:
        return
    postgres = conn.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    sql = f"SELECT holder, epoch FROM schedulerlease WHERE name = {mark}"
    if postgres:
        sql += " FOR SHARE"
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, (LEASE_NAME,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None or row[0] != fence.holder or row[1] != fence.epoch:
        now_held = f"{row[0]} (epoch {row[1]})" if row else "nobody"
        raise Fenced(
            f"the scheduler lease of {fence.holder} (epoch {fence.epoch}) has ended; it is "
            f"held by {now_held}: nothing is stored"
        )


def install_fence(engine: Engine) -> None:
    """Check the fence on every commit of `engine` made in a fenced context (idempotent)."""
    if not event.contains(engine, "commit", _check_fence):
        event.listen(engine, "commit", _check_fence)


class LeaseLost(RuntimeError):
    """This process no longer holds the scheduler lease: the job stops before storing anything."""


class LeaseGuardedHttp:
    """The fetcher scheduled jobs use: after each upstream answer it makes sure this process
    still holds the lease (`check` raises LeaseLost), so a job that lost it while waiting on a
    slow source stops before it writes. Everything else is the wrapped fetcher's."""

    def __init__(self, http: Any, check: Callable[[], None]) -> None:
        self._http = http
        self._check = check

    def get(self, *args: Any, **kwargs: Any) -> Any:
        response = self._http.get(*args, **kwargs)
        if job_cancelled():
            raise JobTimedOut("the job passed its deadline; stopped before storing anything")
        self._check()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._http, name)


class TrackerScheduler:
    """APScheduler 3 BackgroundScheduler running `job_table` while this process holds the lease.

    A process that does not hold the lease runs no jobs and retries every heartbeat. The
    heartbeat has an executor of its own, so fetches blocked on a slow source (two job threads)
    never delay it past the lease's expiry. A job that failed is retried with backoff
    (`retry_delay`, base TRACKER_SCHEDULER_RETRY_BASE) instead of waiting a whole interval.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        http: Any = None,
        holder: str | None = None,
        lease_ttl: dt.timedelta | None = None,
        heartbeat: dt.timedelta | None = None,
        clock: Clock | None = None,
        catch_up_delay: dt.timedelta | None = None,
    ) -> None:
        # unset: TRACKER_SCHEDULER_LEASE_SECONDS / TRACKER_SCHEDULER_HEARTBEAT_SECONDS (60 s / 15 s)
        lease_ttl = lease_ttl or dt.timedelta(seconds=settings.scheduler_lease_seconds)
        heartbeat = heartbeat or dt.timedelta(seconds=settings.scheduler_heartbeat_seconds)
        self.engine = engine
        self.catch_up_delay = catch_up_delay  # None: CATCH_UP_DELAY
        # every heartbeat and job runs under this clock (None: the system clock); APScheduler's
        # own timing stays on the wall clock
        self.clock = clock
        self.settings = settings
        self.holder = holder or default_holder()
        self.lease = Lease(engine, self.holder, lease_ttl)
        install_fence(engine)
        self.heartbeat = heartbeat
        self._http = http
        self._http_client: Any = None
        self._webhook_client: Any = None
        self._scheduler: BackgroundScheduler | None = None
        self._job_ids: set[str] = set()
        self._job_intervals: dict[str, dt.timedelta | None] = {}
        self._skipped: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.active = False
        self.retry_base = dt.timedelta(seconds=settings.scheduler_retry_base)

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
            # the lease heartbeat never waits behind fetches: its own thread
            executors={
                "default": ThreadPoolExecutor(2),
                LEASE_EXECUTOR: ThreadPoolExecutor(1),
                WEBHOOK_EXECUTOR: ThreadPoolExecutor(1),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        scheduler.add_job(
            self._tick_under_clock,
            IntervalTrigger(seconds=self.heartbeat.total_seconds(), timezone=dt.UTC),
            id="lease",
            name="hold the scheduler lease; install or remove the jobs",
            next_run_time=utcnow(),
            executor=LEASE_EXECUTOR,
        )
        # webhook delivery: every few seconds, on a thread of its own (never behind fetches),
        # only while this process holds the lease (tracker.webhooks.delivery)
        scheduler.add_job(
            self._deliver_webhooks,
            IntervalTrigger(seconds=self.settings.webhook_poll_seconds, timezone=dt.UTC),
            id="webhooks",
            name="deliver webhooks",
            executor=WEBHOOK_EXECUTOR,
        )
        self._scheduler = scheduler
        scheduler.start()

    def _deliver_webhooks(self) -> None:
        """One run of the webhook delivery job, if this process holds the lease (not recorded
        as a JobRun: every attempt is logged in WebhookAttempt)."""
        from tracker.webhooks.delivery import make_client, run_once

        if not self.active or self._stopping:
            return
        with use_clock(self.clock):
            try:
                if self._webhook_client is None:
                    self._webhook_client = make_client(self.settings)
                run_once(
                    self.engine,
                    self.settings,
                    holder=self.holder,
                    client=self._webhook_client,
                    check_lease=self._ensure_lease,
                )
            except LeaseLost as exc:
                log.info("webhook delivery stopped: %s", exc)
            except Exception:  # e.g. the database is down: the next run tries again
                log.exception("webhook delivery run failed")

    def _tick_under_clock(self) -> None:
        with use_clock(self.clock):
            self.tick()

    def tick(self) -> None:
        """Heartbeat: keep or take the lease, and keep the installed jobs equal to the table."""
        with self._lock:
            if self._stopping:
                return
            now = utcnow()
            try:
                if self.active:
                    if not self.lease.renew(now):
                        self.active = False  # first: a running job checks it before writing
                        log.warning(
                            "scheduler lease lost by %s (now held by %s); stopping jobs",
                            self.holder,
                            self._holder_now(),
                        )
                        self._remove_jobs(set(self._job_ids))
                        return
                elif self.lease.try_acquire(now):
                    log.info(acquired_message(self.holder, self.lease.taken_from, now))
                    self.active = True
                if self.active:
                    with fenced(self._fence()):
                        self._close_abandoned(now)
                    self.sync_jobs(now)
            except Exception:  # e.g. the database is down: try again next heartbeat
                log.exception("scheduler heartbeat failed")

    def _close_abandoned(self, now: dt.datetime) -> None:
        # a fetch cannot outlive its deadline; twice that (and a minute) is surely abandoned
        stale = 2 * dt.timedelta(seconds=self.settings.fetch_deadline_seconds) + dt.timedelta(
            minutes=1
        )
        close_abandoned(self.engine, self.holder, now, fetch_stale_after=stale)

    def sync_jobs(self, now: dt.datetime) -> None:
        """Make the installed jobs equal the table: add new jobs (planned against JobRun
        history), drop vanished ones, and re-plan a job whose cadence changed in the catalogue
        (its next run counts the new interval from its last successful run)."""
        indicators = fetchable_indicators(self.engine)
        self._announce_skipped(indicators)
        http = LeaseGuardedHttp(self.http, self._ensure_lease)
        jobs = job_table(self.engine, http, now=now, indicators=indicators, settings=self.settings)
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
        plan = plan_jobs(
            self.engine,
            new_jobs,
            now=now,
            retry_base=self.retry_base,
            catch_up_delay=self.catch_up_delay,
        )
        for job in new_jobs:
            first_run = plan[job.id]
            if first_run is None:
                continue  # a one-off job already done
            self._scheduler.add_job(
                self._run_job,
                job.trigger,
                args=(job.id, job.func, job.interval),
                id=job.id,
                name=job.description,
                next_run_time=first_run,
                replace_existing=True,
            )
            self._job_ids.add(job.id)
            self._job_intervals[job.id] = job.interval
            log.debug("job %s installed; first run at %s", job.id, _iso(first_run))

    def _run_job(
        self, job_id: str, func: Callable[[], JobOutcome], interval: dt.timedelta | None
    ) -> None:
        """One scheduled run: only while this process holds the lease; recorded as a JobRun;
        after a failure the job's next run is brought forward to its retry time."""
        with use_clock(self.clock):
            self._run_job_now(job_id, func, interval)

    def _run_job_now(
        self, job_id: str, func: Callable[[], JobOutcome], interval: dt.timedelta | None
    ) -> None:
        try:
            self._ensure_lease()
        except LeaseLost as exc:
            log.info("job %s not run: %s", job_id, exc)
            return
        except Exception:  # the database is unreachable: as a failed run, retry with backoff
            log.exception("job %s: cannot check the scheduler lease", job_id)
            self._schedule_retry(job_id, interval)
            return
        deadline = self.settings.job_deadline_seconds
        with fenced(self._fence()):  # every write of the job: only while our tenure lasts
            outcome = run_recorded(self.engine, job_id, self.holder, func, deadline=deadline)
        if outcome is not None:
            self._schedule_retry(job_id, interval)

    def _fence(self) -> Fence:
        # no epoch (lost meanwhile): a fence no row matches, so nothing is stored
        return Fence(self.holder, self.lease.epoch if self.lease.epoch is not None else -1)

    def _ensure_lease(self) -> None:
        """Raise LeaseLost unless this process still holds the lease (checked in the database,
        not only the last heartbeat's answer)."""
        if not self.active or not self.lease.held(utcnow()):
            raise LeaseLost(
                f"the scheduler lease is no longer held by {self.holder} (now held by "
                f"{self._holder_now()}); stopped before storing anything"
            )

    def _holder_now(self) -> str:
        try:
            return self.lease.current_holder() or "nobody"
        except Exception:  # only for a message
            return "unknown"

    def _schedule_retry(self, job_id: str, interval: dt.timedelta | None) -> None:
        """Bring a failed repeating job's next run forward to its retry time (never later)."""
        now = utcnow()
        try:
            at = next_retry(self.engine, job_id, interval, base=self.retry_base)
        except Exception:  # no history readable: the first step of the backoff
            at = None
        if at is None:
            at = now + retry_delay(1, self.retry_base, interval)
        at = max(at, now)
        with self._lock:  # not while stop() shuts the scheduler down (see stop)
            if self._stopping or self._scheduler is None or job_id not in self._job_ids:
                return
            job = self._scheduler.get_job(job_id)
            if job is None or (job.next_run_time is not None and job.next_run_time <= at):
                return  # a one-off job (done), or its next run is sooner anyway
            self._scheduler.modify_job(job_id, next_run_time=at)
        log.info("job %s failed; retrying at %s", job_id, _iso(at))

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
            if job.id not in ("lease", "webhooks")
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
        if self._webhook_client is not None:
            self._webhook_client.close()
            self._webhook_client = None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def acquired_message(
    holder: str, taken_from: tuple[str, dt.datetime] | None, now: dt.datetime
) -> str:
    """The INFO line for taking the lease, naming whose lease this replaced."""
    if taken_from is None:
        return f"scheduler lease acquired by {holder} (no previous holder)"
    previous, expires = taken_from
    when = expires.astimezone(dt.UTC).isoformat(timespec="seconds")
    if previous == holder:
        return f"scheduler lease acquired by {holder} (its own lease, expiring {when})"
    if expires <= now:
        return f"scheduler lease acquired by {holder} (previous holder {previous}, expired {when})"
    return (  # PostgreSQL: the previous holder's sessions are gone: it died
        f"scheduler lease acquired by {holder} (previous holder {previous}, its database "
        f"session ended; its lease would have expired {when})"
    )


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
    are failing, stale (data_health.is_stale, whatever their state: a failing one can be stale
    too, as the data API's `stale` flag and the data-health page say) or need an API key.

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
        # the `stale` flag, as the data API and the dashboard show it (a failing one too)
        "stale_indicators": [h.indicator.key for h in health if h.stale],
        "needs_key_indicators": {
            h.indicator.key: h.needs_setting for h in health if h.state == "needs_key"
        },
        "last_fetch_at": last_run.isoformat() if last_run else None,
    }


def _start_in_app(app: Any) -> None:
    settings: Settings = app.state.settings
    if not settings.run_scheduler:
        return
    state = app.state
    scheduler = TrackerScheduler(
        state.engine,
        settings,
        clock=lambda: state.clock(),
        lease_ttl=dt.timedelta(seconds=settings.scheduler_lease_seconds),
        heartbeat=dt.timedelta(seconds=settings.scheduler_heartbeat_seconds),
    )
    scheduler.start()
    app.state.scheduler = scheduler
    app.state.closers.append(scheduler.stop)


def install(app: Any) -> None:
    """Register the /readyz probe and (when settings.run_scheduler) start/stop with the app."""

    def probe(engine: Engine) -> dict[str, Any]:
        running = getattr(app.state, "scheduler", None)  # set by _start_in_app
        return readiness_probe(
            engine,
            settings=app.state.settings,
            now=utcnow(),  # the app's clock (the request's)
            own_holder=running.holder if running is not None else None,
        )

    app.state.readiness_probes["scheduler"] = probe
    app.state.startup_hooks.append(_start_in_app)
