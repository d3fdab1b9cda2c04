"""Last-Modified on the reads that lacked it (/indicators, /deadlines, a claim's history), through
the same caching helper as the rest: it moves when what they show changes, including when the
clock alone changes it (an indicator turning stale, a new day), so If-Modified-Since is safe."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_api_support import T0, make_claim, make_evaluation

from tracker.models import Claim, Indicator
from tracker.web.app import create_app

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def app_and_client(settings, engine) -> Iterator[tuple[object, TestClient]]:
    with Session(engine) as s:
        s.add(
            Indicator(
                key="owid.electricity-generation.china",
                source="owid",
                unit="TWh",
                refresh="daily",
                created_at=T0,
                updated_at=T0,
                last_success_at=NOW - dt.timedelta(hours=5),
            )
        )
        soon = make_claim(s, "due-soon", deadline=dt.date(2026, 12, 20))
        make_evaluation(s, soon, state="open", at=NOW - DAY)
        s.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        yield app, client


def last_modified(response) -> dt.datetime:
    return email.utils.parsedate_to_datetime(response.headers["last-modified"])


def test_indicators_last_modified_moves_when_the_clock_makes_one_stale(app_and_client):
    app, client = app_and_client
    first = client.get("/api/v1/indicators")
    assert first.status_code == 200 and first.json()[0]["health"] == "ok"
    assert last_modified(first) == NOW - dt.timedelta(hours=5)  # its last success
    since = {"If-Modified-Since": first.headers["last-modified"]}
    assert client.get("/api/v1/indicators", headers=since).status_code == 304
    assert (
        client.get(
            "/api/v1/indicators", headers={"If-None-Match": first.headers["etag"]}
        ).status_code
        == 304
    )
    # nothing was fetched, but two days (2x daily) after the success it reads stale
    app.state.clock = lambda: NOW + 2 * DAY
    later = client.get("/api/v1/indicators", headers=since)
    assert later.status_code == 200 and later.json()[0]["health"] == "stale"
    assert last_modified(later) == NOW - dt.timedelta(hours=5) + 2 * DAY  # when it turned stale


def test_deadlines_last_modified_follows_claims_and_the_day(app_and_client, engine):
    app, client = app_and_client
    first = client.get("/api/v1/deadlines")
    assert [c["slug"] for c in first.json()["upcoming"]] == ["due-soon"]
    # the newest change to a claim is older than today: the list is as of today
    assert last_modified(first) == dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    since = {"If-Modified-Since": first.headers["last-modified"]}
    assert client.get("/api/v1/deadlines", headers=since).status_code == 304
    # a claim leaving the lists moves it, though it is no longer listed
    with Session(engine) as s:
        claim = s.exec(select(Claim).where(Claim.slug == "due-soon")).one()
        claim.lifecycle = "withdrawn"
        claim.updated_at = NOW
        s.add(claim)
        s.commit()
    moved = client.get("/api/v1/deadlines", headers=since)
    assert moved.status_code == 200 and moved.json()["upcoming"] == []
    assert last_modified(moved) == NOW
    # the next day, `today` and the window moved: not 304 either
    app.state.clock = lambda: NOW + DAY
    since = {"If-Modified-Since": moved.headers["last-modified"]}
    tomorrow = client.get("/api/v1/deadlines", headers=since)
    assert tomorrow.status_code == 200 and tomorrow.json()["today"] == "2026-11-29"


def test_history_last_modified_is_its_newest_point(app_and_client, engine):
    _, client = app_and_client
    url = "/api/v1/claims/due-soon/history"
    first = client.get(url)
    assert last_modified(first) == NOW - DAY
    since = {"If-Modified-Since": first.headers["last-modified"]}
    assert client.get(url, headers=since).status_code == 304
    with Session(engine) as s:
        claim = s.exec(select(Claim).where(Claim.slug == "due-soon")).one()
        make_evaluation(s, claim, state="open", trend="off_track", at=NOW)
        s.commit()
    again = client.get(url, headers=since)
    assert again.status_code == 200 and len(again.json()["points"]) == 2
    assert last_modified(again) == NOW
