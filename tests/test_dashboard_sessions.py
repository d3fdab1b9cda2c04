"""A reviewer's typed verdict survives a refused submission (stale CSRF token, revoked token,
expired sign-in) and nothing is recorded until a valid form is sent; a revoked token signs
nobody in, on any page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, REVIEW_SLUG, clocked_app, verdicts_on
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_dashboard import csrf_of, make_token, sign_in

from tracker import auth
from tracker.config import Settings
from tracker.web.dashboard import SESSION_COOKIE, SESSION_LIFETIME

SLUG = REVIEW_SLUG
PAGE = f"/claims/{SLUG}"
RATIONALE = (
    'Local reporting confirms a wait of about a year. </textarea><script>alert("x")</script>'
)
DRAFT = {
    "outcome": "true",
    "rationale": RATIONALE,
    "evidence": "https://example.org/memphis-grid\nhttps://example.org/tva",
    "note": 'checked "twice" & <b>again</b>',
}


@pytest.fixture
def client(settings: Settings, essay_engine: Engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        yield c


def _form(page: str) -> str:
    """The verdict form of a claim page (resolve or sign-in-again)."""
    match = re.search(
        r'<form method="post" action="[^"]*" class="stack resolve-form".*?</form>', page, re.S
    )
    assert match, "page has no verdict form"
    return match.group(0)


def assert_draft_kept(page: str) -> None:
    """The form holds exactly what was typed, escaped: nothing of it became markup."""
    form = _form(page)
    assert re.search(r'<input type="radio" id="outcome-true"[^>]* checked>', form)
    assert f'name="rationale" rows="4" required>\n{escape(RATIONALE)}</textarea>' in form
    assert "https://example.org/memphis-grid\nhttps://example.org/tva</textarea>" in form
    assert f'name="note" type="text" value="{escape(DRAFT["note"])}"' in form
    assert "<script>alert" not in page and "<b>again" not in page


def _sign_in_again_form(page: str) -> str:
    form = _form(page)
    assert 'action="/login"' in form
    assert '<input type="hidden" name="next" value="/claims/colossus2-grid-wait-one-year">' in form
    assert 'name="token" type="password"' in form
    return form


# --- a stale CSRF token ---


def test_a_stale_csrf_token_gives_the_form_back_filled_in_and_records_nothing(
    client: TestClient, essay_engine: Engine
) -> None:
    token = make_token(essay_engine, "resolve")
    sign_in(client, token)
    stale = csrf_of(client.get(PAGE).text)
    # signed out and in again (another tab): this session's token is new, the open form's stale
    client.post("/logout", data={"csrf_token": stale})
    sign_in(client, token)
    before = len(verdicts_on(essay_engine))
    r = client.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": stale})
    assert r.status_code == 403
    assert len(verdicts_on(essay_engine)) == before
    assert "Nothing was recorded: the form&#39;s security token was missing or stale." in r.text
    assert "Signed in as <strong>reviewer-ann</strong>" in r.text
    form = _form(r.text)
    assert f'action="{PAGE}/resolve"' in form
    assert_draft_kept(r.text)
    fresh = csrf_of(form)
    assert fresh != stale
    # no CSRF token at all: refused the same way
    r2 = client.post(f"{PAGE}/resolve", data=DRAFT)
    assert r2.status_code == 403 and len(verdicts_on(essay_engine)) == before
    # the form as given back records the verdict
    r = client.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": fresh}, follow_redirects=False)
    assert r.status_code == 303
    verdicts = verdicts_on(essay_engine)
    assert len(verdicts) == before + 1
    assert verdicts[-1].rationale.startswith(RATIONALE)
    assert verdicts[-1].decided_by == "reviewer-ann"
    assert verdicts[-1].evidence == ["https://example.org/memphis-grid", "https://example.org/tva"]


def test_another_site_posting_gets_no_form_filled_with_its_text(
    client: TestClient, essay_engine: Engine
) -> None:
    sign_in(client, make_token(essay_engine, "resolve"))
    before = len(verdicts_on(essay_engine))
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        r = client.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": "forged"}, headers=headers)
        assert r.status_code == 403
        assert "security token was missing or stale" in r.text
        assert "Local reporting confirms" not in r.text and "resolve-form" not in r.text
    # our own page, as the browser says it: the form comes back
    r = client.post(
        f"{PAGE}/resolve",
        data={**DRAFT, "csrf_token": "forged"},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    )
    assert r.status_code == 403
    assert_draft_kept(r.text)
    assert len(verdicts_on(essay_engine)) == before


# --- a sign-in that ended ---


def test_a_revoked_token_says_so_keeps_the_text_and_signs_in_again_with_it(
    client: TestClient, essay_engine: Engine
) -> None:
    sign_in(client, make_token(essay_engine, "resolve", name="temprev"))
    csrf = csrf_of(client.get(PAGE).text)
    with Session(essay_engine) as session:
        auth.revoke_tokens(session, "temprev", now=NOW)
        session.commit()
    before = len(verdicts_on(essay_engine))
    r = client.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": csrf})
    assert r.status_code == 403
    assert len(verdicts_on(essay_engine)) == before
    assert (
        "Nothing was recorded: your sign-in is no longer valid: the token you signed in with "
        "(temprev) has been revoked. Sign in again below; what you typed is kept."
    ) in r.text
    assert "Signed in as" not in r.text
    assert "lacks" not in r.text  # it was revoked; its scope was never the problem
    assert "`" not in r.text
    assert f'href="/login?next=/claims/{SLUG}"' in r.text  # the plain sign-in link returns
    assert_draft_kept(r.text)
    form = _sign_in_again_form(r.text)

    # a wrong token: still not signed in, the text still there, nothing recorded
    r = client.post(
        "/login",
        data={
            **DRAFT,
            "token": "trk_00000000_" + "A" * 43,
            "csrf_token": csrf_of(form),
            "next": PAGE,
        },
    )
    assert r.status_code == 401
    assert "that token is not valid" in r.text
    assert_draft_kept(r.text)
    # a new token: signed in, the form filled in, still nothing recorded until it is sent
    token = make_token(essay_engine, "resolve", name="reviewer-bo")
    r = client.post(
        "/login", data={**DRAFT, "token": token, "csrf_token": csrf_of(form), "next": PAGE}
    )
    assert r.status_code == 200
    assert token not in r.text  # the token is never echoed
    assert "Signed in as reviewer-bo. Nothing is recorded yet" in r.text
    assert "Signed in as <strong>reviewer-bo</strong>" in r.text
    assert_draft_kept(r.text)
    assert len(verdicts_on(essay_engine)) == before
    resolve_form = _form(r.text)
    assert f'action="{PAGE}/resolve"' in resolve_form
    r = client.post(
        f"{PAGE}/resolve",
        data={**DRAFT, "csrf_token": csrf_of(resolve_form)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    verdicts = verdicts_on(essay_engine)
    assert len(verdicts) == before + 1 and verdicts[-1].decided_by == "reviewer-bo"


def test_no_page_says_signed_in_for_a_revoked_token(
    client: TestClient, essay_engine: Engine
) -> None:
    sign_in(client, make_token(essay_engine, "resolve", name="temprev"))
    assert "Signed in as <strong>temprev</strong>" in client.get("/").text
    with Session(essay_engine) as session:
        auth.revoke_tokens(session, "temprev", now=NOW)
        session.commit()
    for path in ("/", "/claims", PAGE, "/indicators", "/login"):
        page = client.get(path).text
        assert "Signed in as" not in page, path
        assert "Reviewer sign-in" in page, path
    assert f'action="{PAGE}/resolve"' not in client.get(PAGE).text  # no resolve form either


def test_the_header_says_why_a_sign_in_ended_once(settings: Settings, essay_engine: Engine) -> None:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        sign_in(c, make_token(essay_engine, "resolve", name="temprev"))
        with Session(essay_engine) as session:
            auth.revoke_tokens(session, "temprev", now=NOW)
            session.commit()
        page = c.get("/").text
        assert "Signed out: the token you signed in with (temprev) has been revoked." in page
        assert "Signed out:" not in c.get("/").text  # the cookie was rewritten without it


def test_an_expired_sign_in_says_so_and_keeps_the_text(
    settings: Settings, essay_engine: Engine
) -> None:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        sign_in(c, make_token(essay_engine, "resolve"))
        csrf = csrf_of(c.get(PAGE).text)
        cookie = c.cookies.get(SESSION_COOKIE)
    later = NOW + SESSION_LIFETIME + dt.timedelta(minutes=1)
    before = len(verdicts_on(essay_engine))
    with TestClient(clocked_app(settings, essay_engine, clock=later)) as c:
        c.cookies.set(SESSION_COOKIE, cookie)
        r = c.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": csrf})
    assert r.status_code == 403
    assert "your sign-in is no longer valid: your sign-in expired (a sign-in lasts 12 hours)" in (
        r.text
    )
    assert_draft_kept(r.text)
    _sign_in_again_form(r.text)
    assert len(verdicts_on(essay_engine)) == before


def test_an_anonymous_post_is_refused_without_recording(
    client: TestClient, essay_engine: Engine
) -> None:
    csrf = csrf_of(client.get("/login").text)
    before = len(verdicts_on(essay_engine))
    r = client.post(f"{PAGE}/resolve", data={**DRAFT, "csrf_token": csrf})
    assert r.status_code == 403
    assert "Nothing was recorded: you are not signed in as a reviewer." in r.text
    _sign_in_again_form(r.text)
    r = client.post("/claims/no-such-claim/resolve", data={**DRAFT, "csrf_token": csrf})
    assert r.status_code == 403 and "resolve-form" not in r.text
    assert 'href="/login?next=/claims/no-such-claim"' in r.text
    assert len(verdicts_on(essay_engine)) == before
