"""Year labels on the x axes never run together ("200020042008" on the 1280 px side-panel chart
of US electricity generation): on the real claims and bundled data, at 1280 and 390 px, every
chart's year labels, measured in their own font, keep a gap; the overview as reported on a past
date and its uncertain badges render without errors."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, screenshot

pytestmark = pytest.mark.browser

CLAIMS_DIR = Path(__file__).resolve().parents[2] / "claims"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
MIN_GAP_PX = 6  # blank space between neighbouring year labels

# Per chart: the x axis width, its tick count, and each label with its measured width and centre.
X_LABELS = """() => Array.from(document.querySelectorAll('canvas.chart')).map(c => {
  const chart = window.Chart.getChart(c);
  const x = chart.scales.x;
  const items = x.getLabelItems().filter(i => i.label !== '');
  chart.ctx.save();
  const labels = items.map(i => {
    chart.ctx.font = i.font.string;
    return {text: i.label, width: chart.ctx.measureText(i.label).width,
            centre: i.options.translation[0]};
  });
  chart.ctx.restore();
  return {id: c.dataset.chart, width: x.width, ticks: x.ticks.length, labels: labels};
})"""


def _overlaps(chart: dict[str, Any]) -> list[str]:
    labels = chart["labels"]
    problems = []
    for left, right in itertools.pairwise(labels):
        gap = (right["centre"] - left["centre"]) - (left["width"] + right["width"]) / 2
        if gap < MIN_GAP_PX:
            problems.append(f"{chart['id']}: {left['text']}|{right['text']} gap {gap:.1f}px")
    return problems


@pytest.mark.parametrize("width", [1280, 390])
def test_year_labels_keep_apart_on_every_chart(fresh_install_server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    slugs = ("china-power-3x-us-2030", "ai-compute-demand-10x-per-year", "medical-boom-2026-2035")
    for slug in slugs:
        page.goto(f"{fresh_install_server}/claims/{slug}")
        page.wait_for_load_state("networkidle")
        charts = page.evaluate(X_LABELS)
        assert charts, slug
        for chart in charts:
            assert len(chart["labels"]) >= 3, chart  # still a readable axis
            # every label fits its share of the axis: tick count times label width < width
            widest = max(label["width"] for label in chart["labels"])
            assert len(chart["labels"]) * (widest + MIN_GAP_PX) <= chart["width"] + widest, chart
            assert _overlaps(chart) == [], _overlaps(chart)
        if slug == "china-power-3x-us-2030":
            screenshot(page, f"chart-ticks-{width}")
            side = page.locator("aside.claim-side section.card").first
            side.screenshot(path=str(ARTIFACTS / f"chart-ticks-{width}-side.png"))
    context.close()
    assert errors == []


def test_overview_as_of_and_uncertain_badges_render(fresh_install_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{fresh_install_server}/?as_of=2026-11-28")
    assert "What tracker reported on 2026-11-28" in page.locator("#as-of-banner").inner_text()
    badge = page.locator("span.badge.uncertain", has_text="on track (uncertain)").first
    assert "could go either way" in (badge.get_attribute("title") or "")
    screenshot(page, "overview-as-of")
    page.get_by_role("link", name="Back to now").click()
    page.wait_for_load_state("networkidle")
    assert page.url.rstrip("/") == fresh_install_server
    page.locator("#overview-as-of").fill("2026-11-27")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("networkidle")
    assert "as_of=2026-11-27" in page.url
    # tracker knew the claims from 2026-11-26, but had evaluated none of them yet
    assert page.locator("table.claims tbody tr").count() >= 13
    assert page.locator("text=not evaluated yet then").count() >= 13
    context.close()
    assert errors == []
