"""A fresh install, end to end: migrate, sync the shipped claims, load the bundled data, evaluate,
then ask the API about China's power output (2.34x the US's in 2025, projected to 2030)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tracker.config import Settings
from tracker.startup import prepare_database
from tracker.web.app import create_app

REPO_CLAIMS = Path(__file__).resolve().parents[1] / "claims"


def test_fresh_install_reports_china_ratio(empty_db_url: str, tmp_path: Path, clock) -> None:
    # installed and read on 2026-11-28 (the conftest clock): the 2030 deadline is ahead
    settings = Settings(
        database_url=empty_db_url,
        data_dir=tmp_path / "data",
        claims_dir=REPO_CLAIMS,
        sync_claims_on_start=True,
        load_bundled_on_start=True,
        run_scheduler=False,
    )
    prepare_database(settings)
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/claims/china-power-3x-us-2030")
    assert r.status_code == 200, r.text
    status = r.json()["status"]
    assert status["metric"]["period"] == "2025"
    assert status["metric"]["value"] == pytest.approx(2.34, abs=0.005)
    assert status["threshold"] == 3.0
    assert status["projection"]["at"] == "2030"
    assert status["projection"]["value"] is not None
    assert (
        status["projection"]["low"] <= status["projection"]["value"] <= status["projection"]["high"]
    )
    assert status["state"] == "open" and status["trend"] in ("on_track", "off_track")


def test_fresh_install_calendar_has_next_releases_and_yearly_reviews(
    empty_db_url: str, tmp_path: Path
) -> None:
    import datetime as dt

    import icalendar

    settings = Settings(
        database_url=empty_db_url,
        data_dir=tmp_path / "data",
        claims_dir=REPO_CLAIMS,
        sync_claims_on_start=True,
        load_bundled_on_start=True,
        run_scheduler=False,
    )
    prepare_database(settings)
    app = create_app(settings)
    app.state.clock = lambda: dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    with TestClient(app) as client:
        r = client.get("/api/v1/calendar.ics")
        again = client.get("/api/v1/calendar.ics").content
    assert r.status_code == 200
    events = {str(e["uid"]): e for e in icalendar.Calendar.from_ical(r.content).walk("VEVENT")}
    # the next release of each read indicator, once per indicator, naming every reader
    epoch = events["release-epoch.max_training_compute-2026@tracker"]
    assert epoch.decoded("dtstart") == dt.date(2026, 12, 31) + dt.timedelta(days=90)
    readers = str(epoch["description"])
    assert "ai-compute-demand-10x-per-year" in readers and "agi-2026" in readers
    assert str(epoch["summary"]).startswith("Next data expected")
    world_bank = events["release-worldbank.population.chn-2025@tracker"]
    # 2025 data was expected 2025-12-31 + 190 days and has not come: overdue, shown today
    assert world_bank.decoded("dtstart") == dt.date(2026, 11, 28)
    assert str(world_bank["summary"]).startswith("Overdue since 2026-07-09: ")
    assert "population-collapse" in str(world_bank["description"])
    assert sum(uid.startswith("release-worldbank.population.chn-") for uid in events) == 1
    # an open-ended claim (`review: yearly`, no deadline) is reviewed every 31 Dec
    review = events["review-ai-compute-demand-10x-per-year@tracker"]
    assert review.decoded("dtstart") == dt.date(2026, 12, 31)
    assert review["rrule"]["FREQ"] == ["YEARLY"]
    assert "deadline-ai-compute-demand-10x-per-year@tracker" not in events
    # UIDs are stable across requests
    uids = {str(e["uid"]) for e in icalendar.Calendar.from_ical(again).walk("VEVENT")}
    assert uids == set(events)
