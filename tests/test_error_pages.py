"""Errors as a person and as a program see them: an HTML page for a browser asking for a page
outside /api (its `Accept` names text/html), problem+json for API clients and under /api."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_seed import clocked_app
from fastapi import APIRouter
from fastapi.testclient import TestClient

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTML = {"Accept": BROWSER_ACCEPT}


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, essay_engine), raise_server_exceptions=False) as c:
        yield c


def _is_html_page(r, status: int, *words: str) -> None:
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1" in r.text and 'href="/"' in r.text
    for word in words:
        assert word in r.text
    assert "Content-Security-Policy" in r.headers


def test_unknown_page_is_an_html_404_for_a_browser(client):
    r = client.get("/no-such-page", headers=HTML)
    _is_html_page(r, 404, "Not found", "/no-such-page")
    assert "Traceback" not in r.text


def test_unknown_page_is_problem_json_for_a_program(client):
    for accept in (None, "application/json", "*/*", "application/problem+json, text/html;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        r = client.get("/no-such-page", headers=headers)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json", accept
        assert r.json()["type"].endswith("/not-found")


def test_api_errors_stay_problem_json_even_for_a_browser(client):
    r = client.get("/api/v1/claims/no-such-claim", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = client.get("/api/v1/nothing-here", headers=HTML)
    assert r.headers["content-type"] == "application/problem+json"


def test_wrong_method_is_an_html_405_keeping_allow(client):
    r = client.delete("/claims", headers=HTML)
    _is_html_page(r, 405, "DELETE is not allowed on /claims")
    assert "GET" in r.headers["allow"]
    assert client.delete("/claims").headers["content-type"] == "application/problem+json"


def test_reloading_the_verdict_address_goes_back_to_the_form(client):
    r = client.get("/claims/agi-2026/resolve", headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/claims/agi-2026#verdict"


def test_oversized_form_is_an_html_413(client, settings):
    body = "x" * (settings.max_body_bytes + 1)
    r = client.post(
        "/claims/agi-2026/resolve",
        content=f"rationale={body}",
        headers={**HTML, "Content-Type": "application/x-www-form-urlencoded"},
    )
    _is_html_page(r, 413, "Too large")
    r = client.post(
        "/api/v1/claims", content=body, headers={**HTML, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


def test_a_crash_is_an_html_500_that_names_nothing_internal(settings, essay_engine):
    app = clocked_app(settings, essay_engine)
    boom = APIRouter()

    @boom.get("/boom")
    def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers=HTML)
        _is_html_page(r, 500, "Something went wrong")
        assert "secret internal detail" not in r.text
        r = c.get("/boom")
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"


def test_bad_query_value_on_a_page_is_an_html_422(client):
    r = client.get("/claims/agi-2026?as_of=not-a-date", headers=HTML)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")


def test_favicon_is_served_not_an_error(client):
    r = client.get("/favicon.ico", headers={"Accept": "image/avif,image/webp,*/*"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.content.startswith(b"<svg")


def test_an_error_page_that_cannot_render_falls_back_to_problem_json(client, monkeypatch):
    import tracker.web.dashboard as dashboard

    def broken(*args, **kwargs):
        raise RuntimeError("template broken")

    monkeypatch.setattr(dashboard, "error_page_response", broken)
    r = client.get("/no-such-page", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
