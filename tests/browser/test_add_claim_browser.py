"""A writer adds a new World Bank indicator and then a claim on it entirely through the web
forms (/indicators/new, /claims/new), against the recorded World Bank payload served to the
app's HttpFetcher over httpx.MockTransport; axe-core finds no violation on either page (form,
refused, checked) at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import serve
from dashboard_seed import NOW, clocked_app
from sqlmodel import Session, select
from test_http_support import fixture_bytes, make_fetcher

from tracker import auth
from tracker.models import Claim, Indicator

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe-core" / "axe.min.js"
WIDTHS = [(1280, 900), (390, 844)]
SAMPLE = "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
KEY = "worldbank.population.chn-declared"
SLUG = "china-population-below-1-3bn-2030"
CRITERIA = f"""- key: population-2030
  type: threshold
  description: China's population in 2030 is below 1.3 billion.
  series: {{indicator: {KEY}}}
  comparator: "<"
  threshold: 1300000000
  unit: persons
  mode: at_period
  period: "2030"
"""


def _violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in result
    ]


def _axe_both_widths(page: Any, name: str, found: dict[str, list[str]]) -> None:
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        found[f"{width}px {name}"] = _violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_indicator_then_claim_added_through_the_web_forms(settings, essay_engine, browser):
    with Session(essay_engine) as session:
        token = auth.create_token(session, "writer-wu", ["claims:write"], now=NOW).plaintext
        session.commit()
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(SAMPLE)), settings
    )
    app = clocked_app(settings, essay_engine)
    app.state.source_http = fetcher
    found: dict[str, list[str]] = {}
    with serve(app) as base:
        # CSP forbids inline scripts: the test's own injection of axe bypasses it, nothing else
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{base}/login?next=/indicators/new")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/indicators/new")

        page.get_by_label("Source of the series").select_option("worldbank")
        page.get_by_role("button", name="Show its series fields").click()
        page.wait_for_url("**/indicators/new?source=worldbank")
        _axe_both_widths(page, "indicator form", found)

        page.get_by_label("World Bank indicator").fill("SP.POP.TOTL")
        page.get_by_label("Key").fill(KEY)
        page.get_by_label("Title").fill("Population, China (declared in the form)")
        page.get_by_label("Unit").fill("persons")
        page.get_by_label("Publication lag (days)").fill("190")
        page.get_by_role("button", name="Check (fetch once, save nothing)").click()
        page.wait_for_load_state()
        # the missing country: its error beside the field, and the field focused
        country = page.get_by_label("Country")
        assert "Country is required" in page.locator("#param_country-error").inner_text()
        assert page.evaluate("document.activeElement.id") == "param_country"
        assert country.get_attribute("aria-invalid") == "true"
        _axe_both_widths(page, "refused indicator", found)
        assert seen == []  # nothing fetched for an invalid declaration

        country.fill("CHN")
        page.get_by_role("button", name="Check (fetch once, save nothing)").click()
        page.wait_for_load_state()
        result = page.locator("#fetch-result").inner_text()
        assert "10 values" in result and "(2015)" in result and "(2024)" in result
        assert "persons" in result
        assert f"key: {KEY}" in page.locator("pre.stored").inner_text()
        assert seen[0].url.path == "/v2/country/CHN/indicator/SP.POP.TOTL"
        _axe_both_widths(page, "checked indicator", found)
        with Session(essay_engine) as session:  # a check stores nothing
            assert session.exec(select(Indicator).where(Indicator.key == KEY)).first() is None

        page.get_by_role("button", name="Save the indicator").click()
        page.wait_for_url(f"**/claims/new?indicator={KEY}")
        assert KEY in page.get_by_role("status").inner_text()
        assert KEY in page.get_by_label("Criteria (YAML, as in a claim file)").input_value()
        _axe_both_widths(page, "claim form", found)

        page.get_by_label("Slug").fill(SLUG)
        page.get_by_label("Title").fill("China's population falls below 1.3 billion by 2030")
        page.get_by_label("Claimant").select_option("elon-musk")
        page.get_by_label("Quote in the original language").fill(
            "China's population will be under 1.3bn in 2030."
        )
        page.get_by_label("Quote in English").fill(
            "China's population will be under 1.3bn in 2030."
        )
        page.get_by_label("Stated on").fill("2026-01-06")
        page.get_by_label("Deadline").fill("2030-12-31")
        page.get_by_label("Criteria (YAML, as in a claim file)").fill(
            CRITERIA.replace("threshold: 1300000000", "threshold: lots")
        )
        page.get_by_role("button", name="Check (dry run, save nothing)").click()
        page.wait_for_load_state()
        assert "threshold" in page.locator("#criteria-error").inner_text()
        assert page.evaluate("document.activeElement.id") == "criteria"
        _axe_both_widths(page, "refused claim", found)

        page.get_by_label("Criteria (YAML, as in a claim file)").fill(CRITERIA)
        page.get_by_role("button", name="Check (dry run, save nothing)").click()
        page.wait_for_load_state()
        stored = page.locator("pre.stored").inner_text()
        assert f"slug: {SLUG}" in stored and f"indicator: {KEY}" in stored
        assert "Status it would have now" in page.locator("#dry-run-status").inner_text()
        assert KEY in page.locator(".dry-run-indicators").inner_text()
        _axe_both_widths(page, "checked claim", found)
        with Session(essay_engine) as session:
            assert session.exec(select(Claim).where(Claim.slug == SLUG)).first() is None

        page.get_by_role("button", name="Save the claim").click()
        page.wait_for_url(f"{base}/claims/{SLUG}")
        assert "1.3 billion" in page.get_by_role("heading", level=1).inner_text()
        context.close()
    with Session(essay_engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == SLUG)).one()
        assert claim.origin == "api"
        assert session.exec(select(Indicator.origin).where(Indicator.key == KEY)).one() == "api"
    assert {k: v for k, v in found.items() if v} == {}
