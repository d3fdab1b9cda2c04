"""Opt-in checks against the live upstreams (TRACKER_LIVE_TESTS=1): do the URL patterns and
response shapes the adapters assume still hold? Never run by default; no keys needed.
"""

from __future__ import annotations

import os

import pytest

from tracker.config import Settings
from tracker.sources import get_source
from tracker.sources.base import IndicatorSpec
from tracker.sources.http import HttpFetcher, make_http_client

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("TRACKER_LIVE_TESTS") != "1", reason="live network: TRACKER_LIVE_TESTS=1"
    ),
]

CASES = [
    (
        "owid",
        {
            "chart": "electricity-generation",
            "column": "total_generation__twh",
            "entity_code": "CHN",
        },
        "annual",
    ),
    ("worldbank", {"indicator": "SP.POP.TOTL", "country": "CHN"}, "annual"),
    ("clinicaltrials", {"measure": "interventional_trials_started", "years": [2024]}, "annual"),
    ("openfda", {"measure": "original_approvals", "years": [2023]}, "annual"),
    ("epoch", {"measure": "max_training_compute"}, "annual"),
]


@pytest.mark.parametrize(("source", "params", "frequency"), CASES, ids=[c[0] for c in CASES])
def test_live_source_answers_in_the_expected_shape(source, params, frequency):
    settings = Settings(run_scheduler=False)
    with make_http_client(settings) as client:
        fetcher = HttpFetcher(client, settings)
        spec = IndicatorSpec(
            key=f"live.{source}", source=source, params=params, unit="", frequency=frequency
        )
        result = get_source(source).fetch(fetcher, spec)
        points = list(result.points)
    assert points, f"{source}: no points"
    assert all(p.value is None or p.value >= 0 for p in points)
