"""HTTP hardening over a real database (SQLite or PostgreSQL): control characters rejected before
any handler, Last-Modified that moves with status changes, body limits, one problem vocabulary
(each type documented at its URI), one log line per unhandled error, trusted hosts and the
public URL, HEAD on every GET route, and /readyz reporting a failed probe."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_api_read import seeded  # noqa: F401  (fixture)
from test_status_factories import at, china_claim, observe

from tracker.auth import create_token
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.models import Indicator
from tracker.status import evaluate_claims
from tracker.web.app import create_app
from tracker.web.caching import http_date
from tracker.web.problems import PROBLEM_TYPES

NUL_URLS = [
    ("/api/v1/claims/%00", "slug"),
    ("/api/v1/claims?q=%00", "q"),
    ("/api/v1/claims?claimant=%00", "claimant"),
    ("/api/v1/claimants/%00", "slug"),
    ("/api/v1/indicators/%00/observations", "key"),
    ("/api/v1/claims/agi-2026%00/history", "slug"),
    ("/api/v1/fetch-runs?indicator=%00", "indicator"),
    ("/claims/%00", "slug"),
    ("/api/v1/claims?q=a%1Fb", "q"),
    ("/claims?tag=%7F", "tag"),
]


@pytest.fixture
def client(settings: Settings, seeded: Engine) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings, engine=seeded)) as c:
        yield c


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == f"/api/v1/problems/{code}"
    assert body["title"] == PROBLEM_TYPES[code].title
    return body


# --- 1. control characters in path and query: 400 naming the parameter, nothing logged ---


@pytest.mark.parametrize(("url", "parameter"), NUL_URLS)
def test_control_characters_are_a_400_naming_the_parameter(
    client: TestClient, caplog: pytest.LogCaptureFixture, url: str, parameter: str
) -> None:
    with caplog.at_level(logging.WARNING):
        r = client.get(url)
    body = _problem(r, 400, "bad-request")
    assert body["errors"][0]["field"] == parameter
    assert body["errors"][0]["type"] == "control_character"
    assert repr(parameter) in body["detail"] and "U+00" in body["detail"]
    assert "\\u0000" not in r.text  # the instance is the path as sent, percent-encoded
    assert body["instance"] == url.split("?", 1)[0]
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    # the same request without the character reaches the handler
    clean = client.get(url.replace("%00", "x").replace("%1F", "x").replace("%7F", "x"))
    assert clean.status_code in (200, 404)


def test_head_of_a_nul_url_is_400_without_body(client: TestClient) -> None:
    r = client.head("/api/v1/claims/%00")
    assert r.status_code == 400 and r.content == b""


# --- 2. Last-Modified moves with a status change ---


def test_if_modified_since_sees_a_new_evaluation(settings: Settings, engine: Engine) -> None:
    with Session(engine) as s:
        claim, chn, usa = china_claim(s)
        claim_id, chn_id, usa_id = claim.id or 0, chn.id, usa.id
        evaluate_claims(s, now=at("2026-01-11"), claim_ids=[claim_id])
        s.commit()
    app = create_app(settings, engine=engine)
    with TestClient(app) as c:
        first = c.get("/api/v1/claims/china-power-3x-us-2030").json()["status"]
        since = http_date(at("2026-01-20"))  # after the first evaluation, before the second
        urls = [
            "/api/v1/claims/china-power-3x-us-2030",
            "/api/v1/claims?state=open",
            "/api/v1/claims",
            "/api/v1/export.csv",
            "/api/v1/export.json",
        ]
        for url in urls:
            assert c.get(url, headers={"If-Modified-Since": since}).status_code == 304, url
        with Session(engine) as s:
            known = at("2026-02-01")
            chn_row, usa_row = s.get(Indicator, chn_id), s.get(Indicator, usa_id)
            assert chn_row is not None and usa_row is not None
            observe(s, chn_row, {"2023": 9400.0, "2024": 10000.0, "2025": 10583.0}, known)
            observe(s, usa_row, {"2023": 4200.0, "2024": 4300.0, "2025": 4400.0}, known)
            evaluate_claims(s, now=at("2026-02-02"), claim_ids=[claim_id])
            s.commit()
        detail = c.get(urls[0], headers={"If-Modified-Since": since})
        assert detail.status_code == 200
        now_status = detail.json()["status"]
        assert first["trend"] == "insufficient_data" and first["metric"]["value"] is None
        assert now_status["trend"] == "off_track" and now_status["metric"]["period"] == "2025"
        assert detail.headers["last-modified"] == http_date(at("2026-02-02"))
        for url in urls[1:]:
            r = c.get(url, headers={"If-Modified-Since": since})
            assert r.status_code == 200, url
            assert r.headers["last-modified"] == http_date(at("2026-02-02")), url
        # and unchanged since then: 304 again
        later = http_date(at("2026-02-03"))
        for url in urls:
            assert c.get(url, headers={"If-Modified-Since": later}).status_code == 304, url


def test_last_modified_counts_the_latest_verdict(client: TestClient) -> None:
    # the seeded agi-2026 verdict was decided 400 days after its evaluation
    verdict = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC) + dt.timedelta(days=400)
    r = client.get("/api/v1/claims/agi-2026")
    assert r.headers["last-modified"] == http_date(verdict)
    assert client.get("/api/v1/export.json").headers["last-modified"] == http_date(verdict)


def test_list_last_modified_is_a_fixed_number_of_queries(
    client: TestClient,
    seeded: Engine,  # noqa: F811
) -> None:
    from test_status_factories import count_statements

    with count_statements(seeded) as statements:
        assert client.get("/api/v1/claims?limit=1").status_code == 200
    one = len(statements)
    with count_statements(seeded) as statements:
        assert client.get("/api/v1/claims?limit=50").status_code == 200
    assert len(statements) == one  # no query per claim


# --- 3. request body size ---


def test_body_over_the_limit_is_413_up_front_and_while_streaming(
    settings: Settings,
    seeded: Engine,  # noqa: F811
) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}), engine=seeded)
    with TestClient(app) as c:
        url = "/api/v1/claims/agi-2026/withdraw"
        r = c.post(url, content=b"x" * 1001, headers={"content-type": "application/json"})
        body = _problem(r, 413, "payload-too-large")
        assert body["max_body_bytes"] == 1000 and "1001 bytes" in body["detail"]

        def chunks() -> Iterator[bytes]:
            for _ in range(5):
                yield b" " * 300

        # a chunked body is read only once the token is known (without one: 401 unread)
        with Session(seeded) as s:
            raw = create_token(s, "writer", ["claims:write"], now=utcnow()).plaintext
            s.commit()
        auth = {"content-type": "application/json", "authorization": f"Bearer {raw}"}
        r = c.post(url, content=chunks(), headers=auth)
        assert "content-length" not in r.request.headers  # really chunked
        _problem(r, 413, "payload-too-large")
        # within the limit the handler answers as before (no token: 401)
        r = c.post(url, json={"note": "withdrawn for the test"})
        _problem(r, 401, "unauthorized")


def test_default_body_limit_is_one_mebibyte() -> None:
    assert Settings().max_body_bytes == 1024 * 1024


# --- 4. one problem vocabulary, each type documented ---


def test_every_error_names_one_of_our_problem_types(
    client: TestClient,
    seeded: Engine,  # noqa: F811
) -> None:
    _problem(client.get("/api/v1/nowhere"), 404, "not-found")
    _problem(client.get("/api/v1/claims/a/b/c"), 404, "not-found")
    _problem(client.get("/api/v1/claims/no-such-claim"), 404, "not-found")
    _problem(client.delete("/api/v1/claims"), 405, "method-not-allowed")
    _problem(client.get("/api/v1/claims?sort=sideways"), 422, "validation-error")
    with Session(seeded) as s:
        raw = create_token(s, "writer", ["claims:write"], now=utcnow()).plaintext
        s.commit()
    headers = {"content-type": "application/json", "authorization": f"Bearer {raw}"}
    deep = b"[" * 200_000 + b"]" * 200_000
    r = client.post("/api/v1/claims/agi-2026/withdraw", content=deep, headers=headers)
    body = _problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == "body" and "nested too deeply" in body["detail"]
    r = client.post("/api/v1/claims/agi-2026/withdraw", content=b'{"note": ', headers=headers)
    _problem(r, 422, "validation-error")
    # without a token, the token is what is wrong (the body is not read)
    del headers["authorization"]
    for content in (deep, b'{"note": '):
        r = client.post("/api/v1/claims/agi-2026/withdraw", content=content, headers=headers)
        _problem(r, 401, "unauthorized")


def test_wrong_content_type_is_415_naming_the_accepted_types(client: TestClient) -> None:
    r = client.post(
        "/api/v1/claims/agi-2026/withdraw",
        content=b"note=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = _problem(r, 415, "unsupported-media-type")
    assert body["accepted"] == ["application/json"]
    assert r.headers["accept-post"] == "application/json"
    # YAML is left to the claim handlers that read it (here: no token, so 401, not 415)
    for path in ("/api/v1/claims", "/api/v1/claims:dry-run"):
        r = client.post(path, content=b"slug: x\n", headers={"content-type": "application/yaml"})
        assert r.status_code != 415, path
    r = client.post(
        "/api/v1/claims/agi-2026/withdraw",
        content=b"slug: x\n",
        headers={"content-type": "application/yaml"},
    )
    _problem(r, 415, "unsupported-media-type")


def test_each_problem_type_is_documented_at_its_uri(client: TestClient) -> None:
    listed = client.get("/api/v1/problems").json()
    assert {p["type"] for p in listed} == {f"/api/v1/problems/{c}" for c in PROBLEM_TYPES}
    for code, kind in PROBLEM_TYPES.items():
        r = client.get(f"/api/v1/problems/{code}")
        assert r.status_code == 200, code
        doc = r.json()
        assert doc["title"] == kind.title and doc["status"] == kind.status
        assert doc["when"] and doc["what_to_do"]
    _problem(client.get("/api/v1/problems/no-such-type"), 404, "not-found")
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/problems/{code}" in paths and "/api/v1/problems" in paths


# --- 5. one log line per unhandled error; path escaped ---


def _boom_app(settings: Settings, engine: Engine) -> Any:
    app = create_app(settings, engine=engine)

    @app.get("/api/v1/boom/{word}")
    def boom(word: str) -> None:
        raise RuntimeError("internal detail")

    return app


def test_unhandled_error_is_logged_once_with_escaped_path(
    settings: Settings,
    seeded: Engine,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _boom_app(settings, seeded)
    with TestClient(app) as c, caplog.at_level(logging.INFO):
        r = c.get("/api/v1/boom/a%0Ab?api_key=sekrit")  # no exception escapes the app
    # the newline is a control character: rejected before the handler, nothing logged
    _problem(r, 400, "bad-request")
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    with TestClient(app) as c, caplog.at_level(logging.INFO):
        r = c.get("/api/v1/boom/caf%C3%A9?api_key=sekrit")
    body = _problem(r, 500, "internal-error")
    assert "internal detail" not in r.text and "Traceback" not in r.text
    assert body["instance"] == "/api/v1/boom/caf%C3%A9"
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert line == "unhandled error on GET '/api/v1/boom/caf\\xe9'"
    assert errors[0].exc_info is not None and "sekrit" not in line


def _serve(app: Any) -> Iterator[str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_live_server_logs_one_traceback_and_rejects_nul(
    settings: Settings,
    seeded: Engine,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _boom_app(settings, seeded)
    with caplog.at_level(logging.INFO):
        for base in _serve(app):
            r = httpx.get(f"{base}/api/v1/boom/x")
            assert r.status_code == 500 and r.json()["type"] == "/api/v1/problems/internal-error"
            for url, _ in NUL_URLS[:8]:
                assert httpx.get(f"{base}{url}").status_code == 400, url
            r = httpx.get(f"{base}/api/v1/feed.atom", headers={"Host": "evil.example"})
            assert r.status_code == 400
            assert r.json()["type"] == "/api/v1/problems/untrusted-host"
            assert httpx.head(f"{base}/api/v1/claims").status_code == 200
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert [rec.getMessage() for rec in errors] == ["unhandled error on GET '/api/v1/boom/x'"]
    tracebacks = [rec for rec in caplog.records if rec.exc_info]
    assert len(tracebacks) == 1


# --- 6. trusted hosts and the public URL ---


def test_untrusted_host_is_400_and_links_use_the_public_url(
    settings: Settings,
    seeded: Engine,  # noqa: F811
) -> None:
    with TestClient(create_app(settings, engine=seeded)) as c:
        r = c.get("/api/v1/feed.atom", headers={"Host": "evil.example"})
        body = _problem(r, 400, "untrusted-host")
        assert "evil.example" in body["detail"]
        for host in ("localhost:8000", "127.0.0.1"):
            assert c.get("/api/v1/feed.atom", headers={"Host": host}).status_code == 200, host
    public = settings.model_copy(update={"public_url": "https://tracker.example.org/t"})
    with TestClient(create_app(public, engine=seeded)) as c:
        feed = c.get("/api/v1/feed.atom").text
        assert 'href="https://tracker.example.org/t/api/v1/feed.atom"' in feed
        assert "testserver" not in feed
        calendar = c.get("/api/v1/calendar.ics").text.replace("\r\n ", "")
        assert "URL:https://tracker.example.org/t/claims/" in calendar
        assert "testserver" not in calendar
        r = c.get("/api/v1/claims?limit=1")
        assert r.headers["link"].startswith("<https://tracker.example.org/t/api/v1/claims?")
        ok = c.get("/api/v1/claims", headers={"Host": "tracker.example.org"})
        assert ok.status_code == 200
        assert c.get("/api/v1/claims", headers={"Host": "evil.example"}).status_code == 400
    only = settings.model_copy(update={"allowed_hosts": "api.example.org, *.example.net"})
    with TestClient(create_app(only, engine=seeded), base_url="http://api.example.org") as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "a.example.net"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "localhost"}).status_code == 400


def test_public_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        Settings(public_url="tracker.example.org")
    assert Settings(public_url="https://t.example/").trusted_hosts()[-1] == "t.example"


# --- 7. HEAD on every GET route; 304 and validators documented ---


def test_head_answers_every_get_route_with_headers_and_no_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    concrete = {
        "{slug}": "agi-2026",
        "{key}": "owid.electricity-generation.china",
        "{code}": "not-found",
    }
    gets = [p for p, ops in paths.items() if "get" in ops]
    assert len(gets) >= 15
    for path in [*gets, "/", "/claims", "/indicators"]:
        url = path
        for name, value in concrete.items():
            url = url.replace(name, value)
        if path == "/api/v1/claimants/{slug}":
            url = "/api/v1/claimants/elon-musk"
        get = client.get(url)
        head = client.head(url)
        assert head.status_code == get.status_code, url
        assert head.content == b"", url
        assert head.headers.get("etag") == get.headers.get("etag"), url
        assert head.headers["content-type"] == get.headers["content-type"], url


def test_head_on_a_post_only_path_names_head_in_its_405(client: TestClient) -> None:
    # HEAD is routed as GET, its body dropped: its headers describe the problem a body would
    # carry, and that problem names HEAD, the method the client sent, not GET
    post_only = "/api/v1/claims:dry-run"
    assert set(client.get("/openapi.json").json()["paths"][post_only]) == {"post"}
    get = client.get(post_only)
    assert get.status_code == 405
    assert get.json()["detail"] == f"GET is not allowed on {post_only}; allowed: POST"
    head = client.head(post_only)
    assert head.status_code == 405
    assert head.content == b""
    assert head.headers["allow"] == get.headers["allow"] == "POST"
    as_head = get.content.replace(b'"detail":"GET is', b'"detail":"HEAD is')
    assert as_head != get.content
    assert int(head.headers["content-length"]) == len(as_head)
    assert client.get(post_only).content == get.content  # nothing of the HEAD lingers


def test_openapi_documents_304_and_validator_headers(client: TestClient) -> None:
    from tracker.web.openapi import CACHED_GETS

    paths = client.get("/openapi.json").json()["paths"]
    for path, names in CACHED_GETS.items():
        responses = paths[path]["get"]["responses"]
        assert "304" in responses and responses["304"]["description"], path
        assert set(responses["200"]["headers"]) == set(names), path
        for header in responses["200"]["headers"].values():
            assert header["schema"]["example"], path
    assert "Link" in paths["/api/v1/claims"]["get"]["responses"]["200"]["headers"]
    # every documented cached route really answers 304 to its ETag, sends the validators it
    # documents, and answers 304 to If-Modified-Since where it documents Last-Modified
    for path, names in CACHED_GETS.items():
        url = path.replace("{slug}", "agi-2026")
        if path == "/api/v1/claimants/{slug}":
            url = "/api/v1/claimants/elon-musk"
        r = client.get(url)
        assert r.status_code == 200, url
        for name in names:
            assert name == "Link" or name.lower() in r.headers, (url, name)
        again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304, url
        if "Last-Modified" in names:
            since = client.get(url, headers={"If-Modified-Since": r.headers["last-modified"]})
            assert since.status_code == 304, url
            assert since.headers["last-modified"] == r.headers["last-modified"], url


# --- 8. /readyz: the scheduler check's ok is what its probe found ---


def test_readyz_scheduler_ok_is_false_when_its_probe_fails(
    empty_db_url: str, tmp_path: Any
) -> None:
    settings = Settings(
        database_url=empty_db_url,
        data_dir=tmp_path / "data",
        run_scheduler=False,
        sync_claims_on_start=False,
        load_bundled_on_start=False,
    )
    with TestClient(create_app(settings)) as c:
        body = c.get("/readyz").json()
    check = body["checks"]["scheduler"]
    assert check["ok"] is False and check["error"]  # no tables: the probe's query failed
    assert body["checks"]["database"]["ok"] is True


def test_readyz_scheduler_ok_is_true_when_its_probe_works(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    check = r.json()["checks"]["scheduler"]
    assert check["ok"] is True and "error" not in check and check["informational"] is True
