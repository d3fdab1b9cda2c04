"""Ingest with provenance: vintages, raw bodies, FetchRuns, and every fault leaving data intact.

The upstream is OWID served from a recorded payload through httpx.MockTransport; the adapter,
the HTTP layer, the ingest and the database are the real ones (SQLite or PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session, select
from test_ingest_support import (
    OWID_CSV,
    T0,
    Upstream,
    count_rows,
    make_indicator,
    make_owid_indicator,
    observation_snapshot,
    owid_key,
    replace_value,
)

from tracker import observations
from tracker.db import session_scope
from tracker.ingest import UnknownIndicatorError, ingest_indicator, read_raw_body
from tracker.models import FetchRun, Indicator, JobRun, Observation, RawBody
from tracker.observations import observations_as_of, same_value, upsert_points
from tracker.scheduler import refresh_job, run_recorded
from tracker.sources.base import (
    IndicatorSpec,
    ParseError,
    Point,
    RecordedResponse,
    SourceResult,
)

DAY = dt.timedelta(days=1)


def current_values(engine, indicator_id, as_of=None):
    with Session(engine) as session:
        rows = observations_as_of(session, [indicator_id], as_of).get(indicator_id, [])
    return {r.period: r.value for r in rows}


# --- the write path on its own ---


def test_upsert_new_unchanged_revised_and_as_of(engine):
    ind = make_indicator(engine, "test.series")
    with session_scope(engine) as s:
        counts = upsert_points(
            s, ind, [Point("2023", 1.0), Point("2024", 2.0)], fetch_run_id=None, known_from=T0
        )
    assert (counts.new, counts.revised, counts.unchanged, counts.seen) == (2, 0, 0, 2)

    with session_scope(engine) as s:  # same values again: nothing written
        counts = upsert_points(
            s,
            ind,
            [Point("2023", 1.0 * (1 + 1e-15)), Point("2024", 2.0)],
            fetch_run_id=None,
            known_from=T0 + DAY,
        )
    assert (counts.new, counts.revised, counts.unchanged) == (0, 0, 2)
    assert count_rows(engine, Observation) == 2

    with session_scope(engine) as s:  # 2024 revised, 2025 new
        counts = upsert_points(
            s,
            ind,
            [Point("2024", 2.5), Point("2025", 3.0)],
            fetch_run_id=None,
            known_from=T0 + 2 * DAY,
        )
    assert (counts.new, counts.revised, counts.unchanged) == (1, 1, 0)
    assert count_rows(engine, Observation) == 4
    assert current_values(engine, ind) == {"2023": 1.0, "2024": 2.5, "2025": 3.0}
    assert current_values(engine, ind, T0 + DAY) == {"2023": 1.0, "2024": 2.0}
    assert current_values(engine, ind, T0 - DAY) == {}
    with Session(engine) as s:
        closed = s.exec(select(Observation).where(Observation.known_until.is_not(None))).all()
    assert [(o.period, o.value, o.known_until) for o in closed] == [("2024", 2.0, T0 + 2 * DAY)]


def test_upsert_duplicates_in_one_payload_last_wins_and_missing_values(engine):
    ind = make_indicator(engine, "test.dups")
    with session_scope(engine) as s:
        counts = upsert_points(
            s,
            ind,
            [Point("2020", 1.0), Point("2021", None), Point("2020", 7.0)],
            fetch_run_id=None,
            known_from=T0,
        )
    assert (counts.new, counts.seen) == (2, 3)
    assert current_values(engine, ind) == {"2020": 7.0, "2021": None}
    with session_scope(engine) as s:  # None == None is unchanged; None -> number is a revision
        counts = upsert_points(
            s,
            ind,
            [Point("2021", None), Point("2020", 7.0)],
            fetch_run_id=None,
            known_from=T0 + DAY,
        )
        assert (counts.unchanged, counts.revised) == (2, 0)
        counts = upsert_points(
            s, ind, [Point("2021", 4.0)], fetch_run_id=None, known_from=T0 + 2 * DAY
        )
        assert counts.revised == 1


def test_upsert_streams_in_batches_across_many_periods(engine, monkeypatch):
    ind = make_indicator(engine, "test.batches", unit="x")
    monkeypatch.setattr(observations, "UPSERT_BATCH_SIZE", 7)
    points = [Point(f"2020-01-{d:02d}", float(d)) for d in range(1, 32)]
    with session_scope(engine) as s:
        assert upsert_points(s, ind, iter(points), fetch_run_id=None, known_from=T0).new == 31
    changed = [Point(p.period, p.value + (1 if p.period.endswith("5") else 0)) for p in points]
    with session_scope(engine) as s:
        counts = upsert_points(s, ind, iter(changed), fetch_run_id=None, known_from=T0 + DAY)
    assert (counts.new, counts.revised, counts.unchanged) == (0, 3, 28)
    assert current_values(engine, ind)["2020-01-25"] == 26.0
    assert current_values(engine, ind, T0)["2020-01-25"] == 25.0


def test_upsert_vintage_points_build_history(engine):
    """FRED/ALFRED points carry known_from (a date): each vintage becomes a row."""
    ind = make_indicator(engine, "test.vintages", source="fred", unit="index")
    d1, d2 = dt.date(2024, 2, 13), dt.date(2024, 3, 11)
    vintages = [Point("2024-01-01", 308.417, known_from=d1), Point("2024-01-01", 308.491, d2)]
    with session_scope(engine) as s:
        counts = upsert_points(s, ind, vintages, fetch_run_id=None, known_from=T0)
    assert (counts.new, counts.revised) == (1, 1)
    at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert current_values(engine, ind, at) == {"2024-01-01": 308.417}
    assert current_values(engine, ind) == {"2024-01-01": 308.491}
    with session_scope(engine) as s:  # the same vintages again: all history already
        counts = upsert_points(s, ind, vintages, fetch_run_id=None, known_from=T0 + DAY)
    assert (counts.new, counts.revised, counts.unchanged) == (0, 0, 2)
    assert count_rows(engine, Observation) == 2


def test_same_value_tolerance():
    assert same_value(None, None)
    assert not same_value(None, 0.0)
    assert same_value(1e9, 1e9 + 1e-4)
    assert not same_value(1.0, 1.0 + 1e-9)
    assert same_value(0.0, 0.0)


# --- ingest_indicator end to end ---


def test_ingest_owid_records_provenance_and_real_values(engine, settings):
    upstream = Upstream()
    chn = make_owid_indicator(engine, "CHN")
    summary = ingest_indicator(
        engine, upstream.fetcher(settings), owid_key("CHN"), trigger="test", now=T0
    )
    assert summary.ok, summary.error
    assert summary.rows_new == 26 and summary.rows_revised == 0
    values = current_values(engine, chn)
    assert values["2025"] == 10583.36 and values["2000"] == 1355.6

    with Session(engine) as s:
        run = s.get(FetchRun, summary.fetch_run_id)
        assert run is not None
        assert run.status == "ok" and run.trigger == "test" and run.source == "owid"
        assert run.url is not None and run.url.startswith(
            "https://ourworldindata.org/grapher/electricity-generation.csv?"
        )
        assert run.http_status == 200 and run.attempts == 2  # csv + metadata, one try each
        assert run.rows_new == 26 and run.rows_seen == 26
        assert run.body_sha256 is not None and run.bytes == len(OWID_CSV) + len(upstream.meta)
        assert run.finished_at is not None and run.duration_ms is not None
        assert [r["status"] for r in run.meta["responses"]] == [200, 200]
        assert run.meta["source_meta"]["next_update"] == "2027-06-20"
        assert read_raw_body(s, run.body_sha256) == OWID_CSV
        stored = s.get(RawBody, run.body_sha256)
        assert stored is not None and stored.compression == "gzip"
        assert gzip.decompress(stored.content) == OWID_CSV and stored.size == len(OWID_CSV)
        indicator = s.get(Indicator, chn)
        assert indicator is not None
        assert indicator.last_fetch_run_id == run.id and indicator.last_success_at == T0
        assert indicator.next_update_expected == dt.date(2027, 6, 20)
        assert indicator.last_updated_upstream == dt.date(2026, 6, 20)
        obs = s.exec(select(Observation).where(Observation.indicator_id == chn)).all()
        assert {o.fetch_run_id for o in obs} == {run.id} and {o.known_from for o in obs} == {T0}


def test_revision_leaves_two_vintages_and_as_of_returns_old_value(engine, settings):
    upstream = Upstream()
    chn = make_owid_indicator(engine, "CHN")
    http = upstream.fetcher(settings)
    first = ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0)
    assert first.ok

    unchanged = ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0 + DAY)
    assert (unchanged.rows_new, unchanged.rows_revised, unchanged.rows_unchanged) == (0, 0, 26)
    assert count_rows(engine, Observation) == 26

    upstream.csv = replace_value(OWID_CSV, "CHN", 2024, "10100.5")
    second = ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0 + 10 * DAY)
    assert second.ok and (second.rows_new, second.rows_revised, second.rows_unchanged) == (0, 1, 25)
    with Session(engine) as s:
        rows = s.exec(
            select(Observation)
            .where(Observation.indicator_id == chn, Observation.period == "2024")
            .order_by(Observation.known_from)
        ).all()
    assert [(r.value, r.known_from, r.known_until) for r in rows] == [
        (10086.88, T0, T0 + 10 * DAY),
        (10100.5, T0 + 10 * DAY, None),
    ]
    assert [r.fetch_run_id for r in rows] == [first.fetch_run_id, second.fetch_run_id]
    assert current_values(engine, chn, T0 + 5 * DAY)["2024"] == 10086.88
    assert current_values(engine, chn)["2024"] == 10100.5


def test_same_body_twice_is_stored_once(engine, settings):
    upstream = Upstream()
    make_owid_indicator(engine, "CHN")
    make_owid_indicator(engine, "USA")
    http = upstream.fetcher(settings)
    for key, now in [("CHN", T0), ("CHN", T0 + DAY), ("USA", T0 + DAY)]:
        assert ingest_indicator(engine, http, owid_key(key), trigger="test", now=now).ok
    # one CSV body and one metadata body, whatever the number of fetches using them
    assert count_rows(engine, RawBody) == 2
    assert count_rows(engine, FetchRun) == 3


def test_unknown_indicator_is_a_clear_error(engine, settings):
    with pytest.raises(UnknownIndicatorError, match="unknown indicator 'nope'"):
        ingest_indicator(engine, Upstream().fetcher(settings), "nope", trigger="test")


# --- faults: each leaves a failed FetchRun and every stored observation unchanged ---


def _bad_csv(body: bytes) -> bytes:
    lines = body.decode().splitlines()
    lines.insert(12, "China,CHN,2030")  # too few fields halfway through CHN's rows
    return "\n".join(lines).encode()


def _drifted(body: bytes) -> bytes:
    return body.replace(b"total_generation__twh", b"generation_twh", 1)


def _raise(exc_type):
    def fault(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return fault


def _respond(status, content=b"", headers=None):
    return lambda request: httpx.Response(status, content=content, headers=headers or {})


def _csv_then_meta(csv_body: bytes):
    def fault(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, content=csv_body)
        return httpx.Response(200, content=b"{}")

    return fault


FAULTS = {
    "connect_timeout": (_raise(httpx.ConnectTimeout), "timeout", "ConnectTimeout"),
    "read_timeout": (_raise(httpx.ReadTimeout), "timeout", "ReadTimeout"),
    "5xx_exhausted": (_respond(503, b"upstream down"), "http", "HTTP 503"),
    "429": (_respond(429, b"slow down", {"Retry-After": "2"}), "http", "HTTP 429"),
    "body_too_large": (_csv_then_meta(OWID_CSV * 20), "too_large", "exceeds"),
    "malformed_csv": (_csv_then_meta(_bad_csv(OWID_CSV)), "parse", "line 13"),
    "schema_drift": (_csv_then_meta(_drifted(OWID_CSV)), "parse", "missing"),
    "empty_data": (_csv_then_meta(b"Entity,Code,Year,total_generation__twh\n"), "empty", "no data"),
    "redirect_other_host": (
        _respond(302, headers={"Location": "https://evil.example.org/steal.csv"}),
        "redirect",
        "refused redirect",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_recorded_and_changes_nothing(engine, settings, monkeypatch, fault):
    responder, kind, message_part = FAULTS[fault]
    monkeypatch.setattr(observations, "UPSERT_BATCH_SIZE", 3)  # partial writes before a late error
    upstream = Upstream()
    chn = make_owid_indicator(engine, "CHN")
    usa = make_owid_indicator(engine, "USA")
    http = upstream.fetcher(settings, http_max_body_bytes=20_000, http_max_retries=2)
    assert ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0).ok
    # upstream has revised every value, then breaks for China only
    upstream.csv = OWID_CSV.replace(b".", b".9", 200)
    upstream.faults["CHN"] = responder
    before = observation_snapshot(engine)
    raw_before = count_rows(engine, RawBody)

    failed = ingest_indicator(engine, http, owid_key("CHN"), trigger="test", now=T0 + DAY)
    other = ingest_indicator(engine, http, owid_key("USA"), trigger="test", now=T0 + DAY)

    assert failed.status == "error" and failed.error_kind == kind
    assert failed.error is not None and message_part in failed.error
    after = observation_snapshot(engine)
    assert after[: len(before)] == before  # every stored row identical, none closed
    assert [r for r in after if r[1] == chn] == [r for r in before if r[1] == chn]
    assert len([r for r in after if r[1] == usa]) == 26
    assert other.ok and other.rows_new == 26  # the other indicator is unaffected
    with Session(engine) as s:
        run = s.get(FetchRun, failed.fetch_run_id)
        assert run is not None
        assert run.status == "error" and run.error_kind == kind and run.error == failed.error
        assert run.finished_at is not None and run.indicator_id == chn
        indicator = s.get(Indicator, chn)
        assert indicator is not None
        assert indicator.last_error_at == T0 + DAY and indicator.last_fetch_run_id == run.id
        assert indicator.last_success_at == T0
        if fault not in ("connect_timeout", "read_timeout"):
            # the bodies seen are kept for diagnosis (a failed fetch has provenance too)
            assert run.meta.get("responses"), run.meta
            assert count_rows(engine, RawBody) > raw_before
        if fault in ("5xx_exhausted", "429"):
            assert run.http_status == int(message_part[-3:]) and run.attempts == 3

    # the same fault met by the scheduler: recorded on a JobRun, nothing raised, nothing changed
    job_id = f"refresh:{owid_key('CHN')}"
    run_recorded(engine, job_id, "test", partial(refresh_job, engine, http, owid_key("CHN")))
    with Session(engine) as s:
        job_run = s.exec(select(JobRun).where(JobRun.job_id == job_id)).one()
    assert job_run.status == "error" and job_run.error and message_part in job_run.error
    assert [r for r in observation_snapshot(engine) if r[1] == chn] == [
        r for r in before if r[1] == chn
    ]


def test_unexpected_exception_in_adapter_is_recorded(engine, settings):
    """A bug in an adapter (not a SourceError) is still a recorded failure, not a crash."""

    @dataclass
    class Broken:
        name: str = "owid"
        needs_key: bool = False

        def fetch(self, http, spec: IndicatorSpec) -> SourceResult:
            body = b"a,b\n1,2\n"
            response = RecordedResponse("https://example.org/x.csv", 200, body, "text/csv", 3)
            return SourceResult(points=self.parse(body, spec), responses=[response])

        def parse(self, body, spec):
            yield Point("2020", 1.0)
            raise ZeroDivisionError("division by zero in adapter")

    ind = make_indicator(engine, "test.broken")
    summary = ingest_indicator(engine, None, "test.broken", trigger="test", now=T0, source=Broken())
    assert summary.status == "error" and summary.error_kind == "internal"
    assert summary.error == "ZeroDivisionError: division by zero in adapter"
    assert count_rows(engine, Observation, Observation.indicator_id == ind) == 0
    with Session(engine) as s:
        run = s.get(FetchRun, summary.fetch_run_id)
        assert run is not None and run.url == "https://example.org/x.csv"
        assert run.body_sha256 is not None and read_raw_body(s, run.body_sha256) == b"a,b\n1,2\n"


def test_invalid_period_from_adapter_is_a_parse_error(engine):
    ind = make_indicator(engine, "test.badperiod")
    with session_scope(engine) as s, pytest.raises(ParseError, match="invalid period 'FY24'"):
        upsert_points(s, ind, [Point("FY24", 1.0)], fetch_run_id=None, known_from=T0)


# --- secrets ---


EMBER_KEY = "ember-secret-key-1234567890"


def _ember_payload(key: str) -> bytes:
    rows = [
        {
            "entity": "China",
            "entity_code": "CHN",
            "is_aggregate_entity": False,
            "date": str(year),
            "series": series,
            "is_aggregate_series": False,
            "generation_twh": value,
            "share_of_generation_pct": 50.0,
        }
        for year, series, value in [(2024, "Coal", 5800.0), (2024, "Solar", 834.0)]
    ]
    stats = {"query_parameters_used": {"api_key": key, "entity_code": "CHN"}}
    return json.dumps({"stats": stats, "data": rows}).encode()


def test_api_key_never_stored(engine, settings):
    """Ember echoes the key in its body; it reaches neither URL, raw body nor error."""
    seen_keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_keys.append(request.url.params.get("api_key", ""))
        if request.url.params.get("entity_code") == "USA":
            return httpx.Response(500, content=b"error for api_key=" + EMBER_KEY.encode())
        return httpx.Response(200, content=_ember_payload(EMBER_KEY))

    from tracker.sources.http import HttpFetcher

    secret_settings = settings.model_copy(
        update={"ember_api_key": SecretStr(EMBER_KEY), "http_max_retries": 0}
    )
    http = HttpFetcher(
        httpx.Client(transport=httpx.MockTransport(handler)), secret_settings, sleep=lambda _s: None
    )
    for code in ("CHN", "USA"):
        make_indicator(engine, f"ember.gen.{code}", source="ember", params={"entity_code": code})
    ok = ingest_indicator(engine, http, "ember.gen.CHN", trigger="test", now=T0)
    bad = ingest_indicator(engine, http, "ember.gen.USA", trigger="test", now=T0)
    assert seen_keys and set(seen_keys) == {EMBER_KEY}  # the key was really sent upstream
    assert ok.ok, ok.error
    assert bad.status == "error"
    with Session(engine) as s:
        runs = s.exec(select(FetchRun)).all()
        bodies = [gzip.decompress(b.content) for b in s.exec(select(RawBody)).all()]
    assert len(runs) == 2 and bodies
    for run in runs:
        text = json.dumps([run.url, run.error, run.meta])
        assert EMBER_KEY not in text
        assert run.url is not None and "api_key=REDACTED" in run.url
    for body in bodies:
        assert EMBER_KEY.encode() not in body
    assert any(b"REDACTED" in body for body in bodies)
    with Session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Observation)).scalar_one() == 1


def test_concurrent_ingests_of_one_indicator_never_duplicate_rows(engine, settings, backend):
    """Two processes fetching the same indicator at once (CLI while the scheduler runs)."""
    import threading

    upstream = Upstream()
    chn = make_owid_indicator(engine, "CHN")
    results = []

    def fetch() -> None:
        http = upstream.fetcher(settings)
        results.append(ingest_indicator(engine, http, owid_key("CHN"), trigger="test"))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    assert count_rows(engine, Observation, Observation.indicator_id == chn) == 26
    assert len(current_values(engine, chn)) == 26
    assert sum(r.rows_new for r in results) == 26
    if backend == "postgresql":  # the row lock serialises them: the second finds nothing new
        assert all(r.ok for r in results)
        assert sorted(r.rows_unchanged for r in results) == [0, 26]
    else:  # SQLite may refuse the second writer; then it is a recorded failed run, not damage
        assert all(r.ok or r.error_kind == "internal" for r in results)


FRED_KEY = "abcdef0123456789abcdef0123456789"
# ALFRED answer in FRED's format (example values from SOURCES-API.md: date 2024-01-01 is 308.417
# for realtime 2024-02-13..2024-03-10 and 308.491 from 2024-03-11)
ALFRED_BODY = json.dumps(
    {
        "realtime_start": "1776-07-04",
        "realtime_end": "9999-12-31",
        "count": 3,
        "offset": 0,
        "limit": 100000,
        "observations": [
            {
                "realtime_start": "2024-02-13",
                "realtime_end": "2024-03-10",
                "date": "2024-01-01",
                "value": "308.417",
            },
            {
                "realtime_start": "2024-03-11",
                "realtime_end": "9999-12-31",
                "date": "2024-01-01",
                "value": "308.491",
            },
            {
                "realtime_start": "2024-03-12",
                "realtime_end": "9999-12-31",
                "date": "2024-02-01",
                "value": ".",
            },
        ],
    }
).encode()


def test_fred_vintages_end_to_end_become_history(engine, settings):
    from tracker.sources.http import HttpFetcher

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["api_key"] == FRED_KEY
        return httpx.Response(
            200, content=ALFRED_BODY, headers={"content-type": "application/json"}
        )

    fred_settings = settings.model_copy(update={"fred_api_key": SecretStr(FRED_KEY)})
    http = HttpFetcher(httpx.Client(transport=httpx.MockTransport(handler)), fred_settings)
    ind = make_indicator(
        engine,
        "fred.cpi",
        source="fred",
        unit="index",
        frequency="monthly",
        params={"series_id": "CPIAUCSL", "vintages": True},
    )
    first = ingest_indicator(engine, http, "fred.cpi", trigger="test", now=T0)
    assert first.ok, first.error
    assert (first.rows_new, first.rows_revised) == (2, 1)
    march_1 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert current_values(engine, ind, march_1) == {"2024-01": 308.417}
    assert current_values(engine, ind) == {"2024-01": 308.491, "2024-02": None}
    again = ingest_indicator(engine, http, "fred.cpi", trigger="test", now=T0 + DAY)
    assert again.ok and (again.rows_new, again.rows_revised, again.rows_unchanged) == (0, 0, 3)
    assert count_rows(engine, Observation) == 3
    with Session(engine) as s:
        run = s.get(FetchRun, first.fetch_run_id)
        assert run is not None and run.url is not None
        assert FRED_KEY not in run.url and "api_key=REDACTED" in run.url


def test_malformed_json_is_recorded_and_changes_nothing(engine, settings):
    """A JSON source (World Bank) answering garbage halfway through a document."""
    from tracker.sources.http import HttpFetcher

    good = json.dumps(
        [
            {"page": 1, "pages": 1, "per_page": 50, "total": 2},
            [
                {"countryiso3code": "CHN", "date": "2024", "value": 1408975000},
                {"countryiso3code": "CHN", "date": "2023", "value": 1410710000},
            ],
        ]
    ).encode()
    bodies = [good, good[: len(good) // 2]]  # the second answer is cut off

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[0], headers={"content-type": "application/json"})

    http = HttpFetcher(httpx.Client(transport=httpx.MockTransport(handler)), settings)
    ind = make_indicator(
        engine,
        "worldbank.population.chn",
        source="worldbank",
        unit="persons",
        params={"indicator": "SP.POP.TOTL", "country": "CHN"},
    )
    first = ingest_indicator(engine, http, "worldbank.population.chn", trigger="test", now=T0)
    assert first.ok and first.rows_new == 2, first.error
    before = observation_snapshot(engine)
    bodies.pop(0)
    failed = ingest_indicator(
        engine, http, "worldbank.population.chn", trigger="test", now=T0 + DAY
    )
    assert failed.status == "error" and failed.error_kind == "parse"
    assert failed.error is not None and "malformed JSON" in failed.error
    assert observation_snapshot(engine) == before
    assert current_values(engine, ind) == {"2023": 1410710000, "2024": 1408975000}
