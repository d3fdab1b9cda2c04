"""A frozen scheduler is replaced, and stores nothing once resumed (issue 15, item 2; Must show).

Two real `tracker scheduler` processes on PostgreSQL, where the frozen holder's connections stay
open (an advisory lock held on one used to block every takeover). The holder is frozen with
SIGSTOP while a fetch of its waits on a slow upstream (a local server on a free port); the other
process takes the lease over within the documented time (the lease's lifetime plus one
heartbeat); after SIGCONT the first one gets its answer but stores nothing — the lease epoch
fences every scheduler write — and the new holder has closed its job run as abandoned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_ingest_support import OWID_CSV, OWID_META, make_owid_indicator
from test_scheduler import wait_for

from tracker.config import Settings
from tracker.models import FetchRun, JobRun, Observation
from tracker.scheduler import scheduler_status

LEASE_SECONDS = 3.0
HEARTBEAT_SECONDS = 0.5
SLOW_SECONDS = 3.0  # the upstream answers each data request this late
REFRESH = "refresh:owid.electricity_generation.chn"


class SlowUpstream(ThreadingHTTPServer):
    daemon_threads = True
    answered: list[float]


class Handler(BaseHTTPRequestHandler):
    server: SlowUpstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        csv = ".csv" in self.path
        body = OWID_CSV if csv else OWID_META
        if csv:
            time.sleep(SLOW_SECONDS)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv" if csv else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            return
        if csv:
            self.server.answered.append(time.monotonic())


@pytest.fixture
def upstream() -> Iterator[SlowUpstream]:
    server = SlowUpstream(("127.0.0.1", 0), Handler)
    server.answered = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tracker", "scheduler"], env=env, stdout=out, stderr=out
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_frozen_holder_is_replaced_and_stores_nothing_once_resumed(
    engine: Engine, settings: Settings, backend: str, upstream: SlowUpstream, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip(
            "the frozen-holder case is PostgreSQL's (its connections, and any lock on them, "
            "outlive a frozen process); SQLite's lease fencing is tested in "
            "test_scheduler_resilience"
        )
    make_owid_indicator(engine, "CHN")
    host, port = upstream.server_address[:2]
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": settings.database_url,
        "TRACKER_DATA_DIR": str(tmp_path / "data"),
        "TRACKER_OWID_BASE_URL": f"http://{host!s}:{port}",
        "TRACKER_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
        "TRACKER_SCHEDULER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "TRACKER_SCHEDULER_CATCH_UP_DELAY_SECONDS": "0",
        "TRACKER_FETCH_DEADLINE_SECONDS": "60",
        "TRACKER_HTTP_MAX_RETRIES": "0",
        "TRACKER_LOG_LEVEL": "INFO",
    }
    first = _start(env, tmp_path / "a.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(lambda: str(first.pid) in (scheduler_status(engine)["holder"] or ""), 30)
        holder_a = scheduler_status(engine)["holder"]
        second = _start(env, tmp_path / "b.log")  # the standby
        # the holder's fetch is under way (its run recorded), waiting on the slow upstream
        assert wait_for(lambda: _running_fetch(engine) is not None, 15)
        run_a = _running_fetch(engine)
        first.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        assert wait_for(
            lambda: str(second.pid) in (scheduler_status(engine)["holder"] or ""),  # type: ignore[union-attr]
            LEASE_SECONDS + HEARTBEAT_SECONDS + 10,
        ), scheduler_status(engine)
        took = time.monotonic() - frozen_at
        # documented: the lease's lifetime plus one heartbeat (and a little for the machine)
        assert took <= LEASE_SECONDS + HEARTBEAT_SECONDS + 2.5, took
        # the upstream answered the frozen holder meanwhile: the answer waits in its socket
        assert wait_for(lambda: len(upstream.answered) >= 1, SLOW_SECONDS + 5)
        with Session(engine) as s:
            job_a = s.exec(
                select(JobRun).where(JobRun.holder == holder_a, JobRun.job_id == REFRESH)
            ).one()
        assert wait_for(lambda: _status(engine, JobRun, job_a.id) == "abandoned", 10)
        closed = _row(engine, JobRun, job_a.id)
        first.send_signal(signal.SIGCONT)
        resumed_at = time.monotonic()
        # the resumed holder reads its answer and tries to store it (and its heartbeat learns
        # the lease is gone); give it time to do both
        assert wait_for(lambda: _said(tmp_path / "a.log", "has ended"), 15), _log(tmp_path)
        assert wait_for(lambda: _said(tmp_path / "a.log", "lease lost"), 10), _log(tmp_path)
        time.sleep(max(0.0, resumed_at + 1.0 - time.monotonic()))
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
    # nothing of the resumed holder was stored: no values from its fetch, its fetch run not
    # completed, its job run exactly as the new holder closed it
    with Session(engine) as s:
        stored = s.exec(select(Observation).where(Observation.fetch_run_id == run_a)).all()
        fetch_a = s.get(FetchRun, run_a)
    assert stored == []
    assert fetch_a is not None and fetch_a.status in ("running", "abandoned")
    after = _row(engine, JobRun, job_a.id)
    assert (after.status, after.finished_at, after.error) == (
        closed.status,
        closed.finished_at,
        closed.error,
    )
    assert "took the scheduler lease" in (after.error or "")
    assert scheduler_status(engine)["holder"] is None  # both stopped cleanly


def _running_fetch(engine: Engine) -> int | None:
    with Session(engine) as s:
        return s.exec(
            select(FetchRun.id).where(FetchRun.status == "running").order_by(col(FetchRun.id))
        ).first()


def _row(engine: Engine, model: type[JobRun], row_id: int | None) -> JobRun:
    with Session(engine) as s:
        row = s.get(model, row_id)
        assert row is not None
        return row


def _status(engine: Engine, model: type[JobRun], row_id: int | None) -> str:
    return _row(engine, model, row_id).status


def _said(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace")


def _log(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {name}\n" + (tmp_path / name).read_text(errors="replace")[-3000:]
        for name in ("a.log", "b.log")
    )
