"""Claim charts on a fresh install's real data in headless Chromium: training compute (1e15 to
5e26 FLOP) is drawn on a log axis from 2000, and the narrow side panel's legend fits its chart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from browser_support import screenshot

pytestmark = pytest.mark.browser

REPO_CLAIMS = Path(__file__).resolve().parents[2] / "claims"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)

# each drawn chart: its y scale type, x range and whether every legend entry lies inside it
CHART_FACTS = """() => Array.from(document.querySelectorAll('canvas.chart')).map(c => {
  const chart = window.Chart.getChart(c);
  const boxes = chart.legend.legendHitBoxes;
  return {
    id: c.getAttribute('data-chart'),
    y: chart.scales.y.type,
    xmin: chart.scales.x.min,
    legendInside: boxes.length > 0 &&
      boxes.every(b => b.left >= 0 && b.left + b.width <= chart.width + 0.5),
  };
})"""


def test_compute_charts_draw_on_a_log_axis_with_legends_that_fit(
    fresh_install_server, watched_page
):
    page, problems = watched_page
    page.goto(fresh_install_server + "/claims/ai-compute-demand-10x-per-year")
    page.wait_for_load_state("networkidle")
    [main] = page.evaluate(CHART_FACTS)
    assert main["y"] == "logarithmic" and main["xmin"] == 2000 and main["legendInside"]
    screenshot(page, "claim-ai-compute-log-axis")

    page.goto(fresh_install_server + "/claims/agi-2026")
    page.wait_for_load_state("networkidle")
    facts = page.evaluate(CHART_FACTS)
    side = [f for f in facts if f["id"].startswith("signal-data")]
    assert side and all(f["legendInside"] for f in side), side
    assert any(f["y"] == "logarithmic" for f in side)
    screenshot(page, "claim-agi-side-panel")
    assert problems.all() == []
