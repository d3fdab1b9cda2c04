"""The calendar's expected data releases: one whose expected date has passed without its data is
overdue, as the dashboard says ("expected 2025-01-30 (overdue)"), and shows on today's date
until the data arrives, rather than as a past event nobody sees; Last-Modified follows it."""

from __future__ import annotations

import datetime as dt
import email.utils

import icalendar
from dashboard_seed import make_observation
from sqlmodel import Session, select
from test_dashboard_charts import INSTALL_NOW, fresh_install

from tracker.models import Indicator
from tracker.web.wording import expected_on_text

__all__ = ["fresh_install"]  # the shipped claims and bundled data, evaluated at INSTALL_NOW

FDA_2024 = "release-openfda.novel_drug_approvals-2024@tracker"
TODAY = INSTALL_NOW.date()  # 2026-11-28
MINUTE = dt.timedelta(minutes=1)


def releases(client) -> dict[str, icalendar.Event]:
    r = client.get("/api/v1/calendar.ics")
    assert r.status_code == 200
    return {
        str(e["uid"]): e
        for e in icalendar.Calendar.from_ical(r.content).walk("VEVENT")
        if str(e["uid"]).startswith("release-")
    }


def test_an_overdue_release_shows_today_saying_since_when(fresh_install):
    events = releases(fresh_install)
    fda = events[FDA_2024]
    assert fda.decoded("dtstart") == TODAY
    assert fda.decoded("dtend") == TODAY + dt.timedelta(days=1)
    assert str(fda["summary"]).startswith("Overdue since 2025-01-30: ")
    assert "for 2024" in str(fda["summary"])
    # the dashboard's own words for it
    assert expected_on_text(dt.date(2025, 1, 30), TODAY) == "expected 2025-01-30 (overdue)"
    assert "expected 2025-01-30 (overdue)" in str(fda["description"]).replace("\\n", "")
    assert "overdue" in [str(c) for c in fda["categories"].cats]
    # no release still waited for is left in the past, and each overdue one says so
    overdue = [e for e in events.values() if str(e["summary"]).startswith("Overdue since ")]
    assert len(overdue) >= 2  # FDA 2024 and World Bank 2025 on 2026-11-28
    for event in events.values():
        if str(event["summary"]).startswith("Overdue since "):
            assert event.decoded("dtstart") == TODAY
        else:
            assert event.decoded("dtstart") >= TODAY or "Data expected" in str(event["summary"])


def test_once_the_data_arrives_the_overdue_event_goes_and_the_next_release_shows(
    fresh_install, engine
):
    with Session(engine) as session:
        fda = session.exec(
            select(Indicator).where(Indicator.key == "openfda.novel_drug_approvals")
        ).one()
        make_observation(session, fda, "2024", 50.0, known_from=INSTALL_NOW - MINUTE)
        session.commit()
    events = releases(fresh_install)
    # 2024 arrived: its release is no longer waited for, so the next one (2025) is announced,
    # itself overdue since 2026-01-30
    assert FDA_2024 not in events
    nxt = events["release-openfda.novel_drug_approvals-2025@tracker"]
    assert str(nxt["summary"]).startswith("Overdue since 2026-01-30: ")


def test_last_modified_moves_with_the_day_an_overdue_release_is_shown_on(fresh_install):
    app = fresh_install.app
    first = fresh_install.get("/api/v1/calendar.ics")
    modified = email.utils.parsedate_to_datetime(first.headers["Last-Modified"])
    assert modified >= dt.datetime.combine(TODAY, dt.time.min, tzinfo=dt.UTC)
    same_day = fresh_install.get(
        "/api/v1/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert same_day.status_code == 304
    app.state.clock = lambda: INSTALL_NOW + dt.timedelta(days=1)
    next_day = fresh_install.get(
        "/api/v1/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert next_day.status_code == 200  # the overdue events moved to the new day
    fda = {str(e["uid"]): e for e in icalendar.Calendar.from_ical(next_day.content).walk("VEVENT")}[
        FDA_2024
    ]
    assert fda.decoded("dtstart") == TODAY + dt.timedelta(days=1)
