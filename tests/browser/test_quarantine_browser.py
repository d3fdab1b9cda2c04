"""A quarantined vintage in Chromium: the data-health page and the claim's evidence panel show it
(and fit a phone), and a reviewer signs in from the page and accepts it with a reason.

The shipped china-power-3x-us-2030 claim, OWID's recorded payload and the issue's damaged body
through the real ingest; the real app under uvicorn; Debian's Chromium.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import screenshot, serve
from dashboard_seed import clocked_app
from quarantine_support import CHN, CLAIM, ShapedUpstream, copy_claims, sync_shipped
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_quarantine import DAMAGED, T0, T1, fetch

from tracker import auth
from tracker.models import QuarantineDecision

pytestmark = pytest.mark.browser

NOW = T1 + dt.timedelta(days=1)
WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture
def server(settings, engine: Engine, tmp_path) -> Iterator[tuple[str, int]]:
    sync_shipped(engine, copy_claims(tmp_path / "claims"), T0 - dt.timedelta(days=1))
    upstream = ShapedUpstream()
    for key in (CHN, "owid.electricity_generation.usa"):
        assert fetch_key(engine, settings, upstream, key, T0).ok
    upstream.csv_for["CHN"] = DAMAGED
    run = fetch(engine, settings, upstream, T1).fetch
    assert run.quarantined
    with serve(clocked_app(settings, engine, NOW)) as url:
        yield url, run.fetch_run_id


def fetch_key(engine, settings, upstream, key, now):
    from tracker.pipeline import refresh_indicator

    http = upstream.fetcher(settings, http_max_retries=0)
    return refresh_indicator(engine, http, key, trigger="test", now=now).fetch


@pytest.mark.parametrize("width", [1280, 390])
def test_the_held_back_vintage_shows_and_fits(server, browser, width: int) -> None:
    base, run_id = server
    context = browser.new_context(
        viewport={"width": width, "height": 900}, is_mobile=width < 500, device_scale_factor=1
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/indicators")
    row = page.locator(f'[id="quarantine-{CHN}"]')
    assert "'China,CHN,2025,10'" in row.inner_text()
    assert row.locator("table.held-back td").all_inner_texts() == ["2025", "10.0", "10,583"]
    scroll, inner = page.evaluate(WIDTHS)
    assert scroll <= inner, (width, scroll, inner)
    screenshot(page, f"quarantine-indicators-{width}")
    page.goto(f"{base}/claims/{CLAIM}")
    held = page.locator(f'[id="run-{run_id}"]')
    assert "held back, not used" in held.inner_text()
    scroll, inner = page.evaluate(WIDTHS)
    assert scroll <= inner, (width, scroll, inner)
    screenshot(page, f"quarantine-claim-{width}")
    assert errors == []
    context.close()


def test_a_reviewer_signs_in_from_the_page_and_accepts(
    server, engine: Engine, watched_page: Any
) -> None:
    base, run_id = server
    page, problems = watched_page
    with Session(engine) as session:
        token = auth.create_token(session, "reviewer-ann", ["resolve"], now=T0).plaintext
        session.commit()
    page.goto(f"{base}/indicators")
    page.locator(f'[id="quarantine-{CHN}"]').get_by_role(
        "link", name="Sign in as a reviewer"
    ).click()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/indicators*")
    row = page.locator(f'[id="quarantine-{CHN}"]')
    row.get_by_label("Why (kept with the decision)").fill("Ember's release says 10 TWh <b>x</b>")
    row.get_by_role("button", name="Accept as reviewer-ann: use these values").click()
    page.wait_for_url(f"**/indicators#ind-{CHN}")
    assert page.locator(f'[id="quarantine-{CHN}"]').count() == 0
    with Session(engine) as session:
        decision = session.exec(
            select(QuarantineDecision).order_by(col(QuarantineDecision.id).desc())
        ).first()
        assert decision is not None
        assert (
            decision.fetch_run_id,
            decision.action,
            decision.decided_by,
            decision.decided_at,
        ) == (
            run_id,
            "accepted",
            "reviewer-ann",
            NOW,
        )
        assert decision.reason == "Ember's release says 10 TWh <b>x</b>"
    page.goto(f"{base}/claims/{CLAIM}")
    text = page.locator(f'[id="run-{run_id}"]').inner_text()
    assert "accepted" in text and "by reviewer-ann: Ember's release says 10 TWh <b>x</b>" in text
    assert page.locator("main b").count() == 0  # the reason stayed text
    screenshot(page, "quarantine-accepted-claim")
    assert problems.all() == []
