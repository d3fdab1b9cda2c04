"""Browser-test fixtures: the real app served by uvicorn on a free port, and headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by the CI script); without it these tests
skip with that reason. Screenshots go to test-artifacts/ at the repository root.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_support import serve
from dashboard_seed import NOW, clocked_app
from sqlmodel import Session

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import sync_claims_dir
from tracker.web.app import create_app

REPO_CLAIMS = Path(__file__).resolve().parents[2] / "claims"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture
def live_server(settings, essay_engine) -> Iterator[str]:
    """The seeded app (dashboard_seed.seed_essay), clock fixed at 2026-11-28 09:00 UTC."""
    with serve(clocked_app(settings, essay_engine)) as url:
        yield url


@pytest.fixture
def fresh_install_server(settings, engine) -> Iterator[str]:
    """A fresh install: the shipped claims (synced a day before), the bundled data (loaded an
    hour before) and one evaluation, clock fixed at 2026-11-28 09:00 UTC."""
    with Session(engine) as session:
        sync_claims_dir(session, REPO_CLAIMS, now=NOW - dt.timedelta(days=1))
        session.commit()
    assert all(s.ok for s in load_bundled(engine, now=NOW - dt.timedelta(hours=1)).loaded)
    with Session(engine) as session:
        status.evaluate_claims(session, now=NOW)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class PageProblems:
    """Everything that went wrong while a page was open: must stay empty."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return (
            self.console_errors
            + self.page_errors
            + self.failed_requests
            + self.bad_responses
            + self.dialogs
        )


@pytest.fixture
def watched_page(browser) -> Iterator[tuple[Any, PageProblems]]:
    """A fresh page (own cookies) whose errors, failed requests and dialogs are recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = PageProblems()
    page.on(
        "console",
        lambda m: problems.console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
    page.on(
        "requestfailed",
        lambda r: problems.failed_requests.append(f"{r.url}: {r.failure}"),
    )
    page.on(
        "response",
        lambda r: problems.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )

    def on_dialog(dialog: Any) -> None:
        problems.dialogs.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page, problems
    context.close()
