"""Dashboard pages rendered in-process (TestClient): content, escaping, filters, sign-in, CSRF."""

from __future__ import annotations

import datetime as dt
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
        "ratio of China electricity generation to United States electricity generation "
        "in 2030 ≥ 3.0" in html
    )
    assert "off track" in html and "needs +5.08 %/yr" in html
    assert 'role="img"' in html and 'aria-label="Chart of ratio of China' in html
    assert "projected 2.9 for 2030 (range 2.7 to 3.1)" in html
    assert "deadline 2030-12-31" in html
    # revised 2025 value shown as a superseded vintage in the table fallback
    assert 'class="superseded"><td>2025</td><td>2.3<' in html
    assert "c0ffee" + "0" * 58 in html
    assert "https://ourworldindata.org/grapher/electricity-generation.csv" in html
    # timeline holds both evaluations, newest first
    assert html.index("projected 2.9") < html.index(
        "Ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030.</span>"
    )


def test_unknown_claim_is_404(client):
    r = client.get("/claims/nope")
    assert r.status_code == 404 and "There is no claim" in r.text


def sign_in(client: TestClient, token: str, next_path: str = "/") -> TestClient:
    csrf = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"token": token, "csrf_token": csrf, "next": next_path},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == next_path
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    return client


def test_login_rejects_unknown_malformed_and_revoked_tokens(client, engine):
    csrf = csrf_of(client.get("/login").text)
    for bad in ("nonsense", "trk_deadbeef_" + "x" * 43):
        r = client.post("/login", data={"token": bad, "csrf_token": csrf})
        assert r.status_code == 401
        assert "not valid" in r.text
        assert "Signed in as" not in r.text
    token = make_token(engine, "resolve", name="gone")
    with Session(engine) as session:
        auth.revoke_tokens(session, "gone", now=NOW)
        session.commit()
    r = client.post("/login", data={"token": token, "csrf_token": csrf})
    assert r.status_code == 401


def test_login_takes_any_valid_token_but_a_verdict_needs_resolve(client, engine, seeded):
    token = make_token(engine, "claims:write", name="writer")
    sign_in(client, token)
    assert "Signed in as <strong>writer</strong>" in client.get("/").text
    page = client.get(f"/claims/{seeded['agi']}")
    assert "lacks the <code>resolve</code> scope" in page.text
    assert "`" not in page.text  # a message's code spans are markup, not literal backticks


def test_login_and_logout_need_the_csrf_token(client, engine):
    token = make_token(engine, "resolve")
    client.get("/login")
    assert client.post("/login", data={"token": token}).status_code == 403
    assert client.post("/login", data={"token": token, "csrf_token": "forged"}).status_code == 403
    sign_in(client, token)
    assert client.post("/logout", data={}).status_code == 403
    assert "Signed in as" in client.get("/").text
    csrf = csrf_of(client.get("/").text)
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "Signed in as" not in client.get("/").text


def test_login_redirect_stays_on_this_site(client, engine):
    token = make_token(engine, "resolve")
    csrf = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"token": token, "csrf_token": csrf, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_tampered_session_cookie_is_ignored(client, engine):
    sign_in(client, make_token(engine, "resolve"))
    value = client.cookies.get("tracker_session")
    body, _, mac = value.partition(".")
    client.cookies.set("tracker_session", body + "A." + mac)
    html = client.get("/").text
    assert "Signed in as" not in html


def test_resolve_form_needs_csrf_and_a_signed_in_reviewer(client, engine):
    data = {"outcome": "true", "rationale": "Colossus 2 waited a year."}
    # anonymous, with a valid CSRF token of an anonymous session
    csrf = csrf_of(client.get("/login").text)
    r = client.post(
        "/claims/colossus2-grid-wait-one-year/resolve", data={**data, "csrf_token": csrf}
    )
    assert r.status_code == 403
    sign_in(client, make_token(engine, "resolve"))
    assert client.post("/claims/colossus2-grid-wait-one-year/resolve", data=data).status_code == 403
    r = client.post(
        "/claims/colossus2-grid-wait-one-year/resolve", data={**data, "csrf_token": "wrong"}
    )
    assert r.status_code == 403
    with Session(engine) as session:
        from sqlmodel import select

        from tracker.models import Resolution

        assert len(session.exec(select(Resolution)).all()) == 1  # only the seeded automatic one


