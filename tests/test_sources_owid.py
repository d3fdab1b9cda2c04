"""OWID grapher adapter: the recorded electricity-generation CSV through a real HttpFetcher."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher

from tracker.sources import get_source
from tracker.sources.base import EmptyDataError, IndicatorSpec, ParseError
from tracker.sources.owid import parse_metadata

CSV = "owid_grapher_electricity-generation_CHN_USA_OWID_WRL_2000_2025.csv"
META = "owid_grapher_electricity-generation.metadata.json"


def spec(entity: str, column: str = "total_generation__twh") -> IndicatorSpec:
    return IndicatorSpec(
        key=f"electricity_generation_{entity.lower()}",
        source="owid",
        params={"chart": "electricity-generation", "column": column, "entity_code": entity},
        unit="TWh",
    )


def serve(csv_body: bytes, meta_body: bytes | None = None, meta_status: int = 200):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, content=csv_body, headers={"content-type": "text/csv"})
        if request.url.path.endswith(".metadata.json"):
            return httpx.Response(meta_status, content=meta_body or fixture_bytes(META))
        return httpx.Response(404)

    return handler


def test_owid_pins_real_2025_generation_china_and_us():
    fetcher, _, seen = make_fetcher(serve(fixture_bytes(CSV)))
    china = get_source("owid").fetch(fetcher, spec("CHN"))
    china_points = {p.period: p.value for p in china.points}
    assert china_points["2025"] == 10583.36
    assert china_points["2024"] == 10086.88
    assert len(china_points) == 26  # 2000..2025, China rows only

    us = get_source("owid").fetch(fetcher, spec("USA"))
    assert {p.period: p.value for p in us.points}["2025"] == 4519.79

    csv_request = seen[0]
    assert csv_request.url.path == "/grapher/electricity-generation.csv"
    assert csv_request.url.params["country"] == "CHN"
    assert csv_request.url.params["csvType"] == "filtered"
    assert csv_request.url.params["useColumnShortNames"] == "true"
    assert seen[1].url.path == "/grapher/electricity-generation.metadata.json"
    # provenance: both bodies are kept, the CSV verbatim
    assert china.responses[0].body == fixture_bytes(CSV)
    assert china.responses[0].status == 200
    assert china.meta["last_updated"] == dt.date(2025, 6, 26)
    assert china.meta["next_update"] == dt.date(2026, 6, 30)


def test_owid_missing_column_is_schema_drift_naming_it():
    drifted = fixture_bytes(CSV).replace(b"total_generation__twh", b"generation_twh", 1)
    fetcher, _, _ = make_fetcher(serve(drifted))
    with pytest.raises(ParseError) as err:
        get_source("owid").fetch(fetcher, spec("CHN"))
    assert "total_generation__twh" in str(err.value)
    assert err.value.kind == "parse"
    assert err.value.responses and err.value.responses[0].body == drifted


def test_owid_missing_year_column_is_schema_drift():
    drifted = fixture_bytes(CSV).replace(b"Entity,Code,Year,", b"Entity,Code,Period,", 1)
    fetcher, _, _ = make_fetcher(serve(drifted))
    with pytest.raises(ParseError, match="'Year' or 'Day'"):
        get_source("owid").fetch(fetcher, spec("CHN"))


def test_owid_day_column_gives_daily_periods():
    body = b"Entity,Code,Day,cases\nChina,CHN,2025-03-01,12.5\nChina,CHN,2025-03-02,13\n"
    points = list(get_source("owid").parse(body, spec("CHN", column="cases")))
    assert [(p.period, p.value) for p in points] == [("2025-03-01", 12.5), ("2025-03-02", 13.0)]


def test_owid_header_only_is_empty_data():
    fetcher, _, _ = make_fetcher(serve(b"Entity,Code,Year,total_generation__twh\n"))
    with pytest.raises(EmptyDataError) as err:
        get_source("owid").fetch(fetcher, spec("CHN"))
    assert err.value.kind == "empty"
    assert len(err.value.responses) == 2


def test_owid_metadata_failure_keeps_the_data_and_says_why():
    fetcher, _, _ = make_fetcher(serve(fixture_bytes(CSV), meta_status=404))
    result = get_source("owid").fetch(fetcher, spec("CHN"))
    assert {p.period: p.value for p in result.points}["2025"] == 10583.36
    assert result.meta["metadata_error"].startswith("http:")
    assert [r.status for r in result.responses] == [200, 404]


def test_parse_metadata_accepts_description_key_string_or_list():
    as_list = fixture_bytes(META)
    doc = json.loads(as_list)
    doc["columns"]["total_generation__twh"]["descriptionKey"] = "- first point\n- second point"
    as_string = json.dumps(doc).encode()
    for body in (as_list, as_string):
        info = parse_metadata(body, "total_generation__twh")
        assert info["last_updated"] == dt.date(2025, 6, 26)
        assert len(info["description_key"]) == 2
    assert parse_metadata(as_list, "no_such_column")["next_update"] is None


def test_owid_parse_streams_lazily():
    points = get_source("owid").parse(fixture_bytes(CSV), spec("USA"))
    assert not isinstance(points, list | tuple)
    assert next(iter(points)).period == "2000"


def test_owid_parse_of_a_large_csv_streams_in_small_memory():
    import tracemalloc

    rows = b"".join(b"China,CHN,%d,%d.25\n" % (1000 + i % 1000, i) for i in range(80_000))
    body = b"Entity,Code,Year,total_generation__twh\n" + rows  # ~1.8 MB
    assert len(body) > 1_500_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in get_source("owid").parse(body, spec("CHN")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 80_000
    assert peak < 300_000  # rows are never collected: far below the body size
