"""The dashboard in headless Chromium: pages load cleanly, charts draw, a reviewer resolves a
claim through the form, and a script in a title stays text. Screenshots land in test-artifacts/."""

from __future__ import annotations

import pytest
from conftest import screenshot

pytestmark = pytest.mark.browser


def test_overview_and_claim_page_load_without_errors(live_server, watched_page):
    page, problems = watched_page
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Next deadlines").is_visible()
    assert page.locator("text=AGI arrives in 2026").first.is_visible()
    screenshot(page, "overview")

    page.goto(live_server + "/claims/china-power-3x-us-2030")
    page.wait_for_load_state("networkidle")
    quote = page.locator('blockquote[lang="ja"]')
    assert quote.inner_text() == "2030年には中国の電力生産量が米国の3倍になる"
    # Chart.js drew into the canvas (it sets its own size and registers the chart)
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('canvas.chart'))"
        ".map(c => !!window.Chart.getChart(c))"
    )
    assert drawn and all(drawn)
    label = page.locator("canvas.chart").first.get_attribute("aria-label")
    assert "threshold ≥ 3" in label and "deadline 2030-12-31" in label
    screenshot(page, "claim-china-power")
    assert problems.all() == []