def test_signed_in_reviewer_sees_the_form_and_revocation_ends_it(client, engine):
    token = make_token(engine, "resolve", name="reviewer-ann")
    sign_in(client, token)
    page = client.get("/claims/colossus2-grid-wait-one-year").text
    assert "Signed in as <strong>reviewer-ann</strong>" in page
    assert 'action="/claims/colossus2-grid-wait-one-year/resolve"' in page
    assert '<label for="rationale">Rationale</label>' in page
    with Session(engine) as session:
        auth.revoke_tokens(session, "reviewer-ann", now=NOW)
        session.commit()
    csrf = csrf_of(page)
    r = client.post(
        "/claims/colossus2-grid-wait-one-year/resolve",
        data={"outcome": "true", "rationale": "x" * 10, "csrf_token": csrf},
    )
    assert r.status_code == 403


def test_claim_list_filters_and_search(client):
    def slugs(query: str) -> set[str]:
        html = client.get("/claims" + query).text
        return set(re.findall(r'<div class="slug">([a-z0-9-]+)</div>', html))

    everything = slugs("")
    assert len(everything) == 6
    assert slugs("?state=needs_review") == {"colossus2-grid-wait-one-year"}
    assert slugs("?tag=energy") == {"china-power-3x-us-2030", "old-claim-resolved"}
    assert slugs("?claimant=essay-author") == {
        "medical-boom-2025",
        "old-claim-resolved",
        "xss-probe",
    }
    assert slugs("?q=AGI") == {"agi-2026"}
    assert slugs("?q=power-3x") == {"china-power-3x-us-2030"}
    assert slugs("?state=open&claimant=elon-musk") == {"agi-2026", "china-power-3x-us-2030"}
    assert slugs("?q=%25") == set()  # a LIKE wildcard is searched for literally


def test_claimant_page_shows_the_track_record(client):
    html = client.get("/claimants/essay-author").text
    assert "<dt>Kept</dt><dd>1</dd>" in html
    assert "<dt>Share kept</dt><dd>100 %</dd>" in html
    assert "Medical approvals boom in 2025" in html
    assert client.get("/claimants/nobody").status_code == 404


def test_indicators_page_flags_failing_and_stale(client, engine):
    from sqlmodel import select

    from tracker.models import Indicator

    with Session(engine) as session:  # tracked for 3 days, never fetched successfully
        copper = session.exec(select(Indicator).where(Indicator.key == "fred.copper")).one()
        copper.created_at = NOW - dt.timedelta(days=3)
        session.add(copper)
        session.commit()
    html = client.get("/indicators").text
    row = html[html.index('id="ind-fred.copper"') :]
    row, error_row = row.split("</tr>")[:2]
    assert "failing" in row and "stale" in row
    # the error text has a full-width row of its own under the indicator's row
    assert '<tr class="error-row"><td colspan="5"' in error_row
    assert "HTTP 503 from upstream" in error_row and "<details" in error_row
    fresh = html[html.index('id="ind-owid.electricity_generation.china"') :]
    fresh = fresh[: fresh.index("</tr>")]
    assert "fresh" in fresh and "stale" not in fresh


def test_staleness_follows_the_injected_clock(settings, engine, seeded):
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW + dt.timedelta(days=3)
    with TestClient(app) as c:
        html = c.get("/indicators").text
    fresh = html[html.index('id="ind-owid.electricity_generation.china"') :]
    assert "stale" in fresh[: fresh.index("</tr>")]


