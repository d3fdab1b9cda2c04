"""The dashboard's data health (overview list and /indicators): the same honest states as
`/api/v1/indicators` — never fetched, needs an API key, bundled snapshot, fresh, stale, failing."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi.testclient import TestClient
from test_dashboard import make_token, sign_in
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


def test_indicators_page_shows_each_state_distinctly(zoo, engine):
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
    # a reader is told what is missing, not how to configure it (that is behind sign-in)
    assert "data source not configured" in fred and "stale" not in fred
    assert "TRACKER_FRED_API_KEY" not in html and "· HTTP 503" not in html
    assert '<span class="badge ok">fresh</span>' in row_of(html, owid_key("USA"))
    stale = row_of(html, owid_key("OWID_WRL"))
    assert '<span class="badge warn">stale</span>' in stale and ">fresh<" not in stale
    failing = row_of(html, owid_key("FRA"))
    assert "failing" in failing
    # signed in, the operator's details show: the setting to set, each fetch's HTTP status
    sign_in(client, make_token(engine, "resolve"))
    html = client.get("/indicators").text
    assert "set <code>TRACKER_FRED_API_KEY</code> to fetch it" in row_of(html, "fred.uspbs")
    assert "· HTTP 503" in row_of(html, owid_key("FRA"))
    assert 'id="operator-hint"' not in html


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
    assert "data source not configured" in by_title["fred.uspbs"]
    assert "TRACKER_FRED_API_KEY" not in by_title["fred.uspbs"]  # operator talk: data health
    never = by_title["owid.never.fetched"]
    assert "never fetched" in never and "stale" not in never and "last success" not in never
    bundled = by_title[owid_key("CHN")]
    assert f"retrieved {manifest()['retrieved_on']}" in bundled and "stale" not in bundled


def test_a_failed_live_fetch_over_the_bundled_snapshot_does_not_claim_a_live_success(
    settings, engine
):
    from test_ingest_support import Upstream

    from tracker.ingest import ingest_indicator

    build_health_zoo(engine, settings)
    upstream = Upstream()
    upstream.faults["CHN"] = lambda request: httpx.Response(503, content=b"down")
    http = upstream.fetcher(settings, http_max_retries=0)
    assert not ingest_indicator(
        engine, http, owid_key("CHN"), trigger="test", now=T0 + dt.timedelta(hours=1)
    ).ok
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: T0 + dt.timedelta(hours=2)
    with TestClient(app) as client:
        html = client.get("/").text
        api = {i["key"]: i for i in client.get("/api/v1/indicators").json()}
    health = html[html.index('id="health-h"') : html.index('id="all-h"')]
    item = next(i for i in health.split("<li>")[1:] if owid_key("CHN") in i)
    retrieved = manifest()["retrieved_on"]
    assert "last fetch failed" in item
    assert f"showing the bundled snapshot retrieved {retrieved}" in item
    assert "last success" not in item
    chn = api[owid_key("CHN")]
    assert (
        chn["health"] == "failing"
        and f"bundled snapshot retrieved {retrieved}" in chn["health_reason"]
    )
