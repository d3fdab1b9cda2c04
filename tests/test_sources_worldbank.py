"""World Bank v2 adapter: the recorded CHN population payload through a real HttpFetcher;
paging, null values, the one-element error array and malformed JSON.
"""

from __future__ import annotations

import json

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher

from tracker.sources import get_source
from tracker.sources.base import EmptyDataError, IndicatorSpec, ParseError, SourceError

SAMPLE = "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
ERROR = "worldbank_v2_error_invalid_value_constructed.json"
SPEC = IndicatorSpec(
    key="population_chn",
    source="worldbank",
    params={"indicator": "SP.POP.TOTL", "country": "CHN"},
    unit="persons",
)


def test_worldbank_pins_real_china_population():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200, content=fixture_bytes(SAMPLE)))
    result = get_source("worldbank").fetch(fetcher, SPEC)
    points = {p.period: p.value for p in result.points}
    assert points["2024"] == 1_408_975_000
    assert points["2021"] == 1_412_360_000  # the peak
    assert sorted(points) == [str(y) for y in range(2015, 2025)]
    request = seen[0]
    assert request.url.path == "/v2/country/CHN/indicator/SP.POP.TOTL"
    assert request.url.params["format"] == "json"
    assert request.url.params["per_page"] == "1000"
    assert request.url.params["page"] == "1"
    assert len(seen) == 1  # pages == 1
    assert result.responses[0].body == fixture_bytes(SAMPLE)
    assert result.meta["null_values_skipped"] == 0


def _split_into_pages(null_year: str | None = None) -> dict[str, bytes]:
    """The recorded sample re-cut into two pages of five (built here, not recorded)."""
    info, rows = json.loads(fixture_bytes(SAMPLE))
    if null_year:
        for row in rows:
            if row["date"] == null_year:
                row["value"] = None
    pages = {}
    for number, chunk in ((1, rows[:5]), (2, rows[5:])):
        page_info = {**info, "page": number, "pages": 2, "per_page": 5}
        pages[str(number)] = json.dumps([page_info, chunk]).encode()
    return pages


def test_worldbank_follows_pages_and_skips_nulls_counting_them():
    pages = _split_into_pages(null_year="2015")
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=pages[r.url.params["page"]])
    )
    result = get_source("worldbank").fetch(fetcher, SPEC)
    points = {p.period: p.value for p in result.points}
    assert [r.url.params["page"] for r in seen] == ["1", "2"]
    assert len(result.responses) == 2
    assert "2015" not in points  # null skipped…
    assert result.meta["null_values_skipped"] == 1  # …and counted
    assert points["2016"] == 1_387_790_000 and points["2024"] == 1_408_975_000


def test_worldbank_one_element_error_array_is_an_upstream_error():
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=fixture_bytes(ERROR)))
    with pytest.raises(SourceError) as err:
        get_source("worldbank").fetch(fetcher, SPEC)
    assert err.value.kind == "upstream"
    assert "Invalid value" in str(err.value)
    assert "The provided parameter value is not valid" in str(err.value)
    assert err.value.responses[0].body == fixture_bytes(ERROR)


def test_worldbank_malformed_json_is_a_parse_error():
    truncated = fixture_bytes(SAMPLE)[:400]
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=truncated))
    with pytest.raises(ParseError) as err:
        get_source("worldbank").fetch(fetcher, SPEC)
    assert err.value.kind == "parse"
    assert "malformed JSON" in str(err.value)
    assert err.value.responses[0].body == truncated


def test_worldbank_no_rows_is_empty_data():
    info, _ = json.loads(fixture_bytes(SAMPLE))
    body = json.dumps([{**info, "total": 0}, None]).encode()
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=body))
    with pytest.raises(EmptyDataError) as err:
        get_source("worldbank").fetch(fetcher, SPEC)
    assert err.value.kind == "empty"
    assert err.value.responses


def test_worldbank_missing_params_is_a_config_error_before_any_request():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200))
    bad = IndicatorSpec(key="x", source="worldbank", params={"indicator": "SP.POP.TOTL"}, unit="")
    with pytest.raises(SourceError) as err:
        get_source("worldbank").fetch(fetcher, bad)
    assert err.value.kind == "config" and "country" in str(err.value)
    assert seen == []
