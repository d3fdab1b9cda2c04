"""One definition of "stale" (tracker.data_health.is_stale) on the data-health page, the data API
and /readyz: no successful fetch for twice the refresh interval, counted from the last success
or, if none ever succeeded, from when tracking began; "failing" (the last fetch failed) is
reported beside it, not instead of it."""

from __future__ import annotations

import datetime as dt

from dashboard_seed import make_fetch_run, make_indicator
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tracker.models import Indicator
from tracker.web.app import create_app

INSTALLED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
TRIALS = "clinicaltrials.interventional_trials_started"
NEVER = "owid.never.fetched"


def seed(engine) -> None:
    """As installed at INSTALLED: the trials series (weekly) whose first fetch failed a minute
    later, and a daily OWID series never fetched at all."""
    with Session(engine) as session:
        trials = make_indicator(
            session,
            TRIALS,
            title="Interventional clinical trials started per year",
            unit="trials",
            source="clinicaltrials",
            refresh="weekly",
            created_at=INSTALLED,
        )
        make_fetch_run(
            session,
            trials,
            status="error",
            at=INSTALLED + dt.timedelta(minutes=1),
            error_kind="http",
            error="HTTP 503 from upstream",
        )
        make_indicator(session, NEVER, title="Never fetched", unit="TWh", created_at=INSTALLED)
        session.commit()


def observe(settings, engine, now: dt.datetime) -> tuple[str, dict, dict]:
    """The health cell of the trials row, the API's indicators and /readyz's scheduler check."""
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: now
    with TestClient(app) as client:
        html = client.get("/indicators").text
        api = {i["key"]: i for i in client.get("/api/v1/indicators").json()}
        ready = client.get("/readyz").json()["checks"]["scheduler"]
    row = html[html.index(f'id="ind-{TRIALS}"') :]
    cell = row[row.index('data-label="Health"') : row.index("</tr>")]
    return cell, api, ready


def test_a_failed_first_fetch_is_failing_not_stale_until_two_intervals_pass(settings, engine):
    seed(engine)
    cell, api, ready = observe(settings, engine, INSTALLED + dt.timedelta(minutes=16))
    assert "failing" in cell and "stale" not in cell
    assert api[TRIALS]["health"] == "failing"
    assert api[TRIALS]["failing"] and not api[TRIALS]["stale"]
    assert ready["failing_indicators"] == [TRIALS] and ready["stale_indicators"] == []
    assert api[NEVER]["health"] == "never_fetched" and not api[NEVER]["stale"]

    # two weeks (2x weekly) and a bit later with no success: failing and stale, everywhere
    cell, api, ready = observe(settings, engine, INSTALLED + dt.timedelta(days=14, minutes=2))
    assert "failing" in cell and '<span class="badge warn">stale</span>' in cell
    assert api[TRIALS]["health"] == "failing"
    assert api[TRIALS]["failing"] and api[TRIALS]["stale"]
    assert ready["failing_indicators"] == [TRIALS]
    # the daily series never fetched in two weeks is stale too, counted from its tracking start
    assert api[NEVER]["stale"] and api[NEVER]["health"] == "never_fetched"
    assert ready["stale_indicators"] == [TRIALS, NEVER]


def test_stale_counts_from_tracking_start_only_when_nothing_ever_succeeded(settings, engine):
    seed(engine)
    with Session(engine) as session:
        never = session.exec(select(Indicator).where(Indicator.key == NEVER)).one()
        make_fetch_run(session, never, at=INSTALLED + dt.timedelta(days=1))  # a success
        session.commit()
    # 2 days after the success (daily refresh): not yet stale, though tracked for 3 days
    _, api, ready = observe(settings, engine, INSTALLED + dt.timedelta(days=3))
    assert api[NEVER]["health"] == "ok" and not api[NEVER]["stale"]
    assert NEVER not in ready["stale_indicators"]
    _, api, ready = observe(settings, engine, INSTALLED + dt.timedelta(days=3, minutes=1))
    assert api[NEVER]["health"] == "stale" and api[NEVER]["stale"]
    assert NEVER in ready["stale_indicators"]
