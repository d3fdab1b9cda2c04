"""axe-core (vendored from its npm package: tests/fixtures/axe-core/PROVENANCE.md) on every page
type, at a laptop's and a phone's width: zero violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_seed import NOW
from sqlmodel import Session

from tracker import auth

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe-core" / "axe.min.js"
WIDTHS = [(1280, 900), (390, 844)]
PUBLIC_PAGES = [
    "/",
    "/?as_of=2026-11-28",
    "/claims",
    "/claims?trend=bogus",  # the 422 page of the list
    "/claims/china-power-3x-us-2030",  # a hard claim: chart, projection, evidence
    "/claims/agi-2026",  # a judged claim with a context signal
    "/claims/agi-2026?as_of=2026-11-28",  # a replay
    "/claimants/elon-musk",
    "/indicators",
    "/track-record",
    "/login",
    "/no-such-page",  # the HTML 404
]
# operator details; the writer's forms; webhook management (the verdict form: below)
SIGNED_IN_PAGES = ["/indicators", "/claims/new", "/indicators/new", "/webhooks"]


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


def test_every_page_type_has_no_axe_violations_at_both_widths(live_server, engine, browser):
    with Session(engine) as session:
        scopes = ["resolve", "claims:write", "subscriptions"]
        token = auth.create_token(session, "reviewer-ann", scopes, now=NOW).plaintext
        session.commit()
    found: dict[str, list[str]] = {}
    for width, height in WIDTHS:
        # CSP forbids inline scripts: the test's own injection of axe bypasses it, nothing else
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        for path in PUBLIC_PAGES:
            page.goto(live_server + path)
            page.wait_for_load_state("load")  # charts draw synchronously once scripts ran
            found[f"{width}px {path}"] = _violations(page)
        page.goto(f"{live_server}/login")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server + "/")
        for path in SIGNED_IN_PAGES:
            page.goto(live_server + path)
            page.wait_for_load_state("load")  # charts draw synchronously once scripts ran
            found[f"{width}px signed in {path}"] = _violations(page)
        # the verdict's confirmation and a refused verdict
        page.goto(f"{live_server}/claims/agi-2026")
        page.get_by_role("radio", name="not kept").check()
        page.get_by_label("Rationale").fill("The claimant conceded in public.")
        page.get_by_label("Note", exact=False).fill(" ")
        page.get_by_role("button", name="Review the verdict").click()
        page.wait_for_load_state()
        found[f"{width}px refused verdict"] = _violations(page)
        page.get_by_role("radio", name="not kept").check()
        page.get_by_label("Note", exact=False).fill("conceded on 2026-11-27")
        page.get_by_role("button", name="Review the verdict").click()
        page.wait_for_load_state()
        assert page.get_by_role("button", name="Record verdict as reviewer-ann").is_visible()
        found[f"{width}px verdict confirmation"] = _violations(page)
        context.close()
    failing = {where: v for where, v in found.items() if v}
    assert failing == {}
