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


def test_a_missing_page_is_a_readable_html_404(live_server, sized_page):
    page, size = sized_page
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


def test_each_overview_count_leads_to_the_rows_counted(live_server, sized_page):
    page, size = sized_page
    page.goto(live_server + "/")
    links = page.locator("ul.counts.outlooks a")
    assert links.count() >= 8
    wanted = [
        (links.nth(i).get_attribute("href"), int(links.nth(i).locator("strong").inner_text()))
        for i in range(links.count())
    ]
    screenshot(page, f"overview-outlooks-{size}")
    assert sum(n for _, n in wanted) > 0
    for href, count in wanted:
        page.goto(live_server + "/")
        page.locator(f'ul.counts.outlooks a[href="{href}"]').click()
        page.wait_for_url(f"**{href}")
        rows = page.locator("table.claims tbody tr .slug")
        assert rows.count() == count, href
        if count:
            assert rows.first.is_visible()
