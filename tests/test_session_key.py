"""The dashboard's session key: unless TRACKER_SESSION_SECRET is set, a random key made once and
kept in the database, so a restart signs nobody out and sibling processes on one database accept
each other's session cookies. The key never shows in a response or a log."""

from __future__ import annotations

import logging
import threading

import pytest
from dashboard_seed import NOW, REVIEW_SLUG, clocked_app, verdicts_on
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_dashboard import csrf_of, make_token, sign_in

from tracker import server_secrets
from tracker.config import Settings
from tracker.db import make_engine
from tracker.models import ServerSecret
from tracker.web.dashboard import SESSION_COOKIE

SLUG = REVIEW_SLUG
PAGE = f"/claims/{SLUG}"
RATIONALE = "Local reporting confirms a wait of about a year."
DRAFT = {"outcome": "true", "rationale": RATIONALE, "evidence": "https://example.org/grid"}


def test_apps_on_one_database_accept_each_others_sessions(
    settings: Settings, essay_engine: Engine, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes (their own engines) on one database at once, then a restart with a form
    open: the session key comes from the database, made once."""
    caplog.set_level(logging.DEBUG)
    token = make_token(essay_engine, "resolve")
    engines = [make_engine(db_url) for _ in range(3)]
    bodies: list[str] = []
    try:
        with TestClient(clocked_app(settings, engines[0])) as first:
            with TestClient(clocked_app(settings, engines[1])) as second:
                sign_in(first, token)
                cookie = first.cookies.get(SESSION_COOKIE)
                second.cookies.set(SESSION_COOKIE, cookie)
                page = second.get(PAGE).text
                assert "Signed in as <strong>reviewer-ann</strong>" in page
                csrf = csrf_of(page)
                bodies += [page, first.get(PAGE).text]
        # both stopped; "restarted", the browser still holding the cookie and the open form
        with TestClient(clocked_app(settings, engines[2])) as restarted:
            restarted.cookies.set(SESSION_COOKIE, cookie)
            r = restarted.post(
                f"{PAGE}/resolve", data={**DRAFT, "csrf_token": csrf}, follow_redirects=False
            )
            assert r.status_code == 303
            bodies.append(restarted.get(PAGE).text)
    finally:
        for engine in engines:
            engine.dispose()
    assert verdicts_on(essay_engine)[-1].rationale.startswith(RATIONALE)
    with Session(essay_engine) as session:
        rows = session.exec(select(ServerSecret)).all()
    assert [row.name for row in rows] == [server_secrets.SESSION_KEY_NAME]
    secret = rows[0].value
    assert len(secret) >= 43
    assert all(secret not in body for body in bodies)
    assert secret not in cookie and secret not in caplog.text


def test_a_configured_session_secret_wins_and_is_not_stored(
    settings: Settings, essay_engine: Engine
) -> None:
    token = make_token(essay_engine, "resolve")
    one = settings.model_copy(update={"session_secret": SecretStr("s3cret-one")})
    other = settings.model_copy(update={"session_secret": SecretStr("s3cret-two")})
    with TestClient(clocked_app(one, essay_engine)) as a:
        sign_in(a, token)
        cookie = a.cookies.get(SESSION_COOKIE)
    with TestClient(clocked_app(one, essay_engine)) as b:
        b.cookies.set(SESSION_COOKIE, cookie)
        assert "Signed in as" in b.get("/").text
    with TestClient(clocked_app(other, essay_engine)) as c:
        c.cookies.set(SESSION_COOKIE, cookie)
        assert "Signed in as" not in c.get("/").text
    with Session(essay_engine) as session:
        assert session.exec(select(ServerSecret)).all() == []  # a configured one is not stored
    with TestClient(
        clocked_app(settings, essay_engine)
    ) as d:  # the stored key is another key again
        d.cookies.set(SESSION_COOKIE, cookie)
        assert "Signed in as" not in d.get("/").text
    with Session(essay_engine) as session:
        values = [row.value for row in session.exec(select(ServerSecret)).all()]
    assert "s3cret-one" not in values and "s3cret-two" not in values


def test_processes_making_the_key_at_once_agree(essay_engine: Engine, db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    found: list[str] = []
    errors: list[BaseException] = []

    def make(engine: Engine) -> None:
        try:
            barrier.wait()
            found.append(server_secrets.shared_secret(engine, "race", now=NOW))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert len(found) == len(engines) and len(set(found)) == 1
    with Session(essay_engine) as session:
        row = session.get(ServerSecret, "race")
        assert row is not None and row.value == found[0]
