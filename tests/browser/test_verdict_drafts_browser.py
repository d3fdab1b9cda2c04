"""A reviewer's typed verdict in Chromium: it survives a server restart, a token revoked while
the form is open (signing in again from the form) and a stale form security token; nothing is
recorded until the form is sent again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import screenshot, serve
from dashboard_seed import NOW, REVIEW_SLUG, verdicts_on
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker import auth
from tracker.config import Settings
from tracker.db import make_engine
from tracker.web.app import create_app

pytestmark = pytest.mark.browser

SLUG = REVIEW_SLUG
RATIONALE = 'Local reporting confirms a wait of about a year </textarea><b>"bold"</b> & more'
EVIDENCE = "https://example.org/memphis-grid"


def _serve(settings: Settings, engine: Engine, port: int | None = None) -> Any:
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    return serve(app, port=port)


@pytest.fixture
def server(settings: Settings, essay_engine: Engine) -> Iterator[str]:
    with _serve(settings, essay_engine) as url:
        yield url


def _token(engine: Engine, name: str) -> str:
    with Session(engine) as session:
        issued = auth.create_token(session, name, ["resolve"], now=NOW)
        session.commit()
        return issued.plaintext


def _sign_in_and_fill(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/claims/{SLUG}")
    page.get_by_role("link", name="Sign in as a reviewer").click()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/claims/{SLUG}")
    page.get_by_role("radio", name="kept", exact=True).check()
    page.get_by_label("Rationale").fill(RATIONALE)
    page.get_by_label("Evidence links (one http(s) URL per line)").fill(EVIDENCE)


def _review_and_record(page: Any, who: str) -> None:
    """Press "Review the verdict"; on the confirmation (when the form was accepted), record it."""
    page.get_by_role("button", name="Review the verdict").click()
    page.wait_for_load_state()
    record = page.get_by_role("button", name=f"Record verdict as {who}")
    if record.count():
        record.click()


def _assert_still_typed(page: Any) -> None:
    assert page.get_by_role("radio", name="kept", exact=True).is_checked()
    assert page.get_by_label("Rationale").input_value() == RATIONALE
    assert page.get_by_label("Evidence links (one http(s) URL per line)").input_value() == EVIDENCE
    assert page.locator("main b").count() == 0  # the typed markup stayed text


def _only_the_refusal(problems: Any, base: str) -> None:
    """Nothing went wrong on the pages but the one refused submission (403, as it should)."""
    assert problems.bad_responses == [f"403 {base}/claims/{SLUG}/resolve"]
    assert problems.console_errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]
    assert problems.page_errors == problems.failed_requests == problems.dialogs == []


def test_a_restart_with_the_form_open_loses_nothing(
    settings: Settings, essay_engine: Engine, db_url: str, watched_page: Any
) -> None:
    page, problems = watched_page
    token = _token(essay_engine, "reviewer-ann")
    first = make_engine(db_url)
    try:
        with _serve(settings, first) as base:
            _sign_in_and_fill(page, base, token)
    finally:
        first.dispose()
    port = int(base.rsplit(":", 1)[1])
    second = make_engine(db_url)  # a new process: its own engine, the key from the database
    try:
        with _serve(settings, second, port=port):
            _review_and_record(page, "reviewer-ann")
            page.wait_for_url(f"**/claims/{SLUG}#timeline")
            assert page.get_by_text("Signed in as").is_visible()
    finally:
        second.dispose()
    assert verdicts_on(essay_engine)[-1].rationale == RATIONALE
    assert problems.all() == []


def test_a_revoked_token_keeps_the_text_and_signs_in_again_from_the_form(
    server: str, essay_engine: Engine, watched_page: Any
) -> None:
    page, problems = watched_page
    _sign_in_and_fill(page, server, _token(essay_engine, "temprev"))
    with Session(essay_engine) as session:
        auth.revoke_tokens(session, "temprev", now=NOW)
        session.commit()
    before = len(verdicts_on(essay_engine))
    _review_and_record(page, "temprev")
    alert = page.locator("#resolutions [role=alert]")
    assert "your sign-in is no longer valid: the token you signed in with (temprev) has been " in (
        alert.inner_text()
    )
    assert page.get_by_text("Signed in as").count() == 0
    _assert_still_typed(page)
    assert len(verdicts_on(essay_engine)) == before
    screenshot(page, "verdict-sign-in-again")

    page.get_by_label("API token with the resolve scope").fill(_token(essay_engine, "reviewer-bo"))
    page.get_by_role("button", name="Sign in and review the verdict").click()
    assert page.get_by_text("Signed in as reviewer-bo. Nothing is recorded yet").is_visible()
    _assert_still_typed(page)
    assert len(verdicts_on(essay_engine)) == before
    _review_and_record(page, "reviewer-bo")
    page.wait_for_url(f"**/claims/{SLUG}#timeline")
    assert "reviewer-bo" in page.locator("#timeline li").first.inner_text()
    assert verdicts_on(essay_engine)[-1].rationale == RATIONALE
    _only_the_refusal(problems, server)


def test_a_stale_form_token_gives_the_form_back_filled_in(
    server: str, essay_engine: Engine, watched_page: Any, browser: Any
) -> None:
    page, problems = watched_page
    token = _token(essay_engine, "reviewer-ann")
    _sign_in_and_fill(page, server, token)
    # another tab of the same browser signs out and in again: the open form's token is stale
    other = page.context.new_page()
    other.goto(server + "/")
    other.get_by_role("button", name="Sign out").click()
    other.goto(server + "/login")
    other.get_by_label("API token").fill(token)
    other.get_by_role("button", name="Sign in").click()
    other.wait_for_url(server + "/")
    other.close()
    before = len(verdicts_on(essay_engine))
    _review_and_record(page, "reviewer-ann")
    alert = page.locator("#resolutions [role=alert]")
    assert "Nothing was recorded: the form's security token was missing or stale." in (
        alert.inner_text()
    )
    _assert_still_typed(page)
    assert len(verdicts_on(essay_engine)) == before
    _review_and_record(page, "reviewer-ann")
    page.wait_for_url(f"**/claims/{SLUG}#timeline")
    assert verdicts_on(essay_engine)[-1].rationale == RATIONALE
    _only_the_refusal(problems, server)
