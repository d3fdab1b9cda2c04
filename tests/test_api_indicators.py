"""Declaring indicators over the API: `POST /api/v1/indicators:dry-run` fetches the recorded
World Bank payload through the real HttpFetcher (httpx.MockTransport) and stores nothing;
`POST /api/v1/indicators` stores the declaration with its revision; bad declarations are 422s
naming the field; a sync leaves an API-declared indicator alone; export writes it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from test_http_support import fixture_bytes, make_fetcher

from tracker.auth import create_token
from tracker.clock import FixedClock
from tracker.config import Settings
from tracker.models import FetchRun, Indicator, IndicatorRevision, Observation
from tracker.scheduler import job_table
from tracker.web.app import create_app

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
SAMPLE = "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
ERROR = "worldbank_v2_error_invalid_value_constructed.json"
DECLARATION: dict[str, Any] = {
    "key": "worldbank.population.chn2",
    "title": "Population, China (World Bank)",
    "source": "worldbank",
    "params": {"indicator": "SP.POP.TOTL", "country": "CHN"},
    "unit": "persons",
    "frequency": "annual",
    "publication_lag_days": 190,
    "refresh": "weekly",
}


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, dict[str, str], list]]:
    """The app with a World Bank upstream serving the recorded payload; a writer's token."""
    with Session(engine) as session:
        writer = create_token(session, "writer", ["claims:write"], now=NOW)
        session.commit()

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/country/XXX/indicator/SP.POP.TOTL"):
            return httpx.Response(200, content=fixture_bytes(ERROR))
        return httpx.Response(200, content=fixture_bytes(SAMPLE))

    fetcher, _, seen = make_fetcher(upstream, settings)
    app = create_app(settings, engine=engine, clock=FixedClock(NOW))
    app.state.source_http = fetcher
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {writer.plaintext}"}, seen


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_dry_run_fetches_the_series_and_stores_nothing(api, engine):
    client, auth, seen = api
    before = _count(engine, Indicator)
    response = client.post("/api/v1/indicators:dry-run", json=DECLARATION, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saved"] is False
    assert body["indicator"]["params"] == {"indicator": "SP.POP.TOTL", "country": "CHN"}
    fetch = body["fetch"]
    assert fetch["ok"] is True
    assert fetch["points"] == 10
    assert fetch["first"] == {"period": "2015", "value": 1_379_860_000}
    assert fetch["last"] == {"period": "2024", "value": 1_408_975_000}
    assert fetch["unit"] == "persons"
    assert seen[0].url.path == "/v2/country/CHN/indicator/SP.POP.TOTL"
    assert _count(engine, Indicator) == before
    assert _count(engine, FetchRun) == 0 and _count(engine, Observation) == 0


def test_dry_run_reports_an_upstream_error_as_a_failed_fetch(api):
    client, auth, _ = api
    bad = {**DECLARATION, "params": {"indicator": "SP.POP.TOTL", "country": "XXX"}}
    response = client.post("/api/v1/indicators:dry-run", json=bad, headers=auth)
    assert response.status_code == 200
    fetch = response.json()["fetch"]
    assert fetch["ok"] is False and fetch["error_kind"] == "upstream"
    assert "worldbank error" in fetch["error"] and fetch["first"] is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"params": {"indicator": "SP.POP.TOTL"}}, "params.country", "Country is required"),
        ({"params": {"indicator": "SP POP", "country": "CHN"}}, "params.indicator", "not valid"),
        (
            {"params": {"indicator": "SP.POP.TOTL", "country": "CHN", "x": "1"}},
            "params.x",
            "unknown parameter",
        ),
        ({"source": "nosuch"}, "source", "unknown source"),
        ({"key": "Not A Key"}, "key", "pattern"),
        ({"unit": ""}, "unit", "at least 1"),
        ({"frequency": "hourly"}, "frequency", "annual"),
    ],
)
def test_bad_declarations_are_422_naming_the_field(api, engine, change, field, words):
    client, auth, seen = api
    for path in ("/api/v1/indicators:dry-run", "/api/v1/indicators"):
        response = client.post(path, json={**DECLARATION, **change}, headers=auth)
        assert response.status_code == 422, response.text
        problem = response.json()
        errors = {e["field"]: e["message"] for e in problem["errors"]}
        assert field in errors, errors
        assert words in errors[field]
        assert field in problem["detail"]
    assert seen == []  # nothing was fetched for an invalid declaration
    assert _count(engine, Indicator) == 0


def test_declaring_needs_the_claims_write_scope(api, engine):
    client, _, _ = api
    with Session(engine) as session:
        reviewer = create_token(session, "reviewer", ["resolve"], now=NOW)
        session.commit()
    assert client.post("/api/v1/indicators", json=DECLARATION).status_code == 401
    forbidden = client.post(
        "/api/v1/indicators",
        json=DECLARATION,
        headers={"Authorization": f"Bearer {reviewer.plaintext}"},
    )
    assert forbidden.status_code == 403


def test_save_stores_the_declaration_with_its_revision_and_the_scheduler_fetches_it(
    api, engine, settings
):
    client, auth, _ = api
    response = client.post("/api/v1/indicators", json=DECLARATION, headers=auth)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == (
        "/api/v1/indicators/worldbank.population.chn2/observations"
    )
    assert response.json()["origin"] == "api"
    with Session(engine) as session:
        row = session.exec(select(Indicator).where(Indicator.key == DECLARATION["key"])).one()
        assert (row.origin, row.source, row.params) == (
            "api",
            "worldbank",
            {"indicator": "SP.POP.TOTL", "country": "CHN"},
        )
        assert row.publication_lag_days == 190 and row.refresh == "weekly"
        revisions = session.exec(select(IndicatorRevision)).all()
        assert [(r.version, r.change, r.author) for r in revisions] == [(1, "created", "writer")]
        assert revisions[0].content["key"] == DECLARATION["key"]
    again = client.post("/api/v1/indicators", json=DECLARATION, headers=auth)
    assert again.status_code == 409
    listed = client.get("/api/v1/indicators").json()
    assert [i["key"] for i in listed] == [DECLARATION["key"]]
    assert listed[0]["health"] == "never_fetched"
    jobs = job_table(engine, object(), now=NOW, settings=settings)
    assert any(DECLARATION["key"] in job.id for job in jobs)
