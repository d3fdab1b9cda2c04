"""openFDA adapter: per-year search totals (constructed payloads in the documented shape)
through a real HttpFetcher; a 404 NOT_FOUND year counts as 0.
"""

from __future__ import annotations

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher, make_settings

from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec, SourceError

BY_YEAR = {
    "2022": "openfda_drugsfda_orig_ap_2022_limit1_constructed.json",
    "2023": "openfda_drugsfda_orig_ap_2023_limit1_constructed.json",
}
NOT_FOUND = "openfda_not_found_constructed.json"
SPEC = IndicatorSpec(
    key="fda_original_approvals",
    source="openfda",
    params={"measure": "original_approvals", "start_year": 2022, "end_year": 2024},
    unit="count",
)


def handler(request: httpx.Request) -> httpx.Response:
    search = request.url.params["search"]
    for year, name in BY_YEAR.items():
        if f"[{year}0101 TO {year}1231]" in search:
            return httpx.Response(200, content=fixture_bytes(name))
    return httpx.Response(404, content=fixture_bytes(NOT_FOUND))


def test_openfda_counts_per_year_and_404_is_zero():
    fetcher, _, seen = make_fetcher(handler)
    result = get_source("openfda").fetch(fetcher, SPEC)
    assert [(p.period, p.value) for p in result.points] == [
        ("2022", 112.0),
        ("2023", 127.0),
        ("2024", 0.0),
    ]
    assert len(seen) == 3
    search = seen[0].url.params["search"]
    assert 'submissions.submission_type:"ORIG"' in search
    assert 'submissions.submission_status:"AP"' in search
    assert "submissions.submission_status_date:[20220101 TO 20221231]" in search
    assert seen[0].url.params["limit"] == "1"
    assert "api_key" not in seen[0].url.params  # no key configured: none sent
    assert [r.status for r in result.responses] == [200, 200, 404]


def test_openfda_sends_optional_key_and_never_stores_it():
    key = "openfda-key-0123456789"
    fetcher, _, seen = make_fetcher(handler, make_settings(openfda_api_key=key))
    result = get_source("openfda").fetch(fetcher, SPEC)
    assert seen[0].url.params["api_key"] == key
    assert all(key not in r.url for r in result.responses)


def test_openfda_default_years_end_at_the_clock_year():
    fetcher, _, _ = make_fetcher(handler)
    spec = IndicatorSpec(key="x", source="openfda", params={"start_year": 2024}, unit="count")
    result = get_source("openfda").fetch(fetcher, spec)
    assert [p.period for p in result.points] == ["2024", "2025", "2026"]  # clock: 2026-11-28


def test_openfda_other_404_errors_are_errors():
    body = b'{"error":{"code":"BAD_REQUEST","message":"Invalid search"}}'
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(404, content=body))
    with pytest.raises(SourceError) as err:
        get_source("openfda").fetch(fetcher, SPEC)
    assert err.value.kind == "upstream"
    assert err.value.responses


def test_openfda_missing_total_is_schema_drift():
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=b'{"meta":{}}'))
    with pytest.raises(SourceError) as err:
        get_source("openfda").fetch(fetcher, SPEC)
    assert err.value.kind == "parse" and "meta.results.total" in str(err.value)


def test_openfda_submission_class_code_narrows_the_search():
    fetcher, _, seen = make_fetcher(handler)
    spec = IndicatorSpec(
        key="x",
        source="openfda",
        params={"start_year": 2023, "end_year": 2023, "submission_class_code": "TYPE 1"},
        unit="count",
    )
    points = list(get_source("openfda").fetch(fetcher, spec).points)
    assert points[0].value == 127.0
    assert seen[0].url.params["search"].endswith(' AND submissions.submission_class_code:"TYPE 1"')
