"""Every page of a multi-page fetch is provenance: in the fetch run (URL with secrets removed,
bytes, sha256, the periods it gave), in the API (fetch runs, each observation's page) and in the
claim page's evidence panel. World Bank page 2 holds China's 1990–1999 population.

Recorded payloads (tests/fixtures/sources, PROVENANCE.md) through httpx.MockTransport; the real
adapters, HTTP layer, ingest, app and database.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient
from pydantic import SecretStr
from quarantine_support import copy_claims, sync_shipped
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_ingest_support import make_indicator

from tracker.config import Settings
from tracker.ingest import ingest_indicator, read_raw_body
from tracker.models import FetchRun
from tracker.pipeline import refresh_indicator
from tracker.sources.http import HttpFetcher

SOURCES = Path(__file__).parent / "fixtures" / "sources"
PAGES = {
    str(n): (SOURCES / f"worldbank_v2_CHN_SP.POP.TOTL_1990_2024_page{n}of2.json").read_bytes()
    for n in (1, 2)
}
KEY = "worldbank.population.chn"
T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)


def worldbank(request: httpx.Request) -> httpx.Response:
    body = PAGES[request.url.params["page"]]
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def fetcher(settings: Settings, handler) -> HttpFetcher:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpFetcher(client, settings, sleep=lambda _s: None, rng=lambda: 0.0)


@pytest.fixture
def fetched(engine: Engine, settings: Settings, tmp_path: Path) -> int:
    """population-collapse and the catalogue synced; China's population fetched in two pages."""
    sync_shipped(engine, copy_claims(tmp_path / "claims", "population-collapse"), T0)
    result = refresh_indicator(engine, fetcher(settings, worldbank), KEY, trigger="test", now=T0)
    assert result.fetch.ok and result.fetch.rows_new == 35
    return result.fetch.fetch_run_id


def test_the_run_records_each_page(engine: Engine, fetched: int) -> None:
    with Session(engine) as session:
        run = session.get(FetchRun, fetched)
        assert run is not None
        pages = run.meta["responses"]
        assert [p["url"].rsplit("&page=", 1)[1] for p in pages] == ["1", "2"]
        assert [p["periods"] for p in pages] == [
            {"rows": 25, "first": "2000", "last": "2024"},
            {"rows": 10, "first": "1990", "last": "1999"},
        ]
        for page, body in zip(pages, PAGES.values(), strict=True):
            assert page["bytes"] == len(body)
            assert page["sha256"] == hashlib.sha256(body).hexdigest()
            assert read_raw_body(session, page["sha256"]) == body
        assert run.bytes == sum(len(b) for b in PAGES.values()) and run.attempts == 2


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, engine, T0 + dt.timedelta(hours=1))) as c:
        yield c


def test_the_api_gives_every_page_and_each_value_its_page(client: TestClient, fetched: int) -> None:
    run = client.get(f"/api/v1/fetch-runs/{fetched}").json()
    assert [(p["number"], p["periods"]["first"], p["periods"]["last"]) for p in run["pages"]] == [
        (1, "2000", "2024"),
        (2, "1990", "1999"),
    ]
    page2 = run["pages"][1]
    assert (
        page2["url"].endswith("&page=2")
        and page2["sha256"] == hashlib.sha256(PAGES["2"]).hexdigest()
    )
    assert (
        client.get("/api/v1/fetch-runs", params={"indicator": KEY}).json()[0]["pages"]
        == run["pages"]
    )

    obs = client.get(f"/api/v1/indicators/{KEY}/observations").json()["observations"]
    by_period = {o["period"]: o for o in obs}
    assert by_period["1995"]["value"] == 1204855000
    assert by_period["1995"]["page"] == {
        "number": 2,
        "url": page2["url"],
        "sha256": page2["sha256"],
    }
    assert by_period["2024"]["page"]["number"] == 1
    assert {o["page"]["number"] for o in obs if o["period"] < "2000"} == {2}


def test_the_evidence_panel_lists_both_pages(client: TestClient, fetched: int) -> None:
    page = client.get("/claims/population-collapse").text
    run = client.get(f"/api/v1/fetch-runs/{fetched}").json()
    panel = page[page.index('id="evidence-h"') :]
    assert f'id="run-{fetched}"' in panel
    for item in run["pages"]:
        assert item["sha256"] in panel
        assert item["url"].replace("&", "&amp;") in panel
    assert "page 2 · 1990–1999 (10 rows)" in panel and "page 1 · 2000–2024 (25 rows)" in panel


def test_page_urls_never_hold_the_key(engine: Engine, settings: Settings) -> None:
    """FRED pages by offset and needs a key: each page's stored URL has it removed."""
    make_indicator(
        engine,
        "fred.hqmcb10yr",
        source="fred",
        unit="%",
        params={"series_id": "HQMCB10YR"},
        frequency="monthly",
    )
    whole = json.loads(
        (SOURCES / "fred_series_observations_HQMCB10YR_recorded_2024-06-27.json").read_bytes()
    )
    first = copy.deepcopy(whole) | {"limit": 4, "observations": whole["observations"][:4]}
    second = copy.deepcopy(whole) | {
        "offset": 4,
        "limit": 4,
        "observations": whole["observations"][4:],
    }
    pages = {"0": json.dumps(first).encode(), "4": json.dumps(second).encode()}
    secret = "fredkey0123456789abcdef0123456789"

    def fred(request: httpx.Request) -> httpx.Response:
        assert request.url.params["api_key"] == secret
        return httpx.Response(200, content=pages[request.url.params["offset"]])

    keyed = settings.model_copy(update={"fred_api_key": SecretStr(secret)})
    summary = ingest_indicator(
        engine, fetcher(keyed, fred), "fred.hqmcb10yr", trigger="test", now=T0
    )
    assert summary.ok and summary.rows_new == 6
    with Session(engine) as session:
        run = session.get(FetchRun, summary.fetch_run_id)
        assert run is not None
        stored = run.meta["responses"]
        assert [p["periods"]["rows"] for p in stored] == [4, 2]
        assert all("api_key=REDACTED" in p["url"] and secret not in p["url"] for p in stored)
        assert secret not in json.dumps(run.meta)
