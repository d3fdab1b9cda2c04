"""FRED/ALFRED adapter: the recorded HQMCB10YR body through a real HttpFetcher, "." as
missing, vintages carrying known_from, and the key kept out of everything stored.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher, make_settings

from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec, Point, SourceError

RECORDED = "fred_series_observations_HQMCB10YR_recorded_2024-06-27.json"
VINTAGES = "fred_alfred_vintages_constructed.json"
KEY = "abcdef0123456789abcdef0123456789"  # 32 lower-case alphanumerics, like a real key


def spec(**params) -> IndicatorSpec:
    return IndicatorSpec(
        key="hqm_10y",
        source="fred",
        params={"series_id": "HQMCB10YR", **params},
        unit="percent",
        frequency="monthly",
    )


def test_fred_pins_recorded_values():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(RECORDED)),
        make_settings(fred_api_key=KEY),
    )
    result = get_source("fred").fetch(fetcher, spec())
    points = list(result.points)
    assert points[0] == Point(period="2023-01", value=4.98)
    assert {p.period: p.value for p in points} == {
        "2023-01": 4.98,
        "2023-02": 5.13,
        "2023-03": 5.18,
        "2023-04": 4.92,
        "2023-05": 5.09,
        "2023-06": 5.22,
    }
    assert all(p.known_from is None for p in points)
    request = seen[0]
    assert request.url.path == "/fred/series/observations"
    assert request.url.params["series_id"] == "HQMCB10YR"
    assert request.url.params["file_type"] == "json"
    assert request.url.params["api_key"] == KEY
    assert "realtime_start" not in request.url.params
    stored = result.responses[0]
    assert KEY not in stored.url and "api_key=REDACTED" in stored.url
    assert stored.body == fixture_bytes(RECORDED)


def test_fred_dot_is_a_missing_value():
    # The recorded body edited in memory: May 2023 replaced by FRED's missing marker ".".
    body = fixture_bytes(RECORDED).replace(b'"value":"5.09"', b'"value":"."')
    fetcher, _, _ = make_fetcher(
        lambda r: httpx.Response(200, content=body), make_settings(fred_api_key=KEY)
    )
    points = {p.period: p.value for p in get_source("fred").fetch(fetcher, spec()).points}
    assert points["2023-05"] is None
    assert points["2023-06"] == 5.22


def test_fred_vintages_carry_realtime_start():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(VINTAGES)),
        make_settings(fred_api_key=KEY),
    )
    result = get_source("fred").fetch(fetcher, spec(vintages=True))
    assert seen[0].url.params["realtime_start"] == "1776-07-04"
    assert seen[0].url.params["realtime_end"] == "9999-12-31"
    assert list(result.points) == [
        Point("2024-01", 308.417, known_from=dt.date(2024, 2, 13)),
        Point("2024-01", 308.491, known_from=dt.date(2024, 3, 11)),
        Point("2024-02", None, known_from=dt.date(2024, 3, 12)),
    ]


def test_fred_annual_frequency_gives_year_periods():
    annual = IndicatorSpec(
        key="x", source="fred", params={"series_id": "HQMCB10YR"}, unit="", frequency="annual"
    )
    points = list(get_source("fred").parse(fixture_bytes(RECORDED), annual))
    assert {p.period for p in points} == {"2023"}


def test_fred_weekly_and_quarterly_frequencies_give_iso_weeks_and_quarters():
    from tracker.sources.fred import period_for

    recorded = list(get_source("fred").parse(fixture_bytes(RECORDED), spec()))
    for frequency, kind in (("weekly", "W"), ("quarterly", "Q")):
        other = IndicatorSpec(
            key="x", source="fred", params={"series_id": "HQMCB10YR"}, unit="", frequency=frequency
        )
        points = list(get_source("fred").parse(fixture_bytes(RECORDED), other))
        assert len(points) == len(recorded) and all(f"-{kind}" in p.period for p in points)
    assert points[0].period == "2023-Q1" and recorded[0].period == "2023-01"
    assert period_for("2023-01-01", "weekly") == "2022-W52"  # ISO: 1 Jan 2023 is a Sunday
    assert period_for("2026-07-17", "weekly") == "2026-W29"  # a week ending Friday 07-17
    assert period_for("2026-07-01", "quarterly") == "2026-Q3"
    with pytest.raises(SourceError, match="not a date"):
        period_for("2026-13-01", "weekly")


def test_fred_without_key_is_a_config_error_before_any_request():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200), make_settings())
    with pytest.raises(SourceError) as err:
        get_source("fred").fetch(fetcher, spec())
    assert err.value.kind == "config"
    assert "TRACKER_FRED_API_KEY" in str(err.value)
    assert seen == []


def test_fred_http_error_text_and_responses_hold_no_key():
    body = b'{"error_code":400,"error_message":"Bad Request.  The series does not exist."}'
    fetcher, _, _ = make_fetcher(
        lambda r: httpx.Response(400, content=body), make_settings(fred_api_key=KEY)
    )
    with pytest.raises(SourceError) as err:
        get_source("fred").fetch(fetcher, spec())
    assert err.value.kind == "http" and err.value.http_status == 400
    assert KEY not in str(err.value)
    assert all(KEY not in r.url for r in err.value.responses)


def test_fred_follows_offset_pages_until_count():
    # The recorded body re-cut into two pages (count 6: 4 then 2), built here in memory.
    import json

    whole = json.loads(fixture_bytes(RECORDED))
    first = {**whole, "limit": 4, "observations": whole["observations"][:4]}
    second = {**whole, "offset": 4, "limit": 4, "observations": whole["observations"][4:]}
    pages = {"0": json.dumps(first).encode(), "4": json.dumps(second).encode()}
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=pages[r.url.params["offset"]]),
        make_settings(fred_api_key=KEY),
    )
    result = get_source("fred").fetch(fetcher, spec())
    assert [r.url.params["offset"] for r in seen] == ["0", "4"]
    assert [p.period for p in result.points] == [f"2023-0{m}" for m in range(1, 7)]


def test_fred_passes_request_parameters_through():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(RECORDED)),
        make_settings(fred_api_key=KEY),
    )
    get_source("fred").fetch(fetcher, spec(frequency="m", aggregation_method="avg"))
    assert seen[0].url.params["frequency"] == "m"
    assert seen[0].url.params["aggregation_method"] == "avg"
