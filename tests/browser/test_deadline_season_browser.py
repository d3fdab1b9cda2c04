"""Deadline season in headless Chromium at a laptop's and a phone's width: error pages a person
can read, overview counts that lead to exactly the rows counted, a verdict form whose refusal is
seen and focused, early verdicts marked, and axe-core finding nothing on any page type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import screenshot

pytestmark = pytest.mark.browser

WIDTHS = {"laptop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
def sized_page(browser, request) -> Iterator[tuple[Any, str]]:
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    yield page, request.param
    context.close()


def test_a_missing_page_is_a_readable_html_404(live_server, browser):
    for size, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        response = page.goto(live_server + "/no-such-page")
        assert response is not None and response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        assert page.get_by_role("heading", name="Not found").is_visible()
        page.get_by_role("link", name="See all claims").click()
        page.wait_for_url("**/claims")
        screenshot(page, f"error-404-{size}")
        # the favicon the browser asks for is served, not an error
        icon = page.request.get(live_server + "/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        context.close()


def test_each_overview_count_leads_to_the_rows_counted(live_server, browser):
    for size, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(live_server + "/")
        links = page.locator("ul.counts.outlooks a")
        assert links.count() >= 8
        wanted = [
            (links.nth(i).get_attribute("href"), int(links.nth(i).locator("strong").inner_text()))
            for i in range(links.count())
        ]
        screenshot(page, f"overview-outlooks-{size}")
        assert sum(n for _, n in wanted) > 0
        # every count that lists claims, and one that lists none; at the phone's width two
        wanted = [w for w in wanted if w[1]] + [w for w in wanted if not w[1]][:1]
        if size == "phone":
            wanted = wanted[:2]
        for href, count in wanted:
            page.goto(live_server + "/")
            page.locator(f'ul.counts.outlooks a[href="{href}"]').click()
            page.wait_for_url(f"**{href}")
            rows = page.locator("table.claims tbody tr .slug")
            assert rows.count() == count, href
            if count:
                assert rows.first.is_visible()
        context.close()


def _sign_in(page: Any, base: str, engine: Any, slug: str) -> None:
    from dashboard_seed import NOW
    from sqlmodel import Session

    from tracker import auth

    with Session(engine) as session:
        token = auth.create_token(session, "reviewer-ann", ["resolve"], now=NOW).plaintext
        session.commit()
    page.goto(f"{base}/login?next=/claims/{slug}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/claims/{slug}")


def _in_viewport(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
               return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }""",
            selector,
        )
    )


def test_a_refused_verdict_is_in_view_and_focused_then_an_early_one_is_marked(
    live_server, engine, sized_page
):
    page, size = sized_page
    slug = "agi-2026"  # deadline 2026-12-31; the clock says 2026-11-28
    _sign_in(page, live_server, engine, slug)
    form = page.locator("#verdict")
    # said before submitting: an early verdict needs a note
    assert "has not passed" in form.locator("#note-why").inner_text()
    page.get_by_role("radio", name="not kept").check()
    page.get_by_label("Rationale").fill("The claimant conceded in public.")
    # the browser would refuse an empty required note itself: send it with a blank one
    page.get_by_label("Note", exact=False).fill(" ")
    page.get_by_role("button", name="Review the verdict").click()
    page.wait_for_load_state()
    errors = page.locator("#verdict-errors")
    assert "has not passed" in errors.inner_text()
    assert page.evaluate("() => document.activeElement.id") == "verdict-errors"
    assert _in_viewport(page, "#verdict-errors")
    screenshot(page, f"verdict-refused-{size}")

    page.get_by_role("radio", name="not kept").check()
    page.get_by_label("Note", exact=False).fill("claimant conceded on 2026-11-27")
    page.get_by_role("button", name="Review the verdict").click()
    page.wait_for_load_state()
    assert page.evaluate("() => document.activeElement.id") == "resolve-h"
    assert _in_viewport(page, "#resolve-h")
    assert "early verdict" in page.locator(".verdict-preview").inner_text()
    screenshot(page, f"verdict-confirm-{size}")
    page.get_by_role("button", name="Record verdict as reviewer-ann").click()
    page.wait_for_url(f"**/claims/{slug}#timeline")
    assert page.locator("dl.facts .verdict-early").first.is_visible()
    assert "verdict: not kept" in page.locator("#timeline li").first.inner_text()
    page.goto(f"{live_server}/claims?q={slug}")
    row = page.locator("table.claims tbody tr").first
    assert "early verdict" in row.inner_text()
    assert row.locator(".verdict-early").is_visible()


LEGEND = """(canvas) => window.Chart.getChart(canvas).legend.legendItems.map(i => i.text)"""


def test_charts_say_something_at_both_widths(fresh_install_server, browser):
    for size, (width, height) in WIDTHS.items():  # one server (the install is the slow part)
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(fresh_install_server + "/claims/ai-compute-demand-10x-per-year")
        page.wait_for_load_state("networkidle")
        legend = page.locator("canvas.chart").first.evaluate(LEGEND)
        assert "required path (≥ 10.0x a year)" in legend
        screenshot(page, f"chart-growth-{size}")

        page.goto(fresh_install_server + "/claims/china-power-3x-us-2030")
        page.wait_for_load_state("networkidle")
        legend = page.locator("canvas.chart").first.evaluate(LEGEND)
        assert "projection range" in legend and "projection, lower bound" not in legend

        page.goto(fresh_install_server + "/claims/population-collapse")
        page.wait_for_load_state("networkidle")
        charts = page.locator(".claim-main canvas.chart").all()
        assert charts
        for chart in charts:  # one point (2023): drawn inside the plot area, not on its edge
            inside = chart.evaluate(
                """(canvas) => { const c = window.Chart.getChart(canvas), a = c.chartArea;
                     return c.getDatasetMeta(0).data.every(p =>
                       p.x > a.left && p.x < a.right && p.y > a.top && p.y < a.bottom); }"""
            )
            assert inside, size
        screenshot(page, f"chart-population-{size}")
        context.close()


def test_an_uncertain_trend_badge_is_neither_green_nor_red(live_server, browser):
    for width, height in WIDTHS.values():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(live_server + "/claims/china-power-3x-us-2030")
        badge = page.locator(".status .badge.uncertain").first
        assert "(uncertain)" in badge.inner_text()
        colours = badge.evaluate(
            "(b) => { const s = getComputedStyle(b); return [s.backgroundColor, s.color]; }"
        )
        assert colours == ["rgb(236, 239, 243)", "rgb(43, 47, 54)"]
        context.close()
