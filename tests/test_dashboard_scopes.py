"""Sign-in accepts any valid token and each page or action checks the scope it needs (issue 15,
item 5): with TRACKER_REQUIRE_TOKEN_FOR_READS a read-only token reads the pages; verdicts and
quarantine reviews need `resolve`; /webhooks needs `subscriptions`; a signed-in user without
the scope gets a 403 page naming it. TestClient, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, seed_essay
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_dashboard import csrf_of, make_token, sign_in

from tracker.config import Settings
from tracker.models import Resolution
from tracker.web.app import create_app

READ_PAGES = ["/", "/claims", "/indicators", "/track-record"]


@pytest.fixture
def slugs(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = seed_essay(session)
        session.commit()
        return {k: str(getattr(v, "slug", "")) for k, v in rows.items()}


@pytest.fixture
def locked(settings: Settings, engine: Engine, slugs: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"require_token_for_reads": True}), engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        yield client


def _a_claim(client: TestClient) -> str:
    html = client.get("/claims").text
    start = html.index('href="/claims/') + len('href="/claims/')
    return html[start : html.index('"', start)]


def test_a_read_only_token_signs_in_and_reads_every_page(
    locked: TestClient, engine: Engine
) -> None:
    for page in READ_PAGES:  # signed out: sent to sign in
        r = locked.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    sign_in(locked, make_token(engine, name="reader"), "/claims")
    for page in READ_PAGES:
        r = locked.get(page)
        assert r.status_code == 200, page
        assert "Signed in as <strong>reader</strong>" in r.text
    claim = locked.get(f"/claims/{_a_claim(locked)}")
    assert claim.status_code == 200
    # the verdict form is not offered; the page says which scope is missing
    assert "lacks the <code>resolve</code> scope" in claim.text
    assert "/resolve" not in claim.text
    # operator details of /indicators stay with reviewers (resolve), as before
    assert 'id="operator-hint"' in locked.get("/indicators").text
    # and the webhooks page is not theirs: 403 naming the scope
    hooks = locked.get("/webhooks")
    assert hooks.status_code == 403
    assert "lacks the <code>subscriptions</code> scope" in hooks.text
    assert "Sign in with a token that has <code>subscriptions</code>" in hooks.text


def test_a_verdict_needs_the_resolve_scope(locked: TestClient, engine: Engine) -> None:
    sign_in(locked, make_token(engine, "subscriptions", name="hooks-only"), "/")
    slug = _a_claim(locked)
    page = locked.get(f"/claims/{slug}")
    r = locked.post(
        f"/claims/{slug}/resolve",
        data={
            "outcome": "true",
            "rationale": "it happened",
            "csrf_token": csrf_of(page.text),
            "step": "record",
        },
    )
    assert r.status_code == 403
    assert "Nothing was recorded" in r.text
    assert "(hooks-only) lacks the <code>resolve</code> scope" in r.text
    assert "it happened" in r.text  # what was typed is kept, in the form to sign in again
    with Session(engine) as session:
        assert (
            session.exec(select(Resolution).where(Resolution.decided_by == "hooks-only")).all()
            == []
        )
    # a quarantine review is a reviewer's action too
    q = locked.post(
        "/indicators/x/quarantine",
        data={
            "fetch_run_id": "1",
            "decision": "accept",
            "reason": "fine",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert q.status_code == 403 and "lacks the <code>resolve</code> scope" in q.text


def test_resolve_and_subscriptions_each_open_their_own_pages(
    locked: TestClient, engine: Engine
) -> None:
    sign_in(locked, make_token(engine, "resolve", name="reviewer"), "/")
    slug = _a_claim(locked)
    assert f'action="/claims/{slug}/resolve"' in locked.get(f"/claims/{slug}").text
    assert 'id="operator-hint"' not in locked.get("/indicators").text
    assert locked.get("/webhooks").status_code == 403
    assert 'href="/webhooks"' not in locked.get("/").text  # the nav link is for subscriptions
    locked.cookies.clear()
    sign_in(locked, make_token(engine, "subscriptions", name="hooks"), "/webhooks")
    r = locked.get("/webhooks")
    assert r.status_code == 200 and "New subscription" in r.text
    assert 'href="/webhooks"' in r.text


def test_without_read_protection_sign_in_still_takes_any_token(
    settings: Settings, engine: Engine, slugs: dict[str, str]
) -> None:
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        assert client.get("/claims").status_code == 200  # reads are public
        sign_in(client, make_token(engine, name="reader"), "/")
        assert "Signed in as <strong>reader</strong>" in client.get("/").text
