"""HttpFetcher faults, each through the real client over httpx.MockTransport: timeouts,
backoff with jitter, Retry-After, retries exhausted, body-size cap, redirects, redaction.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest
from test_http_support import FIXED_NOW, make_fetcher, make_settings

from tracker.sources.base import SourceError
from tracker.sources.http import (
    USER_AGENT,
    HttpFetcher,
    make_http_client,
    parse_retry_after,
    redact_body,
    redact_url,
)

URL = "https://api.example.org/v1/data"
KEY = "s3cr3tKEY0123456789abcdef0123456"


def sequence(*steps):
    """A handler answering each request with the next step (a Response or an exception)."""
    pending = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        step = pending.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return handler


def test_client_has_timeouts_user_agent_and_no_auto_redirects():
    settings = make_settings(http_timeout_connect=2.5, http_timeout_read=11.0)
    client = make_http_client(settings)
    try:
        assert client.timeout.connect == 2.5
        assert client.timeout.read == 11.0
        assert client.headers["user-agent"] == USER_AGENT
        assert "tracker/" in USER_AGENT
        assert client.follow_redirects is False
    finally:
        client.close()


def test_connect_timeout_is_retried_then_reported_as_timeout():
    handler = sequence(*[httpx.ConnectTimeout("connect timed out")] * 4)
    fetcher, sleeps, seen = make_fetcher(handler)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL, {"q": "x"})
    assert err.value.kind == "timeout"
    assert len(seen) == 4  # http_max_retries=3 → 4 attempts
    assert len(sleeps) == 3
    assert "ConnectTimeout" in str(err.value)


def test_connect_timeout_then_success_returns_the_body():
    fetcher, sleeps, _ = make_fetcher(
        sequence(httpx.ConnectTimeout("slow"), httpx.Response(200, content=b"[]"))
    )
    response = fetcher.get(URL)
    assert response.body == b"[]"
    assert response.attempts == 2
    assert len(sleeps) == 1


def test_read_timeout_is_reported_as_timeout():
    fetcher, sleeps, seen = make_fetcher(sequence(*[httpx.ReadTimeout("read timed out")] * 4))
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "timeout"
    assert "ReadTimeout" in str(err.value)
    assert len(seen) == 4 and len(sleeps) == 3


def test_read_timeout_while_streaming_the_body_is_a_timeout():
    def stalled_body():
        yield b"Entity,Code,Year\n"
        raise httpx.ReadTimeout("stalled mid-body")

    settings = make_settings(http_max_retries=0)
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=stalled_body()), settings)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "timeout"


def test_other_transport_errors_are_network_errors():
    settings = make_settings(http_max_retries=1)
    fetcher, sleeps, _ = make_fetcher(
        sequence(httpx.ConnectError("name resolution failed"), httpx.ConnectError("again")),
        settings,
    )
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "network"
    assert "ConnectError again" in str(err.value)  # the last failure is the one reported
    assert len(sleeps) == 1


def test_5xx_then_success_backs_off_with_growing_delays():
    fetcher, sleeps, seen = make_fetcher(
        sequence(
            httpx.Response(503, content=b"busy"),
            httpx.Response(502, content=b"bad gateway"),
            httpx.Response(500, content=b"oops"),
            httpx.Response(200, content=b'{"ok": true}'),
        )
    )
    response = fetcher.get(URL)
    assert response.status == 200
    assert response.body == b'{"ok": true}'
    assert response.attempts == 4
    assert len(seen) == 4
    # base 0.5, rng fixed at 0.5: d = 0.5, 1, 2 → delay = 0.75·d
    assert sleeps == [0.375, 0.75, 1.5]
    assert sleeps[0] < sleeps[1] < sleeps[2]


@pytest.mark.parametrize("rng_value", [0.0, 0.25, 0.5, 0.999999])
def test_backoff_jitter_stays_within_bounds(rng_value):
    settings = make_settings(http_backoff_base=1.0, http_backoff_max=10.0)
    client = make_http_client(settings)
    try:
        fetcher = HttpFetcher(client, settings, sleep=lambda s: None, rng=lambda: rng_value)
        for attempt in range(1, 8):
            ceiling = min(10.0, 1.0 * 2 ** (attempt - 1))
            delay = fetcher.backoff_delay(attempt)
            assert ceiling / 2 <= delay <= ceiling
    finally:
        client.close()


def test_backoff_jitter_varies_with_the_random_source():
    values = iter([0.0, 1.0])
    settings = make_settings(http_max_retries=2)
    fetcher, sleeps, _ = make_fetcher(
        sequence(httpx.Response(500), httpx.Response(500), httpx.Response(200)),
        settings,
        rng=lambda: next(values),
    )
    fetcher.get(URL)
    assert sleeps == [0.25, 1.0]  # d=0.5 with jitter 0 → 0.25; d=1.0 with jitter 1 → 1.0


def test_429_honours_retry_after_seconds():
    fetcher, sleeps, _ = make_fetcher(
        sequence(
            httpx.Response(429, headers={"Retry-After": "7"}, content=b"slow down"),
            httpx.Response(200, content=b"fine"),
        )
    )
    response = fetcher.get(URL)
    assert response.body == b"fine"
    assert sleeps == [7.0]


def test_retry_after_as_http_date_is_honoured():
    when = email.utils.format_datetime(FIXED_NOW + dt.timedelta(seconds=12), usegmt=True)
    fetcher, sleeps, _ = make_fetcher(
        sequence(
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, content=b"fine"),
        )
    )
    fetcher.get(URL)
    assert sleeps == [12.0]


def test_retry_after_is_capped_at_backoff_max():
    fetcher, sleeps, _ = make_fetcher(
        sequence(
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, content=b"fine"),
        ),
        make_settings(http_backoff_max=30.0),
    )
    fetcher.get(URL)
    assert sleeps == [30.0]


def test_parse_retry_after_forms():
    assert parse_retry_after("5", FIXED_NOW) == 5.0
    assert parse_retry_after("Sat, 28 Nov 2026 05:00:30 GMT", FIXED_NOW) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2026 04:00:00 GMT", FIXED_NOW) == 0.0  # in the past
    assert parse_retry_after("soon", FIXED_NOW) is None
    assert parse_retry_after(None, FIXED_NOW) is None


def test_retries_exhausted_raise_http_error_with_every_response():
    fetcher, sleeps, seen = make_fetcher(lambda r: httpx.Response(503, content=b"down"))
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "http"
    assert err.value.http_status == 503
    assert len(seen) == 4
    assert [r.attempts for r in err.value.responses] == [1, 2, 3, 4]
    assert all(r.status == 503 and r.body == b"down" for r in err.value.responses)
    assert len(sleeps) == 3


def test_4xx_is_not_retried():
    fetcher, sleeps, seen = make_fetcher(lambda r: httpx.Response(400, content=b"bad"))
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "http" and err.value.http_status == 400
    assert len(seen) == 1 and sleeps == []


def test_ok_statuses_are_returned_not_raised():
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(404, content=b'{"error":{}}'))
    response = fetcher.get(URL, ok_statuses=(404,))
    assert response.status == 404


def test_body_over_the_limit_is_aborted_while_streaming():
    chunks_sent = []

    def endless():
        for _ in range(1000):
            chunks_sent.append(1)
            yield b"x" * 100

    settings = make_settings(http_max_body_bytes=1000)
    fetcher, sleeps, _ = make_fetcher(lambda r: httpx.Response(200, content=endless()), settings)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "too_large"
    assert "1000 bytes" in str(err.value)
    assert len(chunks_sent) < 20  # stopped reading soon after the limit, not at the end
    assert sleeps == []  # not retried
    assert err.value.responses[-1].status == 200


def test_declared_content_length_over_the_limit_is_refused():
    settings = make_settings(http_max_body_bytes=10)
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=b"y" * 11), settings)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "too_large"
    assert "Content-Length 11" in str(err.value)


def test_body_exactly_at_the_limit_is_accepted():
    settings = make_settings(http_max_body_bytes=10)
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=b"y" * 10), settings)
    assert fetcher.get(URL).body == b"y" * 10


def test_redirect_to_another_host_is_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.example.org":
            return httpx.Response(302, headers={"Location": "https://evil.example.net/steal"})
        return httpx.Response(200, content=b"should never be fetched")

    fetcher, _, seen = make_fetcher(handler)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL, {"api_key": KEY})
    assert err.value.kind == "redirect"
    assert [r.url.host for r in seen] == ["api.example.org"]
    assert "evil.example.net" in str(err.value)
    assert KEY not in str(err.value)
    assert err.value.responses[0].status == 302


def test_redirect_downgrading_https_to_http_is_refused():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(301, headers={"Location": "http://api.example.org/v1/data"})
    )
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "redirect"
    assert len(seen) == 1


def test_same_host_redirect_is_followed():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/data":
            return httpx.Response(301, headers={"Location": "/v2/data?format=json"})
        return httpx.Response(200, content=b"moved here")

    fetcher, _, seen = make_fetcher(handler)
    response = fetcher.get(URL)
    assert response.body == b"moved here"
    assert response.url == "https://api.example.org/v2/data?format=json"
    assert [r.url.path for r in seen] == ["/v1/data", "/v2/data"]


def test_redirect_loop_is_cut_off():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(302, headers={"Location": "https://api.example.org/v1/data"})
    )
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "redirect"
    assert len(seen) == 6


def test_redact_url_replaces_secret_params():
    url = f"https://api.example.org/x?series_id=A&api_key={KEY}&token=t0k3n&file_type=json"
    redacted = redact_url(url)
    assert KEY not in redacted and "t0k3n" not in redacted
    assert "api_key=REDACTED" in redacted and "token=REDACTED" in redacted
    assert "series_id=A" in redacted and "file_type=json" in redacted
    assert redact_url("https://x.org/a?b=1") == "https://x.org/a?b=1"
    assert "REDACTED" in redact_url("https://x.org/a?sig=abc", ["sig"])


def test_redact_body_keeps_other_bytes():
    body = b'{"stats":{"query_parameters_used":{"api_key":"' + KEY.encode() + b'"}},"data":[]}'
    assert redact_body(body, [KEY]) == (
        b'{"stats":{"query_parameters_used":{"api_key":"REDACTED"}},"data":[]}'
    )


def test_recorded_url_and_body_never_hold_the_secret():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["api_key"] == KEY  # the real key does go upstream
        return httpx.Response(200, content=b'{"echo": "' + KEY.encode() + b'"}')

    fetcher, _, _ = make_fetcher(handler)
    response = fetcher.get(URL, {"series_id": "X", "api_key": KEY})
    assert KEY not in response.url and "api_key=REDACTED" in response.url
    assert KEY.encode() not in response.body
    assert response.body == b'{"echo": "REDACTED"}'


@pytest.mark.parametrize(
    "step",
    [
        httpx.Response(500, content=b"error"),
        httpx.Response(403, content=b"forbidden"),
        httpx.ConnectTimeout(f"timed out connecting to {URL}?api_key={KEY}"),
        httpx.ConnectError(f"failed {URL}?api_key={KEY}"),
        httpx.Response(302, headers={"Location": f"https://other.example.com/?api_key={KEY}"}),
    ],
    ids=["5xx", "4xx", "timeout", "network", "redirect"],
)
def test_secret_never_appears_in_exception_text(step):
    fetcher, _, _ = make_fetcher(sequence(step, step), make_settings(http_max_retries=1))
    with pytest.raises(SourceError) as err:
        fetcher.get(URL, {"api_key": KEY})
    text = f"{err.value!s} {err.value!r} {err.value.args!r}"
    assert KEY not in text
    for recorded in err.value.responses:
        assert KEY not in recorded.url
        assert KEY.encode() not in recorded.body


def test_clock_must_be_timezone_aware():
    settings = make_settings()
    client = make_http_client(settings)
    try:
        fetcher = HttpFetcher(client, settings, now=lambda: dt.datetime(2026, 1, 1))
        with pytest.raises(ValueError):
            fetcher.now()
    finally:
        client.close()


def test_invalid_base_url_is_a_config_error():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200))
    with pytest.raises(SourceError) as err:
        fetcher.get("https://exa mple.org:notaport/x", {"api_key": KEY})
    assert err.value.kind == "config"
    assert KEY not in str(err.value)
    assert seen == []


def test_corrupt_compressed_body_is_a_network_error():
    settings = make_settings(http_max_retries=0)
    fetcher, _, _ = make_fetcher(
        lambda r: httpx.Response(
            200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"}
        ),
        settings,
    )
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "network"
    assert "DecodingError" in str(err.value)


def test_http_error_message_quotes_the_upstream_error_briefly():
    body = b'{"error_code":400,\n "error_message":"Bad Request.  The series does not exist."}'
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(400, content=body + b" " * 5000))
    with pytest.raises(SourceError) as err:
        fetcher.get(URL, {"api_key": KEY})
    message = str(err.value)
    assert "HTTP 400" in message and "The series does not exist." in message
    assert "\n" not in message and len(message) < 400
    assert KEY not in message


def test_a_large_body_is_held_once_not_copied_at_the_end():
    """Reading a streamed body allocates about one body's worth, not two (no final copy)."""
    import tracemalloc

    size = 16 * 1024 * 1024
    chunk = b"z" * 65536

    def stream():
        for _ in range(size // len(chunk)):
            yield chunk

    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=stream()))
    tracemalloc.start()
    try:
        body = fetcher.get(URL).body
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(body) == size and body[:3] == b"zzz" and isinstance(body, bytes)
    assert peak < 1.5 * size, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB body"


