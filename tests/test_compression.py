"""gzip of text bodies: only when the client accepts it and the body is above ~1 KB; `Vary:
Accept-Encoding` on every text answer; a compressed and an uncompressed body never share a
strong ETag; conditional GETs (304) stay right for both."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tracker.web.app import create_app
from tracker.web.compression import MINIMUM_SIZE, accepts_gzip, gzip_etag

IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip, deflate"}


@pytest.fixture
def client(settings, essay_engine, clock) -> Iterator[TestClient]:
    app = create_app(settings, engine=essay_engine, clock=clock)
    with TestClient(app) as test_client:
        yield test_client


def raw(
    client: TestClient, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body as sent on the wire (not decoded by httpx)."""
    with client.stream("GET", path, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return response.status_code, dict(response.headers), body


def a_claim_path(client: TestClient) -> str:
    slug = client.get("/api/v1/claims", headers=IDENTITY).json()["items"][0]["slug"]
    return f"/api/v1/claims/{slug}"


@pytest.mark.parametrize("kind", ["claim", "list", "dashboard"])
def test_text_bodies_are_gzipped_only_when_accepted(client: TestClient, kind: str) -> None:
    path = {"claim": a_claim_path(client), "list": "/api/v1/claims", "dashboard": "/"}[kind]
    status, plain_headers, plain = raw(client, path, IDENTITY)
    assert status == 200 and len(plain) > MINIMUM_SIZE
    assert "content-encoding" not in plain_headers
    assert "accept-encoding" in plain_headers["vary"].lower()

    status, headers, packed = raw(client, path, GZIP)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(packed) < len(plain)
    assert gzip.decompress(packed) == plain
    if "etag" in plain_headers:  # the API's reads; the dashboard pages may have none
        assert headers["etag"] != plain_headers["etag"]
        assert headers["etag"] == gzip_etag(plain_headers["etag"])


def test_small_bodies_and_refused_gzip_stay_identity(client: TestClient) -> None:
    status, headers, body = raw(client, "/healthz", GZIP)
    assert status == 200 and len(body) < MINIMUM_SIZE
    assert "content-encoding" not in headers
    path = a_claim_path(client)
    for refused in ("gzip;q=0", "br", "gzip;q=0, *;q=1"):
        _, headers, _ = raw(client, path, {"Accept-Encoding": refused})
        assert "content-encoding" not in headers, refused


def test_conditional_get_with_either_etag(client: TestClient) -> None:
    path = a_claim_path(client)
    _, plain_headers, _ = raw(client, path, IDENTITY)
    _, gzip_headers, _ = raw(client, path, GZIP)
    plain_tag, gzip_tag = plain_headers["etag"], gzip_headers["etag"]

    # the gzip copy is current: 304 naming the gzip ETag, Vary kept
    status, headers, body = raw(client, path, {**GZIP, "If-None-Match": gzip_tag})
    assert (status, body) == (304, b"")
    assert headers["etag"] == gzip_tag
    assert "accept-encoding" in headers["vary"].lower()
    # the identity copy is current too, whatever the client accepts now
    for accept in (IDENTITY, GZIP):
        status, headers, _ = raw(client, path, {**accept, "If-None-Match": plain_tag})
        assert status == 304
        assert headers["etag"] == plain_tag
    # a client that no longer accepts gzip holds no current identity copy: full body
    status, headers, body = raw(client, path, {**IDENTITY, "If-None-Match": gzip_tag})
    assert status == 200 and body and "content-encoding" not in headers
    # a stale tag of either kind: the full body
    status, _, _ = raw(client, path, {**GZIP, "If-None-Match": '"stale-gzip"'})
    assert status == 200


def test_head_carries_the_compressed_length(client: TestClient) -> None:
    path = a_claim_path(client)
    _, headers, packed = raw(client, path, GZIP)
    response = client.head(path, headers=GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(packed))
    assert response.headers["etag"] == headers["etag"]


def test_static_files_are_gzipped_without_byte_ranges(client: TestClient) -> None:
    css = "/static/dashboard.css"
    _, plain_headers, plain = raw(client, css, IDENTITY)
    status, headers, packed = raw(client, css, GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert "accept-ranges" not in headers
    assert headers["etag"] == gzip_etag(plain_headers["etag"])
    assert gzip.decompress(packed) == plain


def test_csv_export_is_gzipped(client: TestClient) -> None:
    _, _, plain = raw(client, "/api/v1/export.csv", IDENTITY)
    status, headers, packed = raw(client, "/api/v1/export.csv", GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == plain


def test_a_streamed_body_is_gzipped_as_it_streams() -> None:
    """A body sent in several messages: one gzip stream, no Content-Length, the ETag marked."""
    from starlette.types import Receive, Scope, Send

    from tracker.web.compression import Compression

    chunks = [b"period,value\n" + b"2025,1.5\n" * 200 for _ in range(3)]

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/csv"), (b"etag", b'"v1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    status, headers, packed = raw(TestClient(Compression(streaming)), "/", GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert "content-length" not in headers
    assert headers["etag"] == '"v1-gzip"'
    assert gzip.decompress(packed) == b"".join(chunks)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("deflate, gzip;q=0", False),
        ("*", True),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("identity", False),
        ("gzip;q=oops", False),
    ],
)
def test_accept_encoding_reading(header: str | None, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def test_gzip_etag_keeps_weakness_and_is_idempotent() -> None:
    assert gzip_etag('"abc"') == '"abc-gzip"'
    assert gzip_etag('W/"abc"') == 'W/"abc-gzip"'
    assert gzip_etag('"abc-gzip"') == '"abc-gzip"'
