"""The bundled real-data snapshot: loaded once as the first vintage, with provenance, through the
normal ingest path; superseded (not erased) by live fetches (both backends)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select
from test_ingest_support import (
    OWID_CSV,
    T0,
    Upstream,
    count_rows,
    make_indicator,
    make_owid_indicator,
    owid_key,
    replace_value,
)

from tracker.bundled import bundled_keys, load_bundled, manifest, snapshot_file
from tracker.ingest import ingest_indicator, read_raw_body
from tracker.models import FetchRun, Indicator, Observation, RawBody
from tracker.observations import observations_as_of
from tracker.startup import prepare_database

REPO = Path(__file__).resolve().parent.parent
DAY = dt.timedelta(days=1)


def values(engine, key, as_of=None):
    with Session(engine) as s:
        indicator = s.exec(select(Indicator).where(Indicator.key == key)).one()
        rows = observations_as_of(s, [indicator.id], as_of).get(indicator.id, [])
    return {r.period: r.value for r in rows}


def test_snapshot_covers_only_catalogue_keys_and_has_provenance():
    catalogue = yaml.safe_load((REPO / "claims" / "indicators.yaml").read_text())
    keys = {entry["key"] for entry in catalogue["indicators"]}
    assert set(bundled_keys()) <= keys
    rows = list(csv.DictReader(io.StringIO(snapshot_file().read_text())))
    assert {r["indicator_key"] for r in rows} == set(bundled_keys())
    info = manifest()
    assert info["retrieved_on"] == "2026-11-28"
    for key in bundled_keys():
        entry = info["indicators"][key]
        assert entry["upstream"] and entry["licence"] and "commit" in entry
    assert (snapshot_file().parent / "PROVENANCE.md").exists()


def test_load_bundled_first_vintage_with_provenance_and_idempotent(engine):
    chn = make_owid_indicator(engine, "CHN")
    make_owid_indicator(engine, "USA")
    make_indicator(engine, "worldbank.population.chn", source="worldbank", unit="persons")
    make_indicator(engine, "fred.uspbs", source="fred", unit="thousands")  # nothing bundled

    summary = load_bundled(engine, now=T0)
    assert sorted(s.indicator_key for s in summary.loaded) == [
        owid_key("CHN"),
        owid_key("USA"),
        "worldbank.population.chn",
    ]
    assert all(s.ok for s in summary.loaded), [s.error for s in summary.loaded]
    assert "epoch.max_training_compute" in summary.not_in_catalogue
    assert "loaded 3 indicator(s)" in summary.line()

    chn_values, usa_values = values(engine, owid_key("CHN")), values(engine, owid_key("USA"))
    assert chn_values["2025"] == 10583.36 and usa_values["2025"] == 4519.79
    assert round(chn_values["2025"] / usa_values["2025"], 2) == 2.34
    assert round(chn_values["2024"] / usa_values["2024"], 2) == 2.30
    assert len(chn_values) == 26
    population = values(engine, "worldbank.population.chn")
    assert population["2021"] == 1412360000 and population["2024"] == 1408975000

    body = snapshot_file().read_bytes()
    with Session(engine) as s:
        runs = s.exec(select(FetchRun).order_by(FetchRun.id)).all()  # type: ignore[arg-type]
        assert {r.trigger for r in runs} == {"bundled"} and len(runs) == 3
        run = next(r for r in runs if r.indicator_id == chn)
        assert run.url == "bundled:observations.csv" and run.source == "owid"
        assert run.status == "ok" and run.rows_new == 26
        assert run.body_sha256 == hashlib.sha256(body).hexdigest()
        assert read_raw_body(s, run.body_sha256) == body
        assert run.meta["source_meta"]["bundled"]["retrieved_on"] == "2026-11-28"
        assert "e7897aed" in run.meta["source_meta"]["bundled"]["commit"]
    assert count_rows(engine, RawBody) == 1  # one file, stored once for every indicator

    again = load_bundled(engine, now=T0 + DAY)
    assert again.loaded == [] and len(again.already_had_data) == 3
    assert count_rows(engine, FetchRun) == 3 and count_rows(engine, Observation) == 26 + 26 + 35


def test_live_fetch_supersedes_bundled_values_and_keeps_them_in_history(engine, settings):
    make_owid_indicator(engine, "CHN")
    assert load_bundled(engine, now=T0).loaded[0].ok
    upstream = Upstream()
    upstream.csv = replace_value(OWID_CSV, "CHN", 2024, "10090.1")
    live = ingest_indicator(
        engine, upstream.fetcher(settings), owid_key("CHN"), trigger="test", now=T0 + DAY
    )
    assert live.ok and (live.rows_new, live.rows_revised, live.rows_unchanged) == (0, 1, 25)
    assert values(engine, owid_key("CHN"))["2024"] == 10090.1
    assert values(engine, owid_key("CHN"), T0 + DAY / 2)["2024"] == 10086.88
    # an indicator with live data is never overwritten by the snapshot again
    assert load_bundled(engine, now=T0 + 2 * DAY).loaded == []


def test_serve_startup_syncs_catalogue_and_loads_bundled_real_data(settings, engine):
    """What a fresh install does: every bundled indicator of the real catalogue gets data."""
    fresh = settings.model_copy(
        update={
            "claims_dir": REPO / "claims",
            "sync_claims_on_start": True,
            "load_bundled_on_start": True,
        }
    )
    lines = prepare_database(fresh)
    assert any(line.startswith("bundled data: loaded 11 indicator(s)") for line in lines), lines
    chn, usa = values(engine, owid_key("CHN")), values(engine, owid_key("USA"))
    assert round(chn["2025"] / usa["2025"], 2) == 2.34
    assert values(engine, "owid.children_per_woman.owid_wrl") == {"2023": 2.251}
    assert values(engine, "openfda.novel_drug_approvals")["2023"] == 38
    assert values(engine, "epoch.max_training_compute")["2025"] == pytest.approx(5e26, rel=1e-9)
    assert values(engine, "epoch.models_above_1e25.usa")["2025"] == 6
    again = prepare_database(fresh)
    assert "bundled data: 0 new values; 11 indicator(s) already had data" in again, again
    assert count_rows(engine, FetchRun) == 11


def test_manifest_is_valid_json_listing_the_file():
    data = json.loads((snapshot_file().parent / "manifest.json").read_text())
    assert data["file"] == snapshot_file().name
