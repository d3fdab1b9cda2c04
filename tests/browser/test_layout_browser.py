"""Layout on a fresh install (shipped claims, bundled data) in headless Chromium: no claim page
is wider than a 390 px phone, log-axis FLOP charts label every power of ten, and /indicators
after an offline fetch keeps its rows short and its Health column on screen at 390 and 1280 px."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import screenshot, serve
from sqlmodel import Session
from test_ingest_support import Upstream, owid_key

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import sync_claims_dir
from tracker.ingest import ingest_indicator
from tracker.web.app import create_app

pytestmark = pytest.mark.browser

REPO_CLAIMS = Path(__file__).resolve().parents[2] / "claims"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SLUGS = sorted(p.stem for p in REPO_CLAIMS.glob("*.yaml"))
WIDTHS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
Y_LABELS = """() => Array.from(document.querySelectorAll('canvas.chart'))
  .map(c => window.Chart.getChart(c).scales.y.ticks.map(t => t.label))"""
# each indicator row: its height and the right edge of its Health cell
ROWS = """() => Array.from(document.querySelectorAll('table.indicators tbody tr[id]')).map(r => ({
  id: r.id, height: r.getBoundingClientRect().height,
  right: r.querySelector('td[data-label="Health"]').getBoundingClientRect().right}))"""


def offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(
        f"[Errno -3] Temporary failure in name resolution: {request.url}", request=request
    )


@pytest.fixture
def offline_server(settings, engine) -> Iterator[str]:
    """A fresh install whose first live fetch of China's generation failed: no network."""
    with Session(engine) as session:
        sync_claims_dir(session, REPO_CLAIMS, now=NOW - dt.timedelta(days=1))
        session.commit()
    load_bundled(engine, now=NOW - dt.timedelta(hours=2))
    upstream = Upstream()
    upstream.faults["CHN"] = offline
    http = upstream.fetcher(settings, http_max_retries=0)
    result = ingest_indicator(
        engine, http, owid_key("CHN"), trigger="test", now=NOW - dt.timedelta(hours=1)
    )
    assert not result.ok
    with Session(engine) as session:
        status.evaluate_claims(session, now=NOW)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with serve(app) as url:
        yield url


def test_no_claim_page_is_wider_than_a_phone(offline_server, browser):
    assert len(SLUGS) >= 14
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    too_wide = {}
    for slug in SLUGS:
        page.goto(f"{offline_server}/claims/{slug}")
        page.wait_for_load_state("networkidle")
        scroll, inner = page.evaluate(WIDTHS)
        if scroll > inner:
            too_wide[slug] = scroll
    page.goto(f"{offline_server}/claims/china-power-3x-us-2030")
    page.wait_for_load_state("networkidle")
    notes = page.locator("ul.data-notes").inner_text()
    assert "last fetch failed network" in notes and "bundled snapshot" in notes
    assert "https://" not in notes  # the long error text stays on /indicators
    screenshot(page, "layout-claim-china-power-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{offline_server}/claims/china-power-3x-us-2030?as_of=2026-11-27")
    page.wait_for_load_state("networkidle")
    assert page.locator("#replay-banner").is_visible()
    screenshot(page, "layout-claim-china-power-replay-1280")
    context.close()
    assert too_wide == {}


def test_log_axis_labels_every_power_of_ten(offline_server, watched_page):
    page, problems = watched_page
    page.goto(offline_server + "/claims/ai-compute-demand-10x-per-year")
    page.wait_for_load_state("networkidle")
    [labels] = page.evaluate(Y_LABELS)
    assert {"1e23", "1e24", "1e25"} <= set(labels), labels
    exponents = [int(label[2:]) for label in labels if label.startswith("1e")]
    assert exponents == list(range(exponents[0], exponents[0] + len(exponents)))  # no gaps
    screenshot(page, "layout-ai-compute-1280")
    assert problems.all() == []


@pytest.mark.parametrize("width", [1280, 390])
def test_indicators_after_an_offline_fetch_fit_the_screen(offline_server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(offline_server + "/indicators")
    page.wait_for_load_state("networkidle")
    scroll, inner = page.evaluate(WIDTHS)
    assert scroll <= inner
    rows = page.evaluate(ROWS)
    failing = next(r for r in rows if r["id"] == f"ind-{owid_key('CHN')}")
    assert all(r["right"] <= inner for r in rows), rows
    limit = 200 if width >= 1000 else 520  # stacked cells on a phone
    assert failing["height"] < limit, failing
    assert (
        "Temporary failure in name resolution" in page.locator("tr.error-row").first.text_content()
    )
    cell = page.locator(f'[id="ind-{owid_key("CHN")}"] td[data-label="Last success"]')
    assert cell.inner_text().startswith("bundled snapshot (retrieved ")
    screenshot(page, f"layout-indicators-{width}")
    context.close()
