"""Manifold adapter: the documented /prob and market examples through a real HttpFetcher;
the point's date comes from the fetcher's injected clock.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher

from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError

PROB = "manifold_v0_market_id_prob_example_from_docs.json"
MARKETS = "manifold_v0_markets_limit1_example_from_docs.json"


def test_manifold_prob_by_market_id_dated_by_the_injected_clock():
    fetcher, _, seen = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(PROB)),
        now=dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC),
    )
    spec = IndicatorSpec(
        key="m", source="manifold", params={"market_id": "abc123"}, unit="prob", frequency="point"
    )
    result = get_source("manifold").fetch(fetcher, spec)
    assert list(result.points) == [Point(period="2026-03-01", value=0.62)]
    assert seen[0].url.path == "/v0/market/abc123/prob"
    assert result.meta["fetched_on"] == dt.date(2026, 3, 1)


def test_manifold_by_slug_reads_probability():
    market = json.loads(fixture_bytes(MARKETS))[0]
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200, json=market))
    spec = IndicatorSpec(
        key="m",
        source="manifold",
        params={"slug": "will-i-write-a-new-blog-post-today"},
        unit="prob",
    )
    points = list(get_source("manifold").fetch(fetcher, spec).points)
    assert points == [Point(period="2026-11-28", value=0.8958175225896258)]
    assert seen[0].url.path == "/v0/slug/will-i-write-a-new-blog-post-today"


def test_manifold_multiple_choice_needs_answer_id():
    body = b'{"answerProbs": {"a1": 0.3, "a2": 0.7}}'
    spec = IndicatorSpec(key="m", source="manifold", params={"market_id": "x"}, unit="prob")
    fetcher, _, _ = make_fetcher(lambda r: httpx.Response(200, content=body))
    with pytest.raises(ParseError, match="answer_id"):
        get_source("manifold").fetch(fetcher, spec)
    chosen = IndicatorSpec(
        key="m", source="manifold", params={"market_id": "x", "answer_id": "a2"}, unit="prob"
    )
    assert [p.value for p in get_source("manifold").fetch(fetcher, chosen).points] == [0.7]


def test_manifold_parse_needs_the_fetch_date():
    spec = IndicatorSpec(key="m", source="manifold", params={"market_id": "x"}, unit="prob")
    with pytest.raises(ParseError):
        list(get_source("manifold").parse(fixture_bytes(PROB), spec))


def test_manifold_needs_an_id_or_slug():
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200))
    spec = IndicatorSpec(key="m", source="manifold", params={}, unit="prob")
    with pytest.raises(SourceError) as err:
        get_source("manifold").fetch(fetcher, spec)
    assert err.value.kind == "config" and seen == []
