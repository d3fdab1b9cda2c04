"""tracker's own log lines as an operator sees them: the real `tracker` command in a subprocess,
each line on stderr with a UTC timestamp, the level and the logger, filtered by
TRACKER_LOG_LEVEL, printed once, and never showing a secret (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_ingest_support import make_indicator, make_owid_indicator, owid_key
from tracker_process import tracker_command, tracker_env

from tracker.cli.logs import configure_logging
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.db import session_scope
from tracker.models import SchedulerLease
from tracker.scheduler import LEASE_NAME, scheduler_status

LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<level>DEBUG|INFO|WARNING|ERROR)\s+"
    r"(?P<logger>[\w.]+): (?P<message>.*)$"
)
GHOST = "ghost-host:4242:dead00"  # the lease holder of a process that died


def log_lines(stderr: str) -> list[re.Match[str]]:
    """Every line on stderr, each of which must be a formatted log line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), "lines without timestamp/level/logger:\n" + "\n".join(
        line for line, m in zip(lines, matches, strict=True) if m is None
    )
    return [m for m in matches if m is not None]


def wait_for_text(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not printed; output:\n{path.read_text()}")


class SchedulerProcess:
    """`tracker scheduler` running in the background, stdout and stderr in files."""

    def __init__(self, env: dict[str, str], tmp_path: Path, name: str) -> None:
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [*tracker_command(), "scheduler"],
                env={**env, "PYTHONFAULTHANDLER": "1"},
                cwd=tmp_path,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    @property
    def holder(self) -> str:
        match = re.search(r"scheduler (\S+) started", self.out.read_text())
        assert match, self.out.read_text()
        return match.group(1)

    def wait_active(self, timeout: float = 60) -> None:
        wait_for_text(self.out, "holds the scheduler lease", self.process, timeout)

    def stop(self) -> str:
        """SIGTERM (a clean stop: the heartbeat under way finishes first); the stderr text."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # dump every thread's stack (PYTHONFAULTHANDLER)
            os.kill(self.process.pid, signal.SIGABRT)
            self.process.wait(timeout=10)
            raise AssertionError(self.err.read_text()) from None
        return self.err.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def scheduler_env(db_url: str, tmp_path: Path, level: str) -> dict[str, str]:
    return tracker_env(
        tmp_path,
        TRACKER_DATABASE_URL=db_url,
        TRACKER_LOG_LEVEL=level,
        TRACKER_OWID_BASE_URL="http://127.0.0.1:9/grapher",  # never the live network
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_scheduler_logs_the_lease_takeover_with_timestamp_level_and_logger(
    level, db_url, engine, tmp_path
):
    """The audit's case: the lease of a process that died is taken over, and that is logged
    (INFO) naming the previous holder; with it the skipped FRED fetches (INFO) and, at DEBUG,
    each job installed. TRACKER_LOG_LEVEL filters them; each is printed once."""
    make_owid_indicator(engine, "CHN")
    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    expired = utcnow() - dt.timedelta(minutes=5)
    with session_scope(engine) as session:
        session.add(
            SchedulerLease(
                name=LEASE_NAME,
                holder=GHOST,
                acquired_at=expired - dt.timedelta(hours=1),
                heartbeat_at=expired - dt.timedelta(minutes=1),
                expires_at=expired,
            )
        )
    scheduler = SchedulerProcess(scheduler_env(db_url, tmp_path, level), tmp_path, "scheduler")
    try:
        scheduler.wait_active()
        holder = scheduler.holder
        stderr = scheduler.stop()
    finally:
        scheduler.kill()
    assert scheduler.process.returncode == 0, stderr
    lines = log_lines(stderr)
    by_message = {m["message"]: m for m in lines}
    took_over = [m for m in lines if m["message"].startswith("scheduler lease acquired by ")]
    skipped = "not scheduling fetches of fred.uspbs: set TRACKER_FRED_API_KEY to fetch it"
    installed = [m for m in lines if re.match(r"job \S+ installed; first run at ", m["message"])]
    if level == "WARNING":
        assert not [m for m in lines if m["level"] in ("DEBUG", "INFO")], stderr
        assert scheduler_status(engine)["holder"] is None  # it did run, and released the lease
        return
    assert len(took_over) == 1, stderr  # printed once: no second handler, no propagation
    line = took_over[0]
    assert (line["level"], line["logger"]) == ("INFO", "tracker.scheduler")
    when = dt.datetime.strptime(line["when"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs(utcnow() - when) < dt.timedelta(minutes=2)  # UTC, not local time
    assert line["message"] == (
        f"scheduler lease acquired by {holder} (previous holder {GHOST}, "
        f"expired {expired.isoformat(timespec='seconds')})"
    )
    assert by_message[skipped]["level"] == "INFO"
    if level == "DEBUG":
        assert {m["message"].split()[1] for m in installed} >= {
            f"refresh:{owid_key('CHN')}",
            "evaluate:all",
        }
        assert all((m["level"], m["logger"]) == ("DEBUG", "tracker.scheduler") for m in installed)
    else:
        assert not [m for m in lines if m["level"] == "DEBUG"], stderr


@pytest.mark.timeout(120)
def test_killed_lease_holder_is_taken_over_and_logged(backend, db_url, engine, tmp_path):
    """Two `tracker scheduler` processes on PostgreSQL; the holder is killed (SIGKILL): the
    other takes the lease at its next heartbeat and says so, naming the dead one."""
    if backend != "postgresql":
        pytest.skip("on SQLite a dead holder's lease runs out after 60 s; the test above covers it")
    env = scheduler_env(db_url, tmp_path, "INFO")
    first = SchedulerProcess(env, tmp_path, "first")
    second: SchedulerProcess | None = None
    try:
        first.wait_active()
        second = SchedulerProcess(env, tmp_path, "second")
        wait_for_text(second.out, "started", second.process, 60)
        time.sleep(1.0)  # its first heartbeat found the lease taken
        assert scheduler_status(engine)["holder"] == first.holder
        first.kill()  # no clean stop: its sessions end with it, the row stays
        second.wait_active(timeout=60)  # the next heartbeat, within 15 s
        stderr = second.stop()
    finally:
        first.kill()
        if second is not None:
            second.kill()
    took_over = [
        m for m in log_lines(stderr) if m["message"].startswith("scheduler lease acquired by ")
    ]
    assert len(took_over) == 1, stderr
    assert took_over[0]["level"] == "INFO"
    assert took_over[0]["message"].startswith(
        f"scheduler lease acquired by {second.holder} (previous holder {first.holder}, "
        "its database session ended; its lease would have expired "
    )


@pytest.mark.timeout(120)
def test_fetch_logs_a_failure_with_timestamp_and_never_the_api_key(db_url, engine, tmp_path):
    """`tracker fetch`: the failed fetch is a WARNING line with timestamp and logger, and the
    API key sent in the query string shows as REDACTED, on stderr and stdout alike."""
    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    secret = "k3y-0f-th3-0p3rat0r-5678"
    env = tracker_env(
        tmp_path,
        TRACKER_DATABASE_URL=db_url,
        TRACKER_FRED_API_KEY=secret,
        TRACKER_FRED_BASE_URL="http://127.0.0.1:9/fred",  # connection refused
        TRACKER_HTTP_MAX_RETRIES="0",
        COLUMNS="200",
    )
    result = subprocess.run(
        [*tracker_command(), "fetch"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr
    failures = [m for m in log_lines(result.stderr) if m["message"].startswith("fetch of ")]
    assert len(failures) == 1, result.stderr
    assert (failures[0]["level"], failures[0]["logger"]) == ("WARNING", "tracker.ingest")
    assert "fetch of fred.uspbs failed (network)" in failures[0]["message"]
    assert "api_key=REDACTED" in failures[0]["message"]


def test_log_lines_scrub_configured_secrets_and_key_pairs_also_in_tracebacks(capsys, tmp_path):
    """The handler itself scrubs: a message or traceback that would carry an API key, the
    session secret or the database password (e.g. a library's exception text) shows REDACTED."""
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://tracker:db-pa55word@127.0.0.1:5432/tracker",
        fred_api_key="fredkey-0123456789",
        session_secret="s3ssion-s3cret-value",
    )
    configure_logging(settings)
    log = logging.getLogger("tracker.test")
    log.info("GET https://api.example/fred?series_id=X&api_key=fredkey-0123456789")
    log.info("token=abc123 and the session secret s3ssion-s3cret-value")
    try:
        raise RuntimeError("could not connect as tracker:db-pa55word")
    except RuntimeError:
        log.exception("job failed")
    logging.getLogger("apscheduler.scheduler").warning("with fredkey-0123456789 in it")
    logging.getLogger("apscheduler.scheduler").info("a library's INFO line is not shown")
    err = capsys.readouterr().err
    for secret in ("fredkey-0123456789", "s3ssion-s3cret-value", "db-pa55word", "abc123"):
        assert secret not in err
    assert "api_key=REDACTED" in err and "token=REDACTED" in err
    assert "RuntimeError: could not connect as tracker:REDACTED" in err
    assert "a library's INFO line" not in err
    lines = [m for line in err.splitlines() if (m := LINE.match(line))]  # not the traceback
    messages = [(m["level"], m["logger"]) for m in lines]
    assert messages[:3] == [("INFO", "tracker.test")] * 2 + [("ERROR", "tracker.test")]
    assert ("WARNING", "apscheduler.scheduler") in messages
