"""Managing a webhook subscription in Chromium (issue 17, item 1): signed in with a
`subscriptions` token, create one to an allowed local host, see its secret once and it listed,
delete it after the confirmation; axe finds nothing on the pages at 1280 px.

The real app under uvicorn (dashboard_seed's essay), Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import serve
from dashboard_seed import NOW, clocked_app
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_accessibility_browser import _violations

from tracker import auth

pytestmark = pytest.mark.browser
HOOK = "http://127.0.0.1:9/tracker-hook"


@pytest.fixture
def hooks_server(settings, essay_engine: Engine) -> Iterator[str]:
    tuned = settings.model_copy(update={"webhook_allowed_hosts": "127.0.0.1"})
    with serve(clocked_app(tuned, essay_engine)) as url:
        yield url


def test_create_see_and_delete_a_subscription(
    hooks_server: str, essay_engine: Engine, browser: Any
) -> None:
    with Session(essay_engine) as session:
        token = auth.create_token(session, "newsroom", ["subscriptions"], now=NOW).plaintext
        session.commit()
    base = hooks_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login?next=/webhooks")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/webhooks")
    assert _violations(page) == []
    page.get_by_label("Destination URL", exact=False).fill(HOOK)
    page.get_by_label("claim.resolved", exact=False).check()
    page.get_by_label("Tags").fill("ai")
    page.get_by_role("button", name="Create the subscription").click()
    page.wait_for_url(f"{base}/webhooks#secret")
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("whsec_")
    listed = page.locator("section.webhook")
    assert listed.count() == 1 and HOOK in listed.inner_text()
    assert "claim.resolved" in listed.inner_text() and "tags = ai" in listed.inner_text()
    assert _violations(page) == []
    page.get_by_role("link", name="Delete #1…").click()
    page.wait_for_url(f"{base}/webhooks/1/delete")
    assert _violations(page) == []
    page.get_by_role("button", name="Delete #1").click()
    page.wait_for_url(f"{base}/webhooks")
    assert page.locator("section.webhook").count() == 0
    assert "No subscriptions yet." in page.content() and secret not in page.content()
    assert errors == []
    context.close()
