"""Dashboard defects found walking the user journeys: overdue releases named the same way on the
overview and the claim page, no empty brackets for a trend without a label, a replay that says
which parts are present-day, criteria descriptions, data-health notes beside a claim's status,
the growth sentence that names the sustained rate, and /indicators' error rows and honest
"Last success" for a bundled snapshot."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, make_evaluation, seed_essay
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_dashboard_charts import INSTALL_NOW, fresh_install, section

from tracker.models import Claim
from tracker.web import dashboard
from tracker.web.app import create_app

__all__ = ["fresh_install"]  # the shipped claims and bundled data, evaluated once

TODAY = INSTALL_NOW.date()
RELEASE = re.compile(r"next data (\S+), expected (\d{4}-\d{2}-\d{2})( \(overdue\))?", re.I)


def test_expected_on_marks_a_past_date_overdue():
    today = dt.date(2026, 11, 28)
    assert dashboard._expected_on("2025-01-30", today) == "expected 2025-01-30 (overdue)"
    assert dashboard._expected_on(dt.date(2027, 6, 29), today) == "expected 2027-06-29"
    assert dashboard._expected_on("2026-11-28", today) == "expected 2026-11-28"  # due today
    assert dashboard._expected_on(None, today) == "expected date unknown"


def test_overdue_releases_read_the_same_on_the_overview_and_the_claim_page(fresh_install):
    overview = section(fresh_install.get("/").text, "next-h", "queue-h")
    entries = re.findall(r'<li><span class="countdown".*?</li>', overview, re.S)
    overdue = 0
    for entry in entries:
        match = RELEASE.search(entry)
        if match is None:
            continue
        late = dt.date.fromisoformat(match.group(2)) < TODAY
        assert bool(match.group(3)) == late, entry
        overdue += late
        slug = re.search(r'href="/claims/([^"]+)"', entry)
        assert slug is not None
        panel = section(fresh_install.get(f"/claims/{slug.group(1)}").text, "status-h", "replay-h")
        expected = f"Next data: {match.group(1)}, expected {match.group(2)}"
        assert (expected + (" (overdue)" if late else "")) in panel
    # the shipped data has releases late on 2026-11-28; late past their grace, their claims
    # wait in the review queue ("data overdue since …", tracker.overdue), saying the same date
    queue = section(fresh_install.get("/").text, "queue-h", "changes-h")
    for entry in re.findall(r"<li>.*?</li>", queue, re.S):
        since = re.search(r"data overdue since (\d{4}-\d{2}-\d{2})", entry)
        slug = re.search(r'href="/claims/([^"]+)"', entry)
        if since is None or slug is None:
            continue
        panel = section(fresh_install.get(f"/claims/{slug.group(1)}").text, "status-h", "replay-h")
        assert f"expected {since.group(1)} (overdue)" in panel, slug.group(1)
        overdue += 1
    assert overdue >= 1


@pytest.fixture
def essay_client(settings, engine) -> Iterator[tuple[TestClient, Session]]:
    with Session(engine) as session:
        seed_essay(session)
        session.commit()
        app = create_app(settings, engine=engine)
        app.state.clock = lambda: NOW + dt.timedelta(hours=1)
        with TestClient(app) as client:
            yield client, session


def test_a_change_from_a_trend_without_label_has_no_empty_brackets(essay_client):
    client, session = essay_client
    agi = session.exec(select(Claim).where(Claim.slug == "agi-2026")).one()  # open, not_applicable
    make_evaluation(
        session, agi, "resolved_false", "A reviewer decided.", at=NOW + dt.timedelta(minutes=5)
    )
    session.commit()
    changes = section(client.get("/").text, "changes-h", "health-h")
    [changed] = [
        li
        for li in re.findall(r"<li>.*?</li>", changes, re.S)
        if "/claims/agi-2026" in li and "→" in li
    ]
    assert "()" not in changed and "( )" not in changed
    assert re.search(r"open\s*→", changed), changed


def test_a_replay_says_what_is_present_day(fresh_install):
    plain = fresh_install.get("/claims/china-power-3x-us-2030").text
    assert "replay-banner" not in plain and "Now (not as of" not in plain
    day = (INSTALL_NOW - dt.timedelta(hours=12)).date().isoformat()
    html = fresh_install.get(f"/claims/china-power-3x-us-2030?as_of={day}").text
    banner = re.search(r'<p class="replay-banner"[^>]*>(.*?)</p>', html, re.S)
    assert banner and f"Viewing china-power-3x-us-2030 as tracker knew it on {day}" in banner.group(
        1
    )
    assert html.index("replay-banner") < html.index("<h1>")  # at the top, above the heading
    label = f"Now (not as of {day})"
    for heading in ("status-h", "criteria-h", "chart-h-1"):
        h2 = re.search(rf'<h2 id="{heading}">(.*?)</h2>', html, re.S)
        assert h2 and label in h2.group(1), heading
    assert label not in section(html, "replay-h", "criteria-h")  # the replay box is then


def test_each_criterion_shows_its_description(fresh_install):
    html = fresh_install.get("/claims/medical-boom-2026-2035").text
    checks = section(html, "criteria-h", "chart-h-1")
    description = re.search(r'<p class="criterion-description[^"]*">(.*?)</p>', checks, re.S)
    assert description and "at least 68.4/yr" in description.group(1)
    assert "new-molecular-entity NDAs" in description.group(1)


def test_claims_on_fred_series_say_the_key_is_missing(fresh_install):
    for slug in ("capital-rotation-to-power-infra-2026", "white-collar-class-disappears"):
        panel = section(fresh_install.get(f"/claims/{slug}").text, "status-h", "replay-h")
        notes = re.search(r'<ul class="data-notes".*?</ul>', panel, re.S)
        assert notes, slug
        assert "data source not configured" in notes.group(0)
        assert "TRACKER_FRED_API_KEY" not in notes.group(0)  # operator talk: data health only
        assert 'href="/indicators#ind-fred.' in notes.group(0)
    # a claim whose data is the bundled snapshot (the normal fresh install) has no notes
    panel = section(
        fresh_install.get("/claims/china-power-3x-us-2030").text, "status-h", "replay-h"
    )
    assert "data-notes" not in panel


def test_the_growth_sentence_names_the_sustained_rate(fresh_install):
    html = fresh_install.get("/claims/ai-compute-demand-10x-per-year").text
    checks = section(html, "criteria-h", "chart-h-1")
    assert (
        "grows at least 10.0x a year (judged on the rate sustained over the last 5 years" in checks
    )
    assert "each year over the year before" not in checks


def test_indicators_last_success_is_not_a_bundled_load(fresh_install):
    html = fresh_install.get("/indicators").text
    row = html[html.index('id="ind-owid.electricity_generation.chn"') :]
    row = row[: row.index("</tr>")]
    cell = re.search(r'<td data-label="Last success">(.*?)</td>', row, re.S)
    assert cell and re.search(r"bundled snapshot \(retrieved \d{4}-\d{2}-\d{2}\)", cell.group(1))
    assert "UTC" not in cell.group(1)  # not the load time, as if fetched live
