"""One clock: every "now" tracker reads comes from tracker.clock, so a test that sets the app's
clock sets it for every endpoint's caching headers, every stored timestamp, the scheduler, the
CLI and fetch runs; and no module but tracker.clock reads the machine's clock.

These tests would have caught the calendar's Last-Modified taken from the machine's date while
the app's clock said 2026-11-28 (the suite then passed only within a day of that date).
"""

from __future__ import annotations

import ast
import datetime as dt
import email.utils
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import sync_claims_dir
from tracker.cli import app as cli_app
from tracker.clock import FixedClock, system_clock, use_clock, utcnow
from tracker.models import Claim, ClaimRevision, FetchRun, JobRun
from tracker.scheduler import TrackerScheduler, run_recorded
from tracker.web import api, api_data, dashboard, health, problems
from tracker.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
# Long before any day this suite runs on (the project began in 2026): a leak of the machine's
# date into anything the app's clock should decide shows as a time after the app's "now".
INSTALL_NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SLUG = "china-power-3x-us-2030"
PATH_VALUES = {
    "slug": SLUG,
    "key": "owid.electricity_generation.chn",
    "code": "not-found",
    "run_id": "1",  # the bundled snapshot's first load
}
CLAIMANT_PATHS = {"/claimants/{slug}", "/api/v1/claimants/{slug}"}
# reads of the wall clock outside tracker.clock: `datetime.now(...)`, `date.today()`,
# `datetime.utcnow()`, `time.time()` (time.monotonic/perf_counter measure durations: allowed)
WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def _get_paths() -> list[str]:
    """Every GET route of the app with its path parameters filled from the shipped claims."""
    paths: list[str] = []
    for module in (health, dashboard, api, api_data, problems):
        for route in module.router.routes:
            methods = getattr(route, "methods", None) or set()
            if "GET" not in methods:
                continue
            path: str = route.path  # type: ignore[attr-defined]
            if path in CLAIMANT_PATHS:
                path = path.replace("{slug}", "elon-musk")
            paths.append(re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path))
    return paths


@pytest.fixture
def installed(settings, engine) -> Iterator[TestClient]:
    """The shipped claims and bundled snapshot, evaluated at INSTALL_NOW; the app's clock
    stands at INSTALL_NOW too."""
    with Session(engine) as session:
        sync_claims_dir(session, REPO / "claims", now=INSTALL_NOW - dt.timedelta(days=1))
        session.commit()
    load_bundled(engine, now=INSTALL_NOW - dt.timedelta(hours=1))
    with Session(engine) as session:
        status.evaluate_claims(session, now=INSTALL_NOW)
        session.commit()
    app = create_app(settings, engine=engine, clock=FixedClock(INSTALL_NOW))
    with TestClient(app) as client:
        yield client


