"""/docs in headless Chromium: Swagger UI, served from the vendored assets, renders the API's
operations with no failed request, console error or request to another host."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser_support import screenshot

pytestmark = pytest.mark.browser


def test_docs_render_the_operations_offline(live_server, watched_page):
    page, problems = watched_page
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.goto(live_server + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/claims/{slug}" in p for p in paths), paths
    assert len(paths) >= 20
    assert page.locator(".info .title").first.inner_text().startswith("tracker")
    # a schema example is shown for an operation's response
    page.locator(".opblock-summary-path", has_text="/api/v1/indicators").first.click()
    page.locator(".opblock-body .example, .opblock-body .microlight").first.wait_for()
    screenshot(page, "api-docs")
    assert hosts == {urlsplit(live_server).netloc}
    assert problems.all() == []