# --- issue 15, item 6: redirects stay within the exact origin (scheme, host, port) ---


@pytest.mark.parametrize(
    "location",
    [
        "https://api.example.org:8443/v1/data",  # same host, another port
        "http://api.example.org/v1/data",  # another scheme
        "https://API.example.org.evil.net/v1/data",  # another host
    ],
)
def test_redirect_to_another_origin_is_refused_and_the_hop_is_kept(location: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port in (None, 443) and request.url.host == "api.example.org":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=b"should never be fetched")

    fetcher, _, seen = make_fetcher(handler)
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "redirect" and "another origin" in str(err.value)
    assert len(seen) == 1
    assert [r.status for r in err.value.responses] == [302]


def test_redirect_to_the_explicit_default_port_is_the_same_origin() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/data":
            return httpx.Response(301, headers={"Location": "https://api.example.org:443/v2"})
        return httpx.Response(200, content=b"moved")

    fetcher, _, _ = make_fetcher(handler)
    assert fetcher.get(URL).body == b"moved"


def test_redirect_loop_keeps_every_hop() -> None:
    fetcher, _, _ = make_fetcher(
        lambda r: httpx.Response(302, headers={"Location": "https://api.example.org/v1/data"})
    )
    with pytest.raises(SourceError) as err:
        fetcher.get(URL)
    assert err.value.kind == "redirect"
    assert [r.status for r in err.value.responses] == [302] * 6
