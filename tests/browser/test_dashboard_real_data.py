"""The reader's journey on real data: the repository's claim files, OWID electricity generation
fetched through the real ingest (upstream served from the recorded CSV), evaluated by the real
evaluator; the China/US claim page shows 2.34 for 2025, the chart, and the revised vintage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from browser_support import screenshot, serve
from sqlmodel import Session
from test_ingest_support import OWID_CSV, Upstream, replace_value

from tracker import status
from tracker.claims import sync_claims_dir
from tracker.ingest import ingest_indicator
from tracker.web.app import create_app

pytestmark = pytest.mark.browser

CLAIMS_DIR = Path(__file__).resolve().parents[2] / "claims"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
FIRST_FETCH = NOW - dt.timedelta(days=20)
SECOND_FETCH = NOW - dt.timedelta(days=2)


def test_china_power_claim_on_real_data(settings, engine, browser):
    with Session(engine) as session:
        sync_claims_dir(session, CLAIMS_DIR, now=FIRST_FETCH - dt.timedelta(days=1))
        session.commit()
    upstream = Upstream()
    http = upstream.fetcher(settings)
    # first published with a lower China 2025 total, then revised to the recorded value
    upstream.csv = replace_value(OWID_CSV, "CHN", 2025, "10400")
    for key in ("owid.electricity_generation.chn", "owid.electricity_generation.usa"):
        assert ingest_indicator(engine, http, key, trigger="test", now=FIRST_FETCH).ok
    upstream.csv = OWID_CSV
    assert ingest_indicator(
        engine, http, "owid.electricity_generation.chn", trigger="test", now=SECOND_FETCH
    ).ok
    with Session(engine) as session:
        status.evaluate_claims(session, now=NOW)
        session.commit()

    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    with serve(app) as base:
        page.goto(base + "/")
        page.wait_for_load_state("networkidle")
        assert page.locator("table.claims tbody tr").count() >= 13
        screenshot(page, "real-overview")
        page.goto(base + "/claims/china-power-3x-us-2030")
        page.wait_for_load_state("networkidle")
        facts = page.locator("section.status").inner_text()
        assert "2.34" in facts and "(2025)" in facts
        assert "Projection for 2030" in facts
        drawn = page.evaluate(
            "() => Array.from(document.querySelectorAll('canvas.chart'))"
            ".map(c => !!window.Chart.getChart(c))"
        )
        assert drawn and all(drawn)
        page.locator("details summary", has_text="Data table").first.click()
        revised = page.locator("table.data tr.superseded").first.inner_text()
        assert revised.startswith("2025") and "revised" in revised
        screenshot(page, "real-claim-china-power")
    context.close()
    assert errors == []
