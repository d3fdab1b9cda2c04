"""Helpers for the source/HTTP tests: a real HttpFetcher over httpx.MockTransport serving
recorded payloads from tests/fixtures/sources, with a recorded (not real) sleep and clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx

from tracker.config import Settings
from tracker.sources.http import HttpFetcher, make_http_client

SOURCE_FIXTURES = Path(__file__).parent / "fixtures" / "sources"
FIXED_NOW = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def fixture_bytes(name: str) -> bytes:
    return (SOURCE_FIXTURES / name).read_bytes()


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "http_max_retries": 3,
        "http_backoff_base": 0.5,
        "http_backoff_max": 30.0,
        "run_scheduler": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_fetcher(
    handler: Handler,
    settings: Settings | None = None,
    *,
    rng: Callable[[], float] = lambda: 0.5,
    now: dt.datetime = FIXED_NOW,
) -> tuple[HttpFetcher, Sleeps, list[httpx.Request]]:
    """A real HttpFetcher whose client (from make_http_client) is served by `handler`."""
    settings = settings or make_settings()
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = make_http_client(settings, transport=httpx.MockTransport(recording))
    sleeps = Sleeps()
    fetcher = HttpFetcher(client, settings, sleep=sleeps, rng=rng, now=lambda: now)
    return fetcher, sleeps, seen


def test_helpers_serve_through_the_real_client():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200, content=b"ok"))
    response = fetcher.get("https://example.org/x", {"a": 1})
    assert response.body == b"ok"
    assert seen[0].headers["user-agent"].startswith("tracker/")
