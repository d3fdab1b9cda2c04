"""`tracker evaluate`: stores the status now, or replays a past date without writing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_status_factories import T0, at, china_claim, make_claim, observe, owid_generation
from typer.testing import CliRunner

from tracker.cli import app
from tracker.clock import FixedClock, use_clock
from tracker.models import Claim, ClaimRevision, Evaluation

DATA = owid_generation()


@pytest.fixture
def seeded(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        _revision(session, claim, T0)  # what `tracker sync` records with the claim
        observe(session, chn, DATA["CHN"], at("2026-03-01"))
        observe(session, usa, DATA["USA"], at("2026-03-01"))
        session.commit()
    return engine


def _revision(session: Session, claim: Claim, when: dt.datetime) -> None:
    assert claim.id is not None
    session.add(
        ClaimRevision(
            claim_id=claim.id,
            version=1,
            change="created",
            content_hash=claim.content_hash,
            content=claim.spec,
            created_at=when,
        )
    )


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


def test_evaluate_as_of_says_which_claims_tracker_did_not_know_then(seeded: Engine) -> None:
    with Session(seeded) as session:
        later = make_claim(session, "added-later", [], valid_from=at("2026-11-20"))
        _revision(session, later, at("2026-11-20"))
        make_claim(session, "never-synced", [])  # no revision at all
        session.commit()
    result = CliRunner().invoke(app, ["evaluate", "--as-of", "2026-06-01"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines() if line[:1] == "│"}
    assert "not known to tracker on that date" in rows["added-later"]
    assert "not known to tracker on that date" in rows["never-synced"]
    assert "open" not in rows["added-later"] and "insufficient" not in rows["added-later"]
    assert "2.34 (2025)" in rows["china-power-3x-us-2030"]  # known since 2026-01-10
    before = CliRunner().invoke(
        app, ["evaluate", "--as-of", "2026-01-05", "--claim", "china-power-3x-us-2030"]
    )
    assert before.exit_code == 0, before.output
    assert "not known to tracker on that date" in before.output
    assert "upcoming" not in before.output and "no data yet" not in before.output
    assert _evaluations(seeded) == []


def test_evaluate_refuses_a_future_as_of_like_the_api_and_dashboard(seeded: Engine) -> None:
    with use_clock(FixedClock(at("2026-11-28") + dt.timedelta(hours=9))):
        _refuses_a_future_as_of(seeded)


def _refuses_a_future_as_of(seeded: Engine) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--as-of", "2027-01-02"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: --as-of 2027-01-02 is in the future (today is 2026-11-28, UTC); "
        "pick a past date or today"
    ]
    assert "replay" not in result.output
    today = CliRunner().invoke(app, ["evaluate", "--as-of", "2026-11-28"])
    assert today.exit_code == 0, today.output
    assert "Claims as known on 2026-11-28 (replay" in today.output
    assert _evaluations(seeded) == []
