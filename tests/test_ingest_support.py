"""Shared helpers for the ingest, bundled, scheduler and data-API tests.

`Upstream` is a test double of the *upstream* (OWID's grapher API served through
httpx.MockTransport from recorded payloads); everything of ours runs for real.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.config import Settings
from tracker.db import session_scope
from tracker.models import Indicator, Observation
from tracker.sources.http import HttpFetcher

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
OWID_CSV = (FIXTURES / "owid_electricity-generation.csv").read_bytes()
OWID_META = (FIXTURES / "owid_electricity-generation.metadata.json").read_bytes()

T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)

Fault = Callable[[httpx.Request], httpx.Response]


def owid_key(code: str) -> str:
    return f"owid.electricity_generation.{code.lower()}"


def make_indicator(
    engine: Engine,
    key: str,
    *,
    source: str = "owid",
    params: dict[str, Any] | None = None,
    unit: str = "TWh",
    refresh: str = "daily",
    next_update_expected: dt.date | None = None,
    frequency: str = "annual",
) -> int:
    with session_scope(engine) as session:
        indicator = Indicator(
            key=key,
            source=source,
            params=params or {},
            unit=unit,
            refresh=refresh,
            next_update_expected=next_update_expected,
            frequency=frequency,
        )
        session.add(indicator)
        session.flush()
        assert indicator.id is not None
        return indicator.id


def make_owid_indicator(engine: Engine, code: str, **kwargs: Any) -> int:
    params = {
        "chart": "electricity-generation",
        "column": "total_generation__twh",
        "entity_code": code,
    }
    return make_indicator(engine, owid_key(code), params=params, **kwargs)


class Upstream:
    """OWID grapher served from recorded payloads; `faults[entity_code]` replaces the answer."""

    def __init__(self) -> None:
        self.csv = OWID_CSV
        self.meta = OWID_META
        self.faults: dict[str, Fault] = {}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        country = request.url.params.get("country", "")
        if country in self.faults:
            return self.faults[country](request)
        if request.url.path.endswith(".metadata.json"):
            return httpx.Response(
                200, content=self.meta, headers={"content-type": "application/json"}
            )
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, content=self.csv, headers={"content-type": "text/csv"})
        return httpx.Response(404, content=b"not found")

    def fetcher(self, settings: Settings, **overrides: Any) -> HttpFetcher:
        if overrides:
            settings = settings.model_copy(update=overrides)
        client = httpx.Client(transport=httpx.MockTransport(self.handler), follow_redirects=False)
        return HttpFetcher(client, settings, sleep=lambda _s: None, rng=lambda: 0.0)


def replace_value(csv_body: bytes, code: str, year: int, new_value: str) -> bytes:
    """The CSV with one cell changed (a revision upstream)."""
    out = []
    for line in csv_body.decode().splitlines():
        parts = line.split(",")
        if len(parts) == 4 and parts[1] == code and parts[2] == str(year):
            parts[3] = new_value
        out.append(",".join(parts))
    return ("\n".join(out) + "\n").encode()


def observation_snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    """Every observation row, every column, in id order (to prove nothing changed)."""
    table = Observation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def count_rows(engine: Engine, model: Any, *where: Any) -> int:
    table = model.__table__
    with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(table)
        for clause in where:
            stmt = stmt.where(clause)
        return int(conn.execute(stmt).scalar_one())


def build_health_zoo(engine: Engine, settings: Settings) -> dict[str, str]:
    """One indicator in each data-health state, as of T0 + 2h (see the expected dict below).

    Used by the data API and the dashboard's data-health tests.
    """
    from tracker.bundled import load_bundled
    from tracker.ingest import ingest_indicator

    upstream = Upstream()
    for code in ("CHN", "USA", "OWID_WRL", "FRA"):
        make_owid_indicator(engine, code)
    make_indicator(engine, "owid.never.fetched", params={"chart": "x", "column": "y"})
    make_indicator(engine, "fred.uspbs", source="fred", unit="thousands", params={"series_id": "X"})
    bundled = load_bundled(engine, now=T0)  # CHN and USA get the shipped snapshot
    assert {s.indicator_key for s in bundled.loaded if s.ok} == {owid_key("CHN"), owid_key("USA")}
    http = upstream.fetcher(settings, http_max_retries=0)
    assert ingest_indicator(
        engine, http, owid_key("USA"), trigger="test", now=T0 + dt.timedelta(hours=1)
    ).ok
    assert ingest_indicator(
        engine, http, owid_key("OWID_WRL"), trigger="test", now=T0 - dt.timedelta(days=10)
    ).ok
    upstream.faults["FRA"] = lambda request: httpx.Response(503, content=b"down")
    assert not ingest_indicator(engine, http, owid_key("FRA"), trigger="test", now=T0).ok
    return {
        owid_key("CHN"): "bundled",
        owid_key("USA"): "ok",
        owid_key("OWID_WRL"): "stale",
        owid_key("FRA"): "failing",
        "owid.never.fetched": "never_fetched",
        "fred.uspbs": "needs_key",
    }
