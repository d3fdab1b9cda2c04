"""The dashboard in headless Chromium: pages load cleanly, charts draw, a reviewer resolves a
claim through the form, and a script in a title stays text. Screenshots land in test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import screenshot
from dashboard_seed import NOW, XSS_TITLE
from sqlmodel import Session

from tracker import auth

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

    # a judged claim: rubric, and its market signal drawn beside it
    page.goto(live_server + "/claims/agi-2026")
    page.wait_for_load_state("networkidle")
    assert page.locator('blockquote[lang="ja"]').inner_text() == "AGIは2026年に到来する"
    assert page.get_by_text("A reviewer decides:").is_visible()
    signal = page.locator("aside canvas.chart")
    assert signal.count() == 1
    assert page.evaluate("() => !!window.Chart.getChart(document.querySelector('aside canvas'))")
    screenshot(page, "claim-agi-2026")
    assert problems.all() == []


def _token(settings_engine: Any, name: str) -> str:
    with Session(settings_engine) as session:
        issued = auth.create_token(session, name, ["resolve"], now=NOW)
        session.commit()
        return issued.plaintext


def test_reviewer_resolves_a_judged_claim_through_the_form(live_server, engine, watched_page):
    page, problems = watched_page
    token = _token(engine, "reviewer-ann")
    page.goto(live_server + "/")
    page.get_by_role("link", name="Colossus 2 waited a year for the grid").first.click()
    page.get_by_role("link", name="Sign in as a reviewer").click()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    # back on the claim page, signed in, with the form
    page.wait_for_url("**/claims/colossus2-grid-wait-one-year")
    assert page.get_by_text("Signed in as").is_visible()
    page.get_by_role("radio", name="kept", exact=True).check()
    page.get_by_label("Rationale").fill("Local reporting confirms a wait of about a year.")
    page.get_by_label("Evidence links (one http(s) URL per line)").fill(
        "https://example.org/memphis-grid"
    )
    page.get_by_role("button", name="Review the verdict").click()
    page.get_by_role("button", name="Record verdict as reviewer-ann").click()
    page.wait_for_url("**/claims/colossus2-grid-wait-one-year#timeline")
    timeline = page.locator("#timeline")
    first = timeline.locator("li").first
    assert "verdict: kept" in first.inner_text()
    assert "reviewer-ann" in first.inner_text()
    assert "Local reporting confirms" in first.inner_text()
    assert page.get_by_role("link", name="https://example.org/memphis-grid").is_visible()
    screenshot(page, "claim-resolved")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server + "/")
    assert page.get_by_role("link", name="Reviewer sign-in").is_visible()
    assert problems.all() == []


def test_script_in_a_title_renders_as_text(live_server, watched_page):
    page, problems = watched_page
    page.goto(live_server + "/claims/xss-probe")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == XSS_TITLE
    assert page.locator("blockquote.en").inner_text() == "<img src=x onerror=alert(2)>"
    assert page.locator("main script:not([type='application/json'])").count() == 0
    assert page.locator("main img").count() == 0
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name=XSS_TITLE).first.is_visible()
    assert problems.dialogs == []
    assert problems.all() == []


# every dashboard page a reader can reach: the seeded pages, and on a fresh install (the real
# claims, whose long claimant names once widened the /claims filter to 546 px) every page linked
# from the overview, the claim list and the pages they link, plus the states links do not reach
PHONE_PAGES = (
    "/",
    "/?as_of=2026-11-27",
    "/claims",
    "/claims?claimant=essay-author",
    "/claims/china-power-3x-us-2030",
    "/claims/china-power-3x-us-2030?as_of=2026-11-27",
    "/claimants/elon-musk",
    "/claimants/essay-author",
    "/indicators",
    "/login",
    "/claims/no-such-claim",
)
# same-origin dashboard links on a page (no API, docs, static files or fragments)
DASHBOARD_LINKS = """() => Array.from(document.querySelectorAll('a[href^="/"]'))
  .map(a => a.getAttribute('href').split('#')[0])
  .filter(h => h && !/^\\/(api|docs|redoc|static|openapi)/.test(h))"""
# the layout viewport's width, not innerWidth: with is_mobile, Chromium zooms out to fit a page
# too wide for the screen, and innerWidth grows with it (546 px for 546 px of content)
WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def _phone_page(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page, errors


def _overflow(page: Any, url: str) -> int | None:
    """The page's scroll width when it is wider than the 390 px screen, else None."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    scroll, screen = page.evaluate(WIDTHS)
    assert screen == 390
    return scroll if scroll > screen else None


def test_phone_width_layout(live_server, browser):
    context, page, errors = _phone_page(browser)
    too_wide = {}
    for path in PHONE_PAGES:
        # nothing wider than the screen: no horizontal scrolling of the page
        if (width := _overflow(page, live_server + path)) is not None:
            too_wide[path] = width
        if path in ("/", "/claims/china-power-3x-us-2030"):
            screenshot(page, "phone-overview" if path == "/" else "phone-claim")
    page.goto(live_server + "/claims/china-power-3x-us-2030")
    assert page.locator('blockquote[lang="ja"]').is_visible()
    context.close()
    assert too_wide == {}
    assert [e for e in errors if "404" not in e] == []


def test_no_dashboard_page_is_wider_than_a_phone_on_a_fresh_install(fresh_install_server, browser):
    context, page, errors = _phone_page(browser)
    base = fresh_install_server
    queue = list(PHONE_PAGES)
    seen: set[str] = set()
    too_wide = {}
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if (width := _overflow(page, base + path)) is not None:
            too_wide[path] = width
        if path in ("/", "/claims"):  # and one level further: the claims and claimants
            queue += page.evaluate(DASHBOARD_LINKS)
        if path == "/claims":
            screenshot(page, "phone-claims-fresh-install")
    assert {"/claims/china-power-3x-us-2026", "/claimants/essay-author"} <= seen
    assert len([p for p in seen if p.startswith("/claims/")]) >= 14
    context.close()
    assert too_wide == {}
    assert [e for e in errors if "404" not in e] == []
