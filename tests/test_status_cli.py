"""`tracker evaluate`: stores the status now, or replays a past date without writing."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_status_factories import at, china_claim, observe, owid_generation
from typer.testing import CliRunner

from tracker.cli import app
from tracker.models import Claim, Evaluation

DATA = owid_generation()


@pytest.fixture
def seeded(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    with Session(engine) as session:
        _, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], at("2026-03-01"))
        observe(session, usa, DATA["USA"], at("2026-03-01"))
        session.commit()
    return engine


def _evaluations(engine: Engine) -> list[Evaluation]:
    with Session(engine) as session:
        return list(session.exec(select(Evaluation)).all())


def test_evaluate_stores_and_prints_a_table(seeded: Engine) -> None:
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    assert "china-power-3x-us-2030" in result.output
    assert "2.34 (2025)" in result.output
    assert ">= 3.0" in result.output
    assert "in 2030, log-linear" in result.output
    assert "(stored)" in result.output
    (row,) = _evaluations(seeded)
    with Session(seeded) as session:
        claim = session.exec(select(Claim)).one()
        assert claim.status_evaluation_id == row.id and claim.status_state == row.state
    again = CliRunner().invoke(app, ["evaluate", "--claim", "china-power-3x-us-2030"])
    assert again.exit_code == 0, again.output
    assert len(_evaluations(seeded)) == 1  # unchanged: nothing appended


def test_evaluate_as_of_replays_without_writing(seeded: Engine) -> None:
    before = CliRunner().invoke(app, ["evaluate", "--as-of", "2026-02-01"])
    assert before.exit_code == 0, before.output
    assert "as known on 2026-02-01" in before.output
    assert "no data yet" in before.output  # the data arrived on 2026-03-01
    after = CliRunner().invoke(
        app, ["evaluate", "--as-of", "2026-03-01", "--claim", "china-power-3x-us-2030"]
    )
    assert after.exit_code == 0, after.output
    assert "2.34 (2025)" in after.output
    assert _evaluations(seeded) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--claim", "nope"], "no claim with slug 'nope'"),
        (["evaluate", "--as-of", "01/02/2026"], "--as-of must be a date YYYY-MM-DD"),
    ],
)
def test_evaluate_errors_are_one_line(seeded: Engine, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
