"""ClinicalTrials.gov v2 adapter: yearly counts and nextPageToken paging (constructed
payloads in the documented shape) through a real HttpFetcher.
"""

from __future__ import annotations

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher

from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec, ParseError, RecordedResponse
from tracker.sources.clinicaltrials import iter_studies

SPEC = IndicatorSpec(
    key="interventional_trials_started",
    source="clinicaltrials",
    params={"measure": "interventional_trials_started", "years": [2024, 2025]},
    unit="count",
)


def counts(request: httpx.Request) -> httpx.Response:
    term = request.url.params["query.term"]
    year = term.split("RANGE[")[1][:4]
    return httpx.Response(
        200, content=fixture_bytes(f"clinicaltrials_v2_count_{year}_constructed.json")
    )


def test_clinicaltrials_counts_per_start_year():
    fetcher, sleeps, seen = make_fetcher(counts)
    result = get_source("clinicaltrials").fetch(fetcher, SPEC)
    assert [(p.period, p.value) for p in result.points] == [("2024", 24517.0), ("2025", 25083.0)]
    params = seen[0].url.params
    assert params["query.term"] == (
        "AREA[StartDate]RANGE[2024-01-01,2024-12-31] AND AREA[StudyType]INTERVENTIONAL"
    )
    assert params["countTotal"] == "true"
    assert params["pageSize"] == "1"
    assert params["format"] == "json"
    assert seen[0].url.path == "/api/v2/studies"
    assert len(result.responses) == 2
    assert sleeps == [1.0]  # one second between requests (robots.txt crawl delay)


def test_clinicaltrials_missing_total_count_is_schema_drift():
    body = fixture_bytes("clinicaltrials_v2_studies_page2_constructed.json")  # no totalCount
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=body))
    with pytest.raises(ParseError, match="totalCount"):
        get_source("clinicaltrials").fetch(fetcher, SPEC)


def test_iter_studies_follows_next_page_token_until_absent():
    def pages(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        name = "page1" if token is None else "page2"
        assert token in (None, "ZVNj7o2Elu8o3lpoWsGs")
        return httpx.Response(
            200, content=fixture_bytes(f"clinicaltrials_v2_studies_{name}_constructed.json")
        )

    fetcher, _, seen = make_fetcher(pages)
    responses: list[RecordedResponse] = []
    studies = list(
        iter_studies(
            fetcher, {"query.term": "AREA[Phase]PHASE3", "pageSize": 2}, responses=responses
        )
    )
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    assert ids == ["NCT09000011", "NCT09000012", "NCT09000013"]
    assert [r.url.params.get("pageToken") for r in seen] == [None, "ZVNj7o2Elu8o3lpoWsGs"]
    assert all(r.url.params["pageSize"] == "2" for r in seen)
    assert len(responses) == 2


def test_iter_studies_malformed_page_is_a_parse_error_with_provenance():
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=b'{"studies": 3}'))
    with pytest.raises(ParseError) as err:
        list(iter_studies(fetcher, {"query.term": "x"}))
    assert err.value.responses and err.value.responses[0].body == b'{"studies": 3}'
