"""The dashboard's data health (overview list and /indicators): the same honest states as
`/api/v1/indicators` — never fetched, needs an API key, bundled snapshot, fresh, stale, failing."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from test_ingest_support import T0, build_health_zoo, owid_key

from tracker.bundled import manifest
from tracker.web.app import create_app


@pytest.fixture
def zoo(settings, engine):
    expected = build_health_zoo(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: T0 + dt.timedelta(hours=2)
    with TestClient(app) as client:
        yield client, expected


def row_of(html: str, key: str) -> str:
    row = html[html.index(f'id="ind-{key}"') :]
    return row[: row.index("</tr>")]


def test_indicators_page_shows_each_state_distinctly(zoo):
    client, expected = zoo
    html = client.get("/indicators").text
    retrieved = manifest()["retrieved_on"]
    for key, state in expected.items():
        assert f'class="health-{state}"' in row_of(html, key), key
    never = row_of(html, "owid.never.fetched")
    assert "never fetched" in never and "stale" not in never and "failing" not in never
    bundled = row_of(html, owid_key("CHN"))
    assert "bundled snapshot" in bundled and f"retrieved {retrieved}" in bundled
    assert "stale" not in bundled
    fred = row_of(html, "fred.uspbs")
    assert "needs API key" in fred and "TRACKER_FRED_API_KEY" in fred and "stale" not in fred
    assert '<span class="badge ok">fresh</span>' in row_of(html, owid_key("USA"))
    stale = row_of(html, owid_key("OWID_WRL"))
    assert '<span class="badge warn">stale</span>' in stale and ">fresh<" not in stale
    failing = row_of(html, owid_key("FRA"))
    assert "failing" in failing and "HTTP 503" in failing


def test_overview_lists_what_needs_attention_without_calling_it_stale(zoo):
    client, _ = zoo
    html = client.get("/").text
    health = html[html.index('id="health-h"') : html.index('id="all-h"')]
    items = health.split("<li>")[1:]
    assert len(items) == 5  # every indicator but the fresh one
    by_title = {item.split("</a>")[0].rsplit(">", 1)[-1]: item for item in items}
    assert list(by_title) == [
        owid_key("FRA"),  # failing
        owid_key("OWID_WRL"),  # stale
        "fred.uspbs",  # needs_key
        "owid.never.fetched",  # never_fetched
        owid_key("CHN"),  # bundled
    ]
    assert "last fetch failed" in by_title[owid_key("FRA")]
    assert "data stale" in by_title[owid_key("OWID_WRL")]
    assert "set TRACKER_FRED_API_KEY" in by_title["fred.uspbs"]
    never = by_title["owid.never.fetched"]
    assert "never fetched" in never and "stale" not in never and "last success" not in never
    bundled = by_title[owid_key("CHN")]
    assert f"retrieved {manifest()['retrieved_on']}" in bundled and "stale" not in bundled
