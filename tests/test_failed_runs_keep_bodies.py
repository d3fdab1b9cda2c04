"""Every failed fetch keeps what it received, bounded by the body cap (issue 15, item 9): a
body nested too deeply to parse is a `parse` failure with the body saved (it was `internal`,
with nothing saved), and a redirect loop saves each response of the chain. SQLite and
PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_ingest_support import make_indicator

from tracker.config import Settings
from tracker.ingest import ingest_indicator, read_raw_body
from tracker.models import FetchRun
from tracker.sources.http import HttpFetcher

KEY = "worldbank.population.chn"


def _fetcher(settings: Settings, handler: object) -> HttpFetcher:
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)  # type: ignore[arg-type]
    tuned = settings.model_copy(update={"http_max_retries": 0})
    return HttpFetcher(client, tuned, sleep=lambda _s: None, rng=lambda: 0.0)


def _indicator(engine: Engine) -> None:
    make_indicator(
        engine,
        KEY,
        source="worldbank",
        params={"indicator": "SP.POP.TOTL", "country": "CHN"},
        unit="persons",
    )


def _run(engine: Engine) -> FetchRun:
    with Session(engine) as s:
        return s.exec(select(FetchRun)).one()


def test_a_body_nested_too_deeply_is_a_parse_failure_with_its_body_saved(
    engine: Engine, settings: Settings
) -> None:
    _indicator(engine)
    deep = b"[" * 100_000 + b"]" * 100_000
    http = _fetcher(
        settings,
        lambda r: httpx.Response(200, content=deep, headers={"content-type": "application/json"}),
    )
    summary = ingest_indicator(engine, http, KEY, trigger="test")
    assert summary.status == "error" and summary.error_kind == "parse", summary
    assert "nested too deeply" in (summary.error or "")
    run = _run(engine)
    (page,) = run.meta["responses"]
    assert page["bytes"] == len(deep) and page["status"] == 200
    with Session(engine) as s:
        assert read_raw_body(s, page["sha256"]) == deep


def test_a_redirect_loop_saves_every_response(engine: Engine, settings: Settings) -> None:
    _indicator(engine)
    http = _fetcher(
        settings,
        lambda r: httpx.Response(302, headers={"Location": str(r.url.copy_with(query=None))}),
    )
    summary = ingest_indicator(engine, http, KEY, trigger="test")
    assert summary.status == "error" and summary.error_kind == "redirect"
    run = _run(engine)
    assert [p["status"] for p in run.meta["responses"]] == [302] * 6
    assert run.http_status == 302
