"""An overall deadline per fetch and per scheduler job (issue 15, item 1), against a real
upstream on a free local port that trickles its body a byte at a time — each read well within
the read timeout, so only the overall deadline can end it. The fetch fails as `timeout` within
its deadline, what arrived is kept with the failed run, and the scheduler goes on running the
other jobs. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_ingest_support import OWID_CSV, OWID_META, make_owid_indicator, owid_key
from test_scheduler import wait_for

from tracker import scheduler as sched
from tracker.config import Settings
from tracker.ingest import ingest_indicator
from tracker.models import FetchRun, Indicator, JobRun
from tracker.scheduler import TrackerScheduler, run_recorded
from tracker.sources.http import HttpFetcher, make_http_client
from tracker.web.app import create_app

DEADLINE = 2.0
TRICKLE_FOR = 20.0  # the server gives up by itself after this (bounded)


class Upstream(ThreadingHTTPServer):
    daemon_threads = True
    trickle: frozenset[str] = frozenset()
    silent: frozenset[str] = frozenset()
    requests: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        country = parse_qs(parts.query).get("country", [""])[0]
        self.server.requests.append(f"{parts.path}?country={country}")
        if parts.path.endswith(".metadata.json"):
            body, kind = OWID_META, "application/json"
        else:
            body, kind = OWID_CSV, "text/csv"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if country in self.server.silent and kind == "text/csv":
            time.sleep(TRICKLE_FOR)  # headers sent, then nothing: only a read timeout ends it
            return
        if country not in self.server.trickle or kind != "text/csv":
            self.wfile.write(body)
            return
        started = time.monotonic()
        try:
            for byte in body:  # one byte every 0.2 s: each read is far within the read timeout
                if time.monotonic() - started > TRICKLE_FOR:
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the client gave up
            return


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _settings(settings: Settings, upstream: Upstream, **extra: object) -> Settings:
    host, port = upstream.server_address[:2]
    return settings.model_copy(
        update={
            "owid_base_url": f"http://{host!s}:{port}",
            "fetch_deadline_seconds": DEADLINE,
            "http_timeout_read": 30.0,
            "http_max_retries": 0,
            **extra,
        }
    )


def test_a_trickling_body_fails_as_timeout_within_the_deadline(
    engine: Engine, settings: Settings, upstream: Upstream
) -> None:
    upstream.trickle = frozenset({"CHN"})
    tuned = _settings(settings, upstream)
    make_owid_indicator(engine, "CHN")
    with make_http_client(tuned) as client:
        http = HttpFetcher(client, tuned)
        started = time.monotonic()
        summary = ingest_indicator(engine, http, owid_key("CHN"), trigger="test")
        took = time.monotonic() - started
    assert summary.status == "error" and summary.error_kind == "timeout", summary
    assert DEADLINE <= took < DEADLINE + 1.5, took
    assert "overall deadline of 2 s" in (summary.error or "")
    with Session(engine) as s:
        run = s.exec(select(FetchRun)).one()
    assert run.status == "error" and run.error_kind == "timeout"
    assert run.finished_at is not None
    # what arrived before the deadline is kept with the failed run (issue 15, item 9)
    (page,) = run.meta["responses"]
    assert 0 < page["bytes"] < len(OWID_CSV) and page["declared_bytes"] == len(OWID_CSV)
    # reported as a plain timeout is (status error, kind timeout), its message naming the deadline
    with TestClient(create_app(tuned, engine=engine)) as web:
        (served,) = web.get("/api/v1/fetch-runs").json()
        page_html = web.get("/indicators").text
    assert (served["status"], served["error_kind"]) == ("error", "timeout")
    assert "overall deadline of 2 s" in served["error"]
    assert "timeout error" in page_html and "overall deadline of 2 s" in page_html


def test_a_silent_body_fails_at_the_deadline_not_the_longer_read_timeout(
    engine: Engine, settings: Settings, upstream: Upstream
) -> None:
    upstream.silent = frozenset({"CHN"})
    tuned = _settings(settings, upstream)  # read timeout 30 s, deadline 2 s
    make_owid_indicator(engine, "CHN")
    with make_http_client(tuned) as client:
        started = time.monotonic()
        summary = ingest_indicator(engine, HttpFetcher(client, tuned), owid_key("CHN"), trigger="t")
        took = time.monotonic() - started
    assert summary.status == "error" and summary.error_kind == "timeout", summary
    assert "overall deadline of 2 s" in (summary.error or "")
    assert took < DEADLINE + 1.5, took


def test_scheduler_goes_on_with_other_jobs_while_sources_trickle(
    engine: Engine, settings: Settings, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "CATCH_UP_DELAY", dt.timedelta(0))
    monkeypatch.setattr(sched, "CATCH_UP_STAGGER", dt.timedelta(0))  # all due at once
    # two trickling sources would hold both job threads forever without a deadline
    upstream.trickle = frozenset({"CHN", "USA"})
    tuned = _settings(settings, upstream)
    for country in ("CHN", "USA", "OWID_WRL"):
        make_owid_indicator(engine, country)
    with make_http_client(tuned) as client:
        scheduler = TrackerScheduler(
            engine,
            tuned,
            http=HttpFetcher(client, tuned),
            holder="proc-a",
            heartbeat=dt.timedelta(seconds=0.2),
        )
        scheduler.start()
        try:
            assert wait_for(lambda: len(_fetches(engine)) == 3, timeout=DEADLINE * 4 + 5), _fetches(
                engine
            )
        finally:
            scheduler.stop()
    fetches = _fetches(engine)
    assert fetches[owid_key("CHN")] == ("error", "timeout")
    assert fetches[owid_key("USA")] == ("error", "timeout")
    assert fetches[owid_key("OWID_WRL")] == ("ok", None)
    with Session(engine) as s:
        runs = s.exec(select(FetchRun)).all()
    for run in runs:  # each within its deadline (plus the time to record it)
        assert run.duration_ms is not None and run.duration_ms < (DEADLINE + 1.5) * 1000


def _fetches(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as s:
        rows = s.exec(
            select(Indicator.key, FetchRun.status, FetchRun.error_kind)
            .join(FetchRun, col(FetchRun.indicator_id) == col(Indicator.id))
            .where(FetchRun.status != "running")
        ).all()
    return {key: (status, kind) for key, status, kind in rows}


def test_a_job_past_its_deadline_is_recorded_as_failed_and_frees_its_thread(
    engine: Engine,
) -> None:
    release = threading.Event()

    def stuck() -> None:
        release.wait(10)

    started = time.monotonic()
    outcome = run_recorded(engine, "stuck", "proc-a", stuck, deadline=0.5)
    took = time.monotonic() - started
    release.set()
    assert outcome is not None and outcome.startswith("timeout")
    assert took < 2.0
    with Session(engine) as s:
        run = s.exec(select(JobRun)).one()
    assert run.status == "error" and (run.error or "").startswith("timeout")
    assert run.finished_at is not None


def test_fetch_deadline_default_is_at_most_300_seconds() -> None:
    assert 0 < Settings().fetch_deadline_seconds <= 300