def test_reviewer_resolves_a_judged_claim_and_then_overrides_it(client, engine):
    sign_in(client, make_token(engine, "resolve", name="reviewer-ann"))
    slug = "colossus2-grid-wait-one-year"
    csrf = csrf_of(client.get(f"/claims/{slug}").text)
    r = client.post(
        f"/claims/{slug}/resolve",
        data={
            "outcome": "true",
            "rationale": "Reports confirm about a year <b>of waiting</b>.",
            "evidence": "https://example.org/report\nhttps://example.org/other",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/claims/{slug}#timeline"
    page = client.get(f"/claims/{slug}").text
    timeline = page[page.index('id="timeline"') : page.index('id="resolutions"')]
    assert "verdict: kept" in timeline and "reviewer-ann" in timeline
    assert "&lt;b&gt;of waiting&lt;/b&gt;" in timeline
    assert '<a href="https://example.org/report" rel="nofollow noopener">' in page
    # overriding needs a note; the first verdict stays, marked superseded
    csrf = csrf_of(page)
    data = {
        "outcome": "partial",
        "rationale": "Part of the capacity came earlier.",
        "csrf_token": csrf,
    }
    r = client.post(f"/claims/{slug}/resolve", data=data)
    assert r.status_code == 422 and "say in the note why you override" in r.text
    r = client.post(
        f"/claims/{slug}/resolve",
        data={**data, "note": "New filing shows phase 1 came in 8 months."},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/claims/{slug}").text
    assert "superseded by a later verdict" in page
    assert "verdict: partly kept" in page and "verdict: kept" in page
    assert "overrides an earlier verdict" in page  # the new one is marked as overriding
    with Session(engine) as session:
        from sqlmodel import select

        from tracker.models import Claim, Resolution

        claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
        rows = session.exec(select(Resolution).where(Resolution.claim_id == claim.id)).all()
        assert sorted(r.outcome for r in rows) == ["partial", "true"]
        assert all(r.decided_by == "reviewer-ann" for r in rows)


def test_resolve_form_rejects_bad_input_without_storing(client, engine):
    sign_in(client, make_token(engine, "resolve"))
    slug = "agi-2026"
    csrf = csrf_of(client.get(f"/claims/{slug}").text)
    r = client.post(
        f"/claims/{slug}/resolve",
        data={
            "outcome": "maybe",
            "rationale": "",
            "evidence": "javascript:alert(1)",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422
    assert "Choose an outcome." in r.text and "Write a rationale" in r.text
    assert "not: javascript:alert(1)" in r.text
    assert 'href="javascript:' not in r.text
    assert "No verdict yet." in client.get(f"/claims/{slug}").text


def test_search_matches_quotes_in_japanese_and_english(client):
    html = client.get("/claims", params={"q": "電力生産量"}).text
    assert set(re.findall(r'<div class="slug">([a-z0-9-]+)</div>', html)) == {
        "china-power-3x-us-2030"
    }
    html = client.get("/claims", params={"q": "three times"}).text
    assert set(re.findall(r'<div class="slug">([a-z0-9-]+)</div>', html)) == {
        "china-power-3x-us-2030"
    }
    assert 'value="three times"' in html


def test_claim_list_pages_with_a_cursor(client, engine):
    from dashboard_seed import make_claim, make_claimant

    with Session(engine) as session:
        someone = make_claimant(session, "someone", "Someone")
        for i in range(60):
            make_claim(session, someone, f"bulk-{i:02d}", deadline=dt.date(2040, 1, 1))
        session.commit()
    first = client.get("/claims", params={"claimant": "someone"}).text
    assert first.count('<div class="slug">bulk-') == 50
    next_url = (
        re.search(r'<a href="(/claims\?[^"]+)">Next page', first).group(1).replace("&amp;", "&")
    )
    second = client.get(next_url).text
    assert second.count('<div class="slug">bulk-') == 10
    assert "Next page" not in second


def test_benchmark_script_runs_on_a_small_database():
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [
            sys.executable,
            str(root / "bench" / "bench_dashboard.py"),
            "--claims",
            "300",
            "--seconds",
            "1.0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=root,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["claims"] == 300 and result["page_size"] == 50
    assert result["overview_requests"] > 0 and result["json_list_requests"] > 0
    # The rates are printed to 0.1 req/s and the ratio to 0.001, so the printed ratio must lie
    # within what those roundings allow (a loaded machine can bring a rate down to ~0.1 req/s,
    # where the rounding alone moves the quotient by a third).
    overview, json_list = result["overview_rps"], result["json_list_rps"]
    low = max(overview - 0.05, 0.0) / (json_list + 0.05)
    high = (overview + 0.05) / max(json_list - 0.05, 1e-9)
    assert low - 0.0005 <= result["ratio_overview_to_json"] <= high + 0.0005


def test_overview_data_health_lists_failing_first_and_counts_the_rest(client, engine):
    from dashboard_seed import make_indicator

    with Session(engine) as session:
        for i in range(8):
            make_indicator(session, f"never.fetched.{i}", title=f"Never fetched {i}", unit="x")
        session.commit()
    html = client.get("/").text
    health = html[html.index('id="health-h"') : html.index('id="all-h"')]
    assert health.count("<li>") == 6
    assert health.index("Copper price (FRED)") < health.index("Never fetched")
    assert "and 3 more stale or failing indicators" in health  # 9 unhealthy, 6 shown


def test_csrf_refusal_is_a_readable_page(client, engine):
    client.get("/login")
    r = client.post("/login", data={"token": "x", "csrf_token": "forged"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "security token was missing or stale" in r.text
    # the sign-in form comes back with a fresh token that works
    token = make_token(engine, "resolve")
    r = client.post(
        "/login", data={"token": token, "csrf_token": csrf_of(r.text)}, follow_redirects=False
    )
    assert r.status_code == 303
