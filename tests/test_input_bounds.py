"""Every input is bounded before it reaches a database or the evaluator (tracker.bounds): text
with NUL or a lone surrogate, non-finite numbers, dates outside 1900-2200 and hand-made cursors
are 4xx naming the field, on SQLite and PostgreSQL alike, and nothing is stored. Access is
checked before anything that could reveal whether a slug exists (issue 15, items 4 and 5)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from test_api_write import CLAIM_DOC, JUDGED_DOC, bearer, seeded, tokens  # noqa: F401

from tracker.config import Settings
from tracker.models import Claim, ClaimRevision, Resolution
from tracker.web.app import create_app

NUL = "a\x00b"


@pytest.fixture
def client(settings: Settings, seeded: Engine) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings, engine=seeded)) as c:
        yield c


@pytest.fixture
def stored(client: TestClient, tokens: dict[str, str]) -> TestClient:  # noqa: F811
    for doc in (CLAIM_DOC, JUDGED_DOC):
        r = client.post("/api/v1/claims", json=doc, headers=bearer(tokens["both"]))
        assert r.status_code == 201, r.text
    return client


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def _raw_post(client: TestClient, url: str, text: str, token: str) -> Any:
    """Post JSON text as is (so NaN, 1e400 and escapes reach the server unchanged)."""
    headers = {**bearer(token), "content-type": "application/json"}
    return client.post(url, content=text.encode(), headers=headers)


def _fields(r: Any) -> list[str]:
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in r.json()["errors"]]


def _with(path: tuple[Any, ...], value: Any, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(doc or CLAIM_DOC)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


# --- text: NUL and lone surrogates (PostgreSQL raised DataError: 500) ---


TEXT_FIELDS = [
    (("title",), "title"),
    (("quote", "en"), "quote.en"),
    (("deadline_interpretation",), "deadline_interpretation"),
    (("criteria", 0, "key"), "criteria.0.key"),
]


def test_claim_text_with_nul_or_lone_surrogate_is_422_naming_the_field(
    client: TestClient,
    tokens: dict[str, str],  # noqa: F811
    seeded: Engine,  # noqa: F811
) -> None:
    for path, field in TEXT_FIELDS:
        for bad in (NUL, "a\ud800b"):
            text = json.dumps(_with(path, bad))  # ensure_ascii: \u0000 / \ud800 escapes
            for url in ("/api/v1/claims", "/api/v1/claims:dry-run"):
                r = _raw_post(client, url, text, tokens["writer"])
                assert field in _fields(r), (field, bad, r.text)
    assert _count(seeded, Claim) == 0


def test_yaml_claim_with_nul_is_422_naming_its_line(
    client: TestClient,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    import yaml

    text = yaml.safe_dump(_with(("title",), NUL), allow_unicode=False)
    headers = {**bearer(tokens["writer"]), "content-type": "application/yaml"}
    r = client.post("/api/v1/claims", content=text.encode(), headers=headers)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "title" and "NUL" in error["message"] and error["line"]


def test_notes_rationale_and_evidence_with_nul_are_422_nothing_stored(
    stored: TestClient,
    tokens: dict[str, str],  # noqa: F811
    seeded: Engine,  # noqa: F811
) -> None:
    token = tokens["both"]
    revisions = _count(seeded, ClaimRevision)
    cases = [
        ("/api/v1/claims/agi-2026/withdraw", {"note": NUL}, "note"),
        (
            "/api/v1/claims/agi-2026/revisions",
            {"note": NUL, "claim": JUDGED_DOC},
            "note",
        ),
        (
            "/api/v1/claims/agi-2026/revisions",
            {"note": "retitled", "claim": _with(("title",), NUL, JUDGED_DOC)},
            "claim.title",
        ),
        (
            "/api/v1/claims/agi-2026/resolutions",
            {"outcome": "false", "rationale": NUL, "note": "early"},
            "rationale",
        ),
        (
            "/api/v1/claims/agi-2026/resolutions",
            {"outcome": "false", "rationale": "no", "evidence": ["https://e.org/\u0000"]},
            "evidence.0",
        ),
    ]
    for url, body, field in cases:
        r = _raw_post(stored, url, json.dumps(body), token)
        assert field in _fields(r), (url, r.text)
    assert _count(seeded, ClaimRevision) == revisions
    assert _count(seeded, Resolution) == 0


# --- numbers: NaN, Infinity and 1e400 (PostgreSQL 500; SQLite stored NaN) ---


def test_non_finite_threshold_is_422(
    client: TestClient,
    tokens: dict[str, str],  # noqa: F811
    seeded: Engine,  # noqa: F811
) -> None:
    for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        doc = _with(("criteria", 0, "threshold"), 12345.5)
        text = json.dumps(doc).replace("12345.5", literal)
        for url in ("/api/v1/claims", "/api/v1/claims:dry-run"):
            r = _raw_post(client, url, text, tokens["writer"])
            fields = _fields(r)
            # NaN/Infinity are not JSON: the body is refused whole; 1e400 names its field
            assert fields in (["body"], ["criteria.0.threshold"]), (literal, r.text)
    assert _count(seeded, Claim) == 0


def test_yaml_nan_threshold_is_422(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    import yaml

    text = yaml.safe_dump(_with(("criteria", 0, "threshold"), 12345.5)).replace("12345.5", ".nan")
    headers = {**bearer(tokens["writer"]), "content-type": "application/yaml"}
    r = client.post("/api/v1/claims:dry-run", content=text.encode(), headers=headers)
    assert "criteria[0].threshold" in _fields(r)


# --- dates: the evaluator overflowed on year 9999 ---


OUT_OF_RANGE = [
    (("deadline",), "9999-12-31", "deadline"),
    (("deadline",), "1899-12-31", "deadline"),
    (("stated", "date"), "9999-01-01", "stated.date"),
    (("window", "end"), "9999-12-31", "window.end"),
    (("criteria", 0, "period"), "9999", "criteria[0].period"),
    (("criteria", 0, "period"), "0001-01", "criteria[0].period"),
]


def test_dates_outside_1900_2200_are_422_on_create_and_dry_run(
    client: TestClient,
    tokens: dict[str, str],  # noqa: F811
    seeded: Engine,  # noqa: F811
) -> None:
    for path, value, field in OUT_OF_RANGE:
        doc = _with(path, value)
        for url in ("/api/v1/claims:dry-run", "/api/v1/claims"):
            r = client.post(url, json=doc, headers=bearer(tokens["writer"]))
            assert field in _fields(r), (value, r.text)
            assert "1900-2200" in r.text
    assert _count(seeded, Claim) == 0


def test_dates_at_the_bounds_are_accepted(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    doc = _with(("deadline",), "2200-12-31")
    r = client.post("/api/v1/claims:dry-run", json=doc, headers=bearer(tokens["writer"]))
    assert r.status_code == 200, r.text


# --- cursors: hand-made ones are a 400, never a database error ---


def _cursor(payload: Any) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HAND_MADE = [
    ["deadline", "2030-12-31", 10**30],
    ["deadline", "2030-12-31", 2**31],
    ["deadline", "2030-12-31", -1],
    ["deadline", "2030-12-31", 0],
    ["deadline", "2030-12-31", True],
    ["slug", "\ud800", 1],
    ["slug", "a\x00b", 1],
    ["slug", 5, 1],
    ["updated", "0001-01-01T00:00:00+05:00", 1],
    ["updated", "9999-12-31T23:59:59-05:00", 1],
    ["deadline", "0001-01-01", 1],
    ["deadline", None, 1],
]


def test_hand_made_cursors_are_400(stored: TestClient) -> None:
    for payload in HAND_MADE:
        cursor = _cursor(payload)
        r = stored.get("/api/v1/claims", params={"sort": payload[0], "cursor": cursor})
        assert r.status_code == 400, (payload, r.text)
        assert r.json()["type"] == "/api/v1/problems/bad-cursor"
        # the dashboard's history page reads the same cursors
        page = stored.get("/", params={"as_of": "2026-11-27", "cursor": cursor})
        assert page.status_code < 500, payload


def test_a_real_cursor_still_pages(stored: TestClient) -> None:
    first = stored.get("/api/v1/claims", params={"limit": 1, "sort": "updated"})
    cursor = first.json()["next_cursor"]
    assert cursor
    second = stored.get("/api/v1/claims", params={"limit": 1, "sort": "updated", "cursor": cursor})
    assert second.status_code == 200
    assert second.json()["items"][0]["slug"] != first.json()["items"][0]["slug"]


# --- item 5: reads that require a token protect every page, before anything else ---

PAGES = ["/", "/claims", "/claims/agi-2026", "/indicators", "/claimants/elon-musk"]


@pytest.fixture
def locked(settings: Settings, seeded: Engine) -> Iterator[TestClient]:  # noqa: F811
    locked = settings.model_copy(update={"require_token_for_reads": True})
    with TestClient(create_app(locked, engine=seeded), follow_redirects=False) as c:
        yield c


def test_every_page_needs_the_token_when_reads_do(
    stored: TestClient,
    locked: TestClient,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    for page in [*PAGES, "/claims/no-such-claim"]:
        r = locked.get(page)
        assert r.status_code == 303, (page, r.status_code)
        assert r.headers["location"].startswith("/login?next=")
        assert "agi" not in r.text.lower() and "elon" not in r.text.lower()
    for page in PAGES:
        assert locked.get(page, headers=bearer(tokens["resolver"])).status_code == 200, page
        assert locked.get(page, headers=bearer(tokens["revoked"])).status_code == 401, page
    for url in ("/api/v1/claims/agi-2026/history", "/api/v1/indicators", "/api/v1/deadlines"):
        assert locked.get(url).status_code == 401, url
    # the sign-in page and the probes stay open
    assert locked.get("/login").status_code == 200
    assert locked.get("/healthz").status_code == 200


def test_existence_does_not_leak_without_a_token(
    stored: TestClient,
    locked: TestClient,
) -> None:
    for client in (stored, locked):
        for action, body in (("withdraw", {"note": "why not"}), ("resolutions", {"x": 1})):
            known = client.post(f"/api/v1/claims/agi-2026/{action}", json=body)
            unknown = client.post(f"/api/v1/claims/no-such-claim/{action}", json=body)
            malformed = client.post(
                f"/api/v1/claims/agi-2026/{action}",
                content=b'{"note": ',
                headers={"content-type": "application/json"},
            )
            for r in (known, unknown, malformed):
                assert r.status_code == 401, (action, r.status_code, r.text)
                assert "agi-2026" not in r.json()["detail"]
            assert known.json()["detail"] == unknown.json()["detail"] == malformed.json()["detail"]
    for slug in ("agi-2026", "no-such-claim"):
        r = locked.get(f"/api/v1/claims/{slug}")
        assert r.status_code == 401


# --- item 8: one as_of reading and one rule on every page and route ---

AS_OF_URLS = [
    "/api/v1/claims/agi-2026",
    "/api/v1/indicators/owid.electricity_generation.chn/observations",
    "/",
    "/claims/agi-2026",
]


def test_as_of_has_one_rule_everywhere(stored: TestClient, clock: Any) -> None:
    today = clock().date()
    future = (today + dt.timedelta(days=1)).isoformat()
    for url in AS_OF_URLS:
        for value in (future, "9999-12-31"):
            r = stored.get(url, params={"as_of": value})
            assert r.status_code == 422, (url, value, r.status_code)
            assert "is in the future" in r.text, url
        r = stored.get(url, params={"as_of": "2026-13-45"})
        assert r.status_code == 422 and "is not a date" in r.text, url
        # empty: the same as none, on the dashboard and in the API
        assert stored.get(url, params={"as_of": ""}).status_code == 200, url
        assert stored.get(url, params={"as_of": today.isoformat()}).status_code in (200, 404), url
    for url in AS_OF_URLS[:2]:
        problem = stored.get(url, params={"as_of": future}).json()
        assert problem["errors"][0]["field"] == "as_of"
        assert problem["errors"][0]["type"] == "date_in_future"


def test_dashboard_forms_with_nul_are_refused_before_any_query(stored: TestClient) -> None:
    for url, form in (
        ("/login", {"token": "trk_a\x00b", "csrf_token": "x"}),
        ("/claims/agi-2026/resolve", {"outcome": "false", "rationale": "a\x00b"}),
    ):
        r = stored.post(url, data=form, follow_redirects=False)
        assert r.status_code == 422, (url, r.status_code, r.text[:300])
        assert "NUL" in r.text
