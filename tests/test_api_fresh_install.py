"""A fresh install, end to end: migrate, sync the shipped claims, load the bundled data, evaluate,
then ask the API about China's power output (2.34x the US's in 2025, projected to 2030)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tracker.config import Settings
from tracker.startup import prepare_database
from tracker.web.app import create_app

REPO_CLAIMS = Path(__file__).resolve().parents[1] / "claims"


def test_fresh_install_reports_china_ratio(empty_db_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=empty_db_url,
        data_dir=tmp_path / "data",
        claims_dir=REPO_CLAIMS,
        sync_claims_on_start=True,
        load_bundled_on_start=True,
        run_scheduler=False,
    )
    prepare_database(settings)
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/claims/china-power-3x-us-2030")
    assert r.status_code == 200, r.text
    status = r.json()["status"]
    assert status["metric"]["period"] == "2025"
    assert status["metric"]["value"] == pytest.approx(2.34, abs=0.005)
    assert status["threshold"] == 3.0
    assert status["projection"]["at"] == "2030"
    assert status["projection"]["value"] is not None
    assert (
        status["projection"]["low"] <= status["projection"]["value"] <= status["projection"]["high"]
    )
    assert status["state"] == "open" and status["trend"] in ("on_track", "off_track")
