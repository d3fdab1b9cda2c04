"""Indicators declared over the API stay claims-as-code: a sync of a directory that does not list
one leaves it alone, `tracker claims export` writes it to indicators.yaml, a sync of that file
hands it to the file, and taking it out of the file again is refused with the reason."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker.claims import ClaimValidationError, check_claims_path, sync_claims_dir
from tracker.cli import app
from tracker.indicator_declarations import declare_indicator, validate_declaration
from tracker.models import Indicator

VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
KEY = "worldbank.population.ind"
DECLARATION = {
    "key": KEY,
    "title": "Population, India",
    "source": "worldbank",
    "params": {"indicator": "SP.POP.TOTL", "country": "IND"},
    "unit": "persons",
    "publication_lag_days": 190,
    "refresh": "weekly",
}


def _origin(engine: Engine) -> str | None:
    with Session(engine) as session:
        return session.exec(select(Indicator.origin).where(Indicator.key == KEY)).first()


def test_declared_indicator_round_trips_through_export_and_sync(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    claims = tmp_path / "claims"
    shutil.copytree(VALID, claims)
    with Session(engine) as session:
        sync_claims_dir(session, claims, now=NOW)
        declare_indicator(session, validate_declaration(DECLARATION), author="writer", now=NOW)
        session.commit()
    with Session(engine) as session:  # not listed in the file: left alone, not removed
        report = sync_claims_dir(session, claims, now=NOW)
        session.commit()
    assert not any(KEY in change for change in report.catalogue_changes)
    assert _origin(engine) == "api"

    out = tmp_path / "exported"
    result = CliRunner().invoke(
        app, ["claims", "export", str(out), "--all"], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    assert "1 of them declared over the API" in result.output
    listed = yaml.safe_load((out / "indicators.yaml").read_text(encoding="utf-8"))
    entry = next(i for i in listed["indicators"] if i["key"] == KEY)
    assert entry["params"] == DECLARATION["params"] and entry["source"] == "worldbank"
    assert check_claims_path(out).errors == []

    shutil.copy(out / "indicators.yaml", claims / "indicators.yaml")
    with Session(engine) as session:  # the file lists it now: the file owns it
        report = sync_claims_dir(session, claims, now=NOW)
        session.commit()
    assert f"indicator {KEY} updated" in report.catalogue_changes
    assert _origin(engine) == "file"

    shutil.copy(VALID / "indicators.yaml", claims / "indicators.yaml")
    with Session(engine) as session, pytest.raises(ClaimValidationError) as refused:
        sync_claims_dir(session, claims, now=NOW)
    (issue,) = [e for e in refused.value.errors if e.field == KEY]
    assert "declaration(s) made over the API" in issue.message
    assert "indicators.yaml" in issue.message