def _wall_clock_reads(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in WALL_CLOCK_CALLS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_module_but_the_clock_reads_the_machine_clock():
    modules = [
        p for p in sorted((REPO / "tracker").rglob("*.py")) if p != REPO / "tracker/clock.py"
    ]
    offenders = _wall_clock_reads(modules)
    assert offenders == [], "read the clock through tracker.clock.utcnow: " + ", ".join(offenders)


def test_no_test_reads_the_machine_clock_directly():
    """A test that needs "now" takes it from tracker.clock (the conftest `clock` fixture, or
    utcnow() where real time must pass, as with a running scheduler), never from the machine's
    date behind the clock's back."""
    tests = [p for p in sorted((REPO / "tests").rglob("*.py")) if p.name != "test_clock.py"]
    offenders = _wall_clock_reads(tests)
    assert offenders == [], "use tracker.clock in tests: " + ", ".join(offenders)


def test_every_get_route_is_checked():
    paths = _get_paths()
    assert "/api/v1/calendar.ics" in paths and "/claims/" + SLUG in paths
    assert len(paths) >= 25


def test_validators_follow_the_app_clock_on_every_endpoint(installed: TestClient):
    """No Last-Modified after the app's now, on any GET route; the same answers (validators
    included) whatever the machine's date, and a day later by the app's clock every
    Last-Modified is still at most the app's now."""
    app_now = INSTALL_NOW
    with_last_modified: set[str] = set()
    for moved in (dt.timedelta(0), dt.timedelta(days=1)):
        installed.app.state.clock = FixedClock(app_now + moved)  # type: ignore[attr-defined]
        for path in _get_paths():
            first = installed.get(path)
            assert first.status_code < 500, (path, first.status_code)
            if "last-modified" in first.headers:
                with_last_modified.add(path)
                modified = email.utils.parsedate_to_datetime(first.headers["last-modified"])
                assert modified <= app_now + moved, (
                    f"{path}: Last-Modified {first.headers['last-modified']} is after the "
                    f"app's now ({app_now + moved:%Y-%m-%d %H:%M})"
                )
            if "etag" in first.headers:
                again = installed.get(path, headers={"If-None-Match": first.headers["etag"]})
                assert again.status_code == 304, path  # the same clock, the same answer
    # the API's reads send them (the dashboard's pages and the health probes do not)
    assert {
        "/api/v1/claims",
        f"/api/v1/claims/{SLUG}",
        f"/api/v1/claims/{SLUG}/history",
        "/api/v1/deadlines",
        "/api/v1/calendar.ics",
        "/api/v1/feed.atom",
        "/api/v1/indicators",
    } <= with_last_modified, with_last_modified


def test_the_calendar_moves_with_the_app_clock_not_the_machine_clock(installed: TestClient):
    installed.app.state.clock = FixedClock(INSTALL_NOW)  # type: ignore[attr-defined]
    first = installed.get("/api/v1/calendar.ics")
    same = installed.get(
        "/api/v1/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert same.status_code == 304
    installed.app.state.clock = FixedClock(INSTALL_NOW + dt.timedelta(days=1))  # type: ignore[attr-defined]
    next_day = installed.get(
        "/api/v1/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert next_day.status_code == 200  # the overdue releases moved to the app's new day
    assert next_day.headers["etag"] != first.headers["etag"]


def test_writes_through_the_app_are_stamped_by_its_clock(installed: TestClient, engine):
    from tracker.auth import create_token

    with Session(engine) as session:
        token = create_token(session, "writer", ["claims:write"], now=INSTALL_NOW).plaintext
        session.commit()
    later = INSTALL_NOW + dt.timedelta(days=3, hours=2)
    installed.app.state.clock = FixedClock(later)  # type: ignore[attr-defined]
    r = installed.post(
        f"/api/v1/claims/{SLUG}/withdraw",
        json={"note": "withdrawn to check the clock"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == SLUG)).one()
        assert claim.updated_at == later
        newest = session.exec(
            select(ClaimRevision)
            .where(ClaimRevision.claim_id == claim.id)
            .order_by(ClaimRevision.id.desc())  # type: ignore[union-attr]
        ).first()
        assert newest is not None and newest.created_at == later


def test_the_scheduler_runs_its_jobs_under_its_clock(engine, settings):
    at = dt.datetime(2031, 7, 1, 0, 5, tzinfo=dt.UTC)
    scheduler = TrackerScheduler(engine, settings, clock=FixedClock(at))
    seen: list[dt.datetime] = []
    scheduler.active = True
    scheduler.lease.try_acquire(at)

    def job() -> None:
        seen.append(utcnow())
        return None

    scheduler._run_job("evaluate:all", job, dt.timedelta(days=1))
    assert seen == [at]
    with Session(engine) as session:
        run = session.exec(select(JobRun)).one()
        assert run.started_at == at and run.finished_at == at and run.status == "ok"
    # run_recorded alone (no scheduler) stamps with whatever clock its caller installed
    with use_clock(FixedClock(at + dt.timedelta(days=1))):
        assert run_recorded(engine, "evaluate:all", "h", lambda: None) is None
    with Session(engine) as session:
        latest = session.exec(select(JobRun).order_by(JobRun.id.desc())).first()  # type: ignore[union-attr]
        assert latest is not None and latest.started_at == at + dt.timedelta(days=1)


def test_the_cli_takes_its_time_from_the_clock(settings, engine, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRACKER_CLAIMS_DIR", str(REPO / "claims"))
    at = dt.datetime(2027, 1, 2, 12, 0, tzinfo=dt.UTC)
    with use_clock(FixedClock(at)):
        result = CliRunner().invoke(cli_app, ["claims", "sync", str(REPO / "claims")])
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        synced = {c.updated_at for c in session.exec(select(Claim)).all()}
        assert synced == {at}
        # their first versions are dated from the files' `catalogued` day, which the clock
        # also bounds (never later than the sync): here every essay file says 2026-11-28
        stamps = {r.created_at for r in session.exec(select(ClaimRevision)).all()}
        assert stamps == {dt.datetime(2026, 11, 28, tzinfo=dt.UTC)}


def test_fetch_runs_are_stamped_by_the_clock(engine, settings):
    from tracker.ingest import ingest_indicator
    from tracker.sources.http import HttpFetcher

    at = dt.datetime(2031, 7, 1, 3, 0, tzinfo=dt.UTC)

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down for maintenance")

    with Session(engine) as session:
        sync_claims_dir(session, REPO / "claims", now=at - dt.timedelta(days=1))
        session.commit()
    fast = settings.model_copy(update={"http_max_retries": 0})
    with (
        use_clock(FixedClock(at)),
        httpx.Client(transport=httpx.MockTransport(upstream)) as client,
    ):
        http = HttpFetcher(client, fast, sleep=lambda _: None)
        ingest_indicator(engine, http, "owid.electricity_generation.chn", trigger="test")
    with Session(engine) as session:
        run = session.exec(select(FetchRun)).one()
        assert run.started_at == at and run.status == "error"


def test_an_unset_clock_is_the_system_clock():
    before = system_clock()
    assert before <= utcnow() <= system_clock()
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(dt.datetime(2026, 1, 1))
