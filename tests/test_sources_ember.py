"""Ember v1 adapter: a constructed yearly payload (documented shape; real per-fuel values)
through a real HttpFetcher; the key Ember echoes back is redacted in the stored body and URL.
"""

from __future__ import annotations

import json

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher, make_settings

from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec, ParseError, SourceError

PAYLOAD = "ember_v1_electricity-generation_yearly_CHN_constructed.json"
PLACEHOLDER = b"__ECHOED_API_KEY__"
KEY = "ember-live-key-9f8e7d6c5b4a"


def spec(**params) -> IndicatorSpec:
    return IndicatorSpec(
        key="ember_generation_chn",
        source="ember",
        params={"entity_code": "CHN", **params},
        unit="TWh",
    )


def echoing(request: httpx.Request) -> httpx.Response:
    """Answer like Ember: the request's api_key is echoed in stats.query_parameters_used."""
    key = request.url.params["api_key"].encode()
    return httpx.Response(200, content=fixture_bytes(PAYLOAD).replace(PLACEHOLDER, key))


def test_ember_total_is_the_sum_of_fuels():
    fetcher, _, seen = make_fetcher(echoing, make_settings(ember_api_key=KEY))
    result = get_source("ember").fetch(fetcher, spec())
    points = {p.period: p.value for p in result.points}
    # equals OWID's (Ember-based) total generation for China
    assert points == {"2024": 10086.88, "2025": 10583.36}
    request = seen[0]
    assert request.url.path == "/v1/electricity-generation/yearly"
    assert request.url.params["entity_code"] == "CHN"
    assert request.url.params["is_aggregate_series"] == "false"
    assert request.url.params["start_date"] == "2000"
    assert request.url.params["api_key"] == KEY


def test_ember_named_series():
    fetcher, _, _ = make_fetcher(echoing, make_settings(ember_api_key=KEY))
    result = get_source("ember").fetch(fetcher, spec(series="Solar"))
    assert {p.period: p.value for p in result.points} == {"2024": 839.04, "2025": 1174.96}


def test_ember_echoed_key_is_redacted_in_stored_body_and_url():
    fetcher, _, _ = make_fetcher(echoing, make_settings(ember_api_key=KEY))
    stored = get_source("ember").fetch(fetcher, spec()).responses[0]
    assert KEY.encode() not in stored.body
    assert KEY not in stored.url and "api_key=REDACTED" in stored.url
    echoed = json.loads(stored.body)["stats"]["query_parameters_used"]["api_key"]
    assert echoed == "REDACTED"
    # every other byte is kept as received
    assert stored.body == fixture_bytes(PAYLOAD).replace(PLACEHOLDER, b"REDACTED")


def test_ember_without_key_is_a_config_error_before_any_request():
    fetcher, _, seen = make_fetcher(echoing, make_settings())
    with pytest.raises(SourceError) as err:
        get_source("ember").fetch(fetcher, spec())
    assert err.value.kind == "config"
    assert seen == []


def test_ember_date_as_full_date_is_read_as_its_year():
    body = json.dumps(
        {
            "stats": {},
            "data": [
                {
                    "entity_code": "CHN",
                    "date": "2024-01-01",
                    "series": "Coal",
                    "is_aggregate_series": False,
                    "generation_twh": 5827.6,
                },
            ],
        }
    ).encode()
    points = list(get_source("ember").parse(body, spec()))
    assert [(p.period, p.value) for p in points] == [("2024", 5827.6)]


def test_ember_missing_value_field_is_schema_drift():
    body = json.dumps(
        {
            "stats": {},
            "data": [
                {"entity_code": "CHN", "date": "2024", "series": "Coal", "generation_gwh": 5827600}
            ],
        }
    ).encode()
    fetcher, _, _ = make_fetcher(
        lambda r: httpx.Response(200, content=body), make_settings(ember_api_key=KEY)
    )
    with pytest.raises(ParseError, match="generation_twh"):
        get_source("ember").fetch(fetcher, spec())
