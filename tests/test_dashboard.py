"""Dashboard pages rendered in-process (TestClient): content, escaping, filters, sign-in, CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, XSS_TITLE, seed_essay
from fastapi.testclient import TestClient
from sqlmodel import Session

from tracker import auth
from tracker.web.app import create_app


@pytest.fixture
def seeded(engine):
    with Session(engine) as session:
        rows = seed_essay(session)
        session.commit()
        return {k: getattr(v, "slug", None) or getattr(v, "id", None) for k, v in rows.items()}


@pytest.fixture
def client(settings, engine, seeded) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as c:
        yield c


def make_token(engine, *scopes: str, name: str = "reviewer-ann") -> str:
    with Session(engine) as session:
        issued = auth.create_token(session, name, list(scopes), now=NOW)
        session.commit()
        return issued.plaintext


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def test_overview_shows_counts_deadlines_queue_changes_and_health(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert '<meta name="viewport"' in html
    # next deadline with a countdown: agi-2026 is 33 days after 2026-11-28
    assert "AGI arrives in 2026" in html
    assert re.search(r"<strong>33</strong> days", html)
    # review queue
    assert "Colossus 2 waited a year for the grid" in html
    assert "data expected 2027-02-01" in html
    # data health: the failing FRED indicator, flagged
    assert "Copper price (FRED)" in html and "last fetch failed" in html
    # the Japanese quote, marked as Japanese
    assert '<div class="q" lang="ja">2030年には中国の電力生産量が米国の3倍になる</div>' in html
    assert "Content-Security-Policy" in r.headers


def test_script_title_is_escaped_everywhere(client):
    for path in ("/", "/claims", "/claims/xss-probe", "/claimants/essay-author"):
        html = client.get(path).text
        assert XSS_TITLE not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    page = client.get("/claims/xss-probe").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<b>not bold</b>" not in page


def test_claim_page_content(client):
    r = client.get("/claims/china-power-3x-us-2030")
    assert r.status_code == 200
    html = r.text
    assert 'lang="ja"' in html and "2030年には中国の電力生産量が米国の3倍になる" in html
    assert "By 2030 China" in html
    assert (
        "ratio of China electricity generation to United States electricity generation in 2030 ≥ 3"
        in html
    )
    assert "off track" in html and "needs +5.08 %/yr" in html
    assert 'role="img"' in html and 'aria-label="Chart of ratio of China' in html
    assert "projected 2.9 for 2030 (range 2.7 to 3.1)" in html
    assert "deadline 2030-12-31" in html
    # revised 2025 value shown as a superseded vintage in the table fallback
    assert 'class="superseded"><td>2025</td><td>2.301' in html
    assert "c0ffee" + "0" * 58 in html
    assert "https://ourworldindata.org/grapher/electricity-generation.csv" in html
    # timeline holds both evaluations, newest first
    assert html.index("projected 2.9") < html.index(
        "Ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030.</span>"
    )


def test_unknown_claim_is_404(client):
    r = client.get("/claims/nope")
    assert r.status_code == 404 and "There is no claim" in r.text
