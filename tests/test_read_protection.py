"""Read protection comes from one place, the guard (tracker.web.guard.GuardedRoute): with
TRACKER_REQUIRE_TOKEN_FOR_READS every GET route of the app, enumerated from app.routes, answers
401 (API) or a redirect to sign in (page) without a token. A router added later without the
guard fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.routing import Route

from tracker.auth import create_token
from tracker.clock import system_clock
from tracker.config import Settings
from tracker.web.app import create_app
from tracker.web.guard import GuardedRoute

# GET routes open by design: probes, sign-in, the API's own description and its problem types
OPEN_GETS = {
    "/healthz",
    "/readyz",
    "/login",
    "/openapi.json",
    "/docs",
    "/api/v1/problems",
    "/api/v1/problems/{code}",
}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def _concrete(path: str) -> str:
    """The route's path with every parameter filled in (1 reads as an id and as a slug)."""
    return _PARAM.sub("1", path)


def _get_routes(app: Any) -> list[tuple[str, Route]]:
    """(path, route) of every GET route, included routers flattened (FastAPI >= 0.165 keeps an
    included router as one entry of app.routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        found = [(getattr(r, "path", ""), r) for r in app.routes]
    else:
        found = [(c.path or "", c.original_route) for c in iter_route_contexts(app.routes)]
    return [
        (path, r)
        for path, r in found
        if isinstance(r, Route) and "GET" in (r.methods or set()) and path not in OPEN_GETS
    ]


@pytest.fixture
def locked(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(
        settings.model_copy(update={"require_token_for_reads": True}),
        engine=engine,
        clock=system_clock,
    )
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_every_get_route_needs_a_token_when_reads_do(locked: TestClient) -> None:
    routes = _get_routes(locked.app)
    api = [path for path, _ in routes if path.startswith("/api/v1/")]
    pages = [path for path, _ in routes if not path.startswith("/api/v1/")]
    assert len(api) >= 20 and len(pages) >= 8  # the enumeration found the app's routers
    for path in api:
        r = locked.get(_concrete(path))
        assert r.status_code == 401, (path, r.status_code, r.text[:200])
        assert r.json()["type"].endswith("/unauthorized"), path
    for path in pages:
        r = locked.get(_concrete(path))
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"].startswith("/login?next="), path
    # every one of them is guarded by the one route class, not by a dependency of its own
    for path, route in routes:
        assert isinstance(route, APIRoute) and isinstance(route, GuardedRoute), path


def test_a_valid_token_of_any_scope_reads_the_api(locked: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        token = create_token(session, "reader", [], now=system_clock()).plaintext
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for url in ("/api/v1/claims", "/api/v1/indicators", "/api/v1/deadlines"):
        assert locked.get(url, headers=headers).status_code == 200, url
