"""The data API: indicators with fetch health, as-of observations, fetch runs (both backends)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from test_ingest_support import (
    OWID_CSV,
    T0,
    Upstream,
    build_health_zoo,
    make_owid_indicator,
    owid_key,
    replace_value,
)

from tracker.clock import utcnow
from tracker.ingest import ingest_indicator
from tracker.web.app import create_app

DAY = dt.timedelta(days=1)


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def test_as_of_before_a_revision_returns_the_old_value(client, engine, settings):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    http = upstream.fetcher(settings)
    assert ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0).ok
    upstream.csv = replace_value(OWID_CSV, "CHN", 2024, "10100.5")
    second = ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0 + 10 * DAY)
    assert second.ok and second.rows_revised == 1

    url = f"/api/v1/indicators/{owid_key('CHN')}/observations"
    old = client.get(url, params={"as_of": (T0 + 3 * DAY).date().isoformat()})
    assert old.status_code == 200
    body = old.json()
    assert body["as_of"].startswith("2026-11-04T23:59:59")
    by_period = {o["period"]: o for o in body["observations"]}
    assert len(by_period) == 26
    assert by_period["2024"]["value"] == 10086.88
    assert by_period["2024"]["known_until"].startswith("2026-11-11T06:00")
    assert by_period["2025"]["value"] == 10583.36

    now = {o["period"]: o for o in client.get(url).json()["observations"]}
    assert now["2024"]["value"] == 10100.5 and now["2024"]["known_until"] is None
    assert now["2024"]["fetch_run_id"] == second.fetch_run_id

    before_anything = client.get(url, params={"as_of": "2026-10-01"}).json()
    assert before_anything["observations"] == []


def test_unknown_indicator_is_404_problem(client):
    response = client.get("/api/v1/indicators/no.such.key/observations")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "no.such.key" in response.json()["detail"]
    assert client.get("/api/v1/fetch-runs", params={"indicator": "nope"}).status_code == 404


def test_bad_as_of_is_a_validation_error(client, engine):
    make_owid_indicator(engine, "CHN")
    response = client.get(
        f"/api/v1/indicators/{owid_key('CHN')}/observations", params={"as_of": "2026-13-01"}
    )
    assert response.status_code == 422


def test_indicators_and_fetch_runs_show_health_and_errors(client, engine, settings):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    make_owid_indicator(engine, "USA")
    make_owid_indicator(engine, "OWID_WRL")
    http = upstream.fetcher(settings, http_max_retries=0)
    now = utcnow()
    assert ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=now).ok
    upstream.faults["USA"] = lambda request: httpx.Response(503, content=b"down")
    failed = ingest_indicator(engine, http, owid_key("USA"), trigger="test", now=now + DAY / 24)
    assert failed.status == "error"

    indicators = {i["key"]: i for i in client.get("/api/v1/indicators").json()}
    chn, usa, wld = (indicators[owid_key(c)] for c in ("CHN", "USA", "OWID_WRL"))
    assert chn["last_fetch_status"] == "ok" and not chn["stale"] and not chn["failing"]
    assert chn["next_update_expected"] == "2027-06-20" and chn["unit"] == "TWh"
    # tracked for minutes: a failed first fetch is failing, not stale (that takes 2 intervals)
    assert usa["last_fetch_status"] == "error" and usa["failing"] and not usa["stale"]
    assert "HTTP 503" in usa["last_fetch_error"]
    assert wld["last_fetch_status"] is None and not wld["stale"] and not wld["failing"]

    runs = client.get("/api/v1/fetch-runs").json()
    assert [r["status"] for r in runs] == ["error", "ok"]  # newest first
    assert runs[0]["indicator"] == owid_key("USA") and runs[0]["error_kind"] == "http"
    assert runs[0]["http_status"] == 503
    assert runs[1]["rows_new"] == 26 and runs[1]["url"].startswith("https://ourworldindata.org/")
    errors = client.get("/api/v1/fetch-runs", params={"status": "error"}).json()
    assert [r["id"] for r in errors] == [failed.fetch_run_id]
    only_chn = client.get(
        "/api/v1/fetch-runs", params={"indicator": owid_key("CHN"), "limit": 1}
    ).json()
    assert len(only_chn) == 1 and only_chn[0]["status"] == "ok"
    assert client.get("/api/v1/fetch-runs", params={"limit": 0}).status_code == 422


def test_indicators_report_distinct_honest_health_states(settings, engine):
    from tracker.bundled import manifest

    expected = build_health_zoo(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: T0 + 2 * DAY / 24
    with TestClient(app) as client:
        indicators = {i["key"]: i for i in client.get("/api/v1/indicators").json()}
    assert {key: i["health"] for key, i in indicators.items()} == expected

    chn, usa, wld, fra = (indicators[owid_key(c)] for c in ("CHN", "USA", "OWID_WRL", "FRA"))
    retrieved = manifest()["retrieved_on"]
    assert chn["bundled_retrieved_on"] == retrieved and retrieved in chn["health_reason"]
    assert "not fetched live" in chn["health_reason"]
    assert usa["bundled_retrieved_on"] == retrieved  # the snapshot is history; live data rules
    assert usa["health_reason"] == "last success 2026-11-01 07:00 UTC"
    assert "2026-10-22 06:00 UTC" in wld["health_reason"] and "(daily)" in wld["health_reason"]
    assert "HTTP 503" in fra["health_reason"] and fra["last_fetch_status"] == "error"
    fred = indicators["fred.uspbs"]
    assert fred["needs_setting"] == "TRACKER_FRED_API_KEY"
    assert "TRACKER_FRED_API_KEY" in fred["health_reason"]
    never = indicators["owid.never.fetched"]
    assert never["last_success_at"] is None and never["needs_setting"] is None
    assert never["bundled_retrieved_on"] is None
    # the compatibility flags keep their meaning
    assert wld["stale"] and not wld["failing"] and fra["failing"] and not usa["stale"]

    # with the key configured, FRED is simply never fetched
    keyed = settings.model_copy(update={"fred_api_key": SecretStr("k" * 32)})
    app = create_app(keyed, engine=engine)
    app.state.clock = lambda: T0 + 2 * DAY / 24
    with TestClient(app) as client:
        fred = {i["key"]: i for i in client.get("/api/v1/indicators").json()}["fred.uspbs"]
    assert fred["health"] == "never_fetched" and fred["needs_setting"] is None


def test_indicator_health_follows_the_apps_clock_not_the_wall_clock(settings, engine):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    assert ingest_indicator(
        engine, upstream.fetcher(settings), owid_key("CHN"), trigger="test", now=T0
    ).ok
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        app.state.clock = lambda: T0 + DAY / 2
        fresh = client.get("/api/v1/indicators").json()[0]
        app.state.clock = lambda: T0 + 3 * DAY
        stale = client.get("/api/v1/indicators").json()[0]
    assert fresh["health"] == "ok" and not fresh["stale"]
    assert stale["health"] == "stale" and stale["stale"]


def test_a_fetch_refused_for_a_missing_key_reads_needs_key_not_failing(settings, engine):
    from test_ingest_support import make_indicator

    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    refused = ingest_indicator(engine, Upstream().fetcher(settings), "fred.uspbs", trigger="cli")
    assert refused.error_kind == "config"  # recorded before fetches were skipped
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        (fred,) = client.get("/api/v1/indicators").json()
    assert fred["health"] == "needs_key" and fred["failing"]  # the flag keeps its meaning
    assert "TRACKER_FRED_API_KEY" in fred["health_reason"]
