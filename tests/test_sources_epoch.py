"""Epoch AI adapter: the real notable-models CSV (quoted newlines) through a real
HttpFetcher: largest training run per year, by country, counts above a threshold.
"""

from __future__ import annotations

import httpx
import pytest
from test_http_support import fixture_bytes, make_fetcher

from tracker.sources import get_source
from tracker.sources.base import EmptyDataError, IndicatorSpec, ParseError

CSV = "epoch_notable_ai_models_subset.csv"


def spec(**params) -> IndicatorSpec:
    return IndicatorSpec(key="epoch", source="epoch", params=params, unit="FLOP")


def fetch_points(params, body=None):
    body = fixture_bytes(CSV) if body is None else body
    fetcher, _, seen = make_fetcher(lambda r: httpx.Response(200, content=body))
    result = get_source("epoch").fetch(fetcher, spec(**params))
    return {p.period: p.value for p in result.points}, seen, result


def test_epoch_largest_2025_run_is_5e26():
    points, seen, result = fetch_points({"measure": "max_training_compute"})
    assert points["2025"] == pytest.approx(5e26)  # Grok 4: 5.0000000000001e+26
    assert points["2024"] == pytest.approx(3.8e25)
    assert points["2023"] == pytest.approx(5e25)
    assert seen[0].url.path == "/data/generated/notable_ai_models.csv"
    assert result.responses[0].body == fixture_bytes(CSV)


def test_epoch_max_compute_by_country_accepts_aliases():
    china, _, _ = fetch_points({"measure": "max_training_compute_country", "country": "China"})
    usa, _, _ = fetch_points({"measure": "max_training_compute_country", "country": "USA"})
    assert usa["2025"] == pytest.approx(5e26)
    assert china["2025"] < usa["2025"]
    # recomputed from the same file with the csv module, independently of the adapter
    import csv
    import io

    rows = csv.DictReader(io.StringIO(fixture_bytes(CSV).decode("utf-8")))
    expected = max(
        float(r["Training compute (FLOP)"])
        for r in rows
        if r["Publication date"].startswith("2025")
        and r["Training compute (FLOP)"]
        and "China" in r["Country (of organization)"].split(",")
    )
    assert china["2025"] == expected


def test_epoch_count_above_threshold_by_country():
    us, _, _ = fetch_points(
        {"measure": "count_above", "country": "United States of America", "threshold_flop": 1e26}
    )
    assert us["2025"] == 3.0  # Grok 4, GPT-4.5, Grok 3
    assert us["2022"] == 0.0  # a year in the data, with none above the threshold
    china, _, _ = fetch_points({"measure": "count_above", "country": "CHN", "threshold_flop": 1e26})
    assert china["2025"] == 0.0


def test_epoch_file_param_selects_the_csv():
    _, seen, _ = fetch_points({"file": "large_scale_ai_models.csv"})
    assert seen[0].url.path == "/data/generated/large_scale_ai_models.csv"


def test_epoch_missing_compute_column_is_schema_drift():
    drifted = fixture_bytes(CSV).replace(b"Training compute (FLOP)", b"Training compute", 1)
    with pytest.raises(ParseError, match=r"Training compute \(FLOP\)"):
        fetch_points({"measure": "max_training_compute"}, body=drifted)


def test_epoch_malformed_csv_is_a_parse_error():
    bad = b'Model,Publication date,Training compute (FLOP)\n"GPT,2025-01-01,1e25\n'
    with pytest.raises(ParseError, match="malformed CSV"):
        fetch_points({}, body=bad)


def test_epoch_header_only_is_empty_data():
    header = fixture_bytes(CSV).split(b"\n", 1)[0] + b"\n"
    with pytest.raises(EmptyDataError):
        fetch_points({}, body=header)
