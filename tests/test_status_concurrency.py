"""Concurrent evaluation runs on one database append each change once (SQLite and PostgreSQL).

Several `tracker serve` processes starting together each run the start-up evaluation; the
scheduler and an API write may evaluate the same claims at the same moment. The runs are
serialised per database (status.lock_evaluation_runs), so every run reads the fingerprints the
previous one committed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_status import _many_claims
from test_status_factories import at

from tracker.config import Settings
from tracker.db import make_engine
from tracker.models import Claim, Evaluation
from tracker.status import evaluate_claims, evaluate_step

CLAIMS = 6
RUNNERS = 4
NOW = at("2026-06-01")


def _seed(engine: Engine) -> list[int]:
    with Session(engine) as session:
        _many_claims(session, CLAIMS)
        session.commit()
        return [c.id for c in session.exec(select(Claim).order_by(col(Claim.id))) if c.id]


def _run_together(runners: list[Callable[[], object]]) -> None:
    """Start every runner at the same moment (a barrier) and re-raise the first failure."""
    barrier = threading.Barrier(len(runners))
    errors: list[BaseException] = []

    def go(run: Callable[[], object]) -> None:
        try:
            barrier.wait()
            run()
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(run,)) for run in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an evaluation run never finished"
    if errors:
        raise errors[0]


def _evaluations_per_claim(engine: Engine) -> Counter[int]:
    with Session(engine) as session:
        return Counter(session.exec(select(Evaluation.claim_id)).all())


@pytest.mark.parametrize("mode", ["sweep", "these claims"])
def test_concurrent_runs_append_one_evaluation_per_claim(engine: Engine, mode: str) -> None:
    ids = _seed(engine)

    def run() -> None:
        with Session(engine) as session:  # its own connection from the pool
            if mode == "sweep":  # start-up and the nightly job: skip unchanged claims
                evaluate_claims(session, now=NOW)
            else:  # API writes, the CLI: evaluate (and compare) every claim asked about
                evaluate_claims(session, now=NOW, claim_ids=ids)
            session.commit()

    _run_together([run] * RUNNERS)
    assert _evaluations_per_claim(engine) == Counter({i: 1 for i in ids})
    with Session(engine) as session:  # every claim points at its one evaluation
        claims = session.exec(select(Claim)).all()
        evaluations = {e.claim_id: e.id for e in session.exec(select(Evaluation))}
        assert {c.id: c.status_evaluation_id for c in claims} == evaluations
        assert {c.status_state for c in claims} == {"open"}

    _run_together([run] * RUNNERS)  # nothing changed: nothing appended by anyone
    assert _evaluations_per_claim(engine) == Counter({i: 1 for i in ids})


def test_processes_starting_together_evaluate_once(
    db_url: str, engine: Engine, settings: Settings
) -> None:
    """Three `tracker serve` start-ups (separate engines: separate connection pools) at once."""
    ids = _seed(engine)
    engines = [make_engine(db_url) for _ in range(3)]
    lines: list[str] = []
    try:
        _run_together([lambda e=e: lines.append(evaluate_step(settings, e)) for e in engines])
    finally:
        for e in engines:
            e.dispose()
    assert _evaluations_per_claim(engine) == Counter({i: 1 for i in ids})
    # one process evaluated the six claims; the others found nothing changed
    assert sorted(lines) == sorted(
        [f"evaluated {CLAIMS} claim(s) whose inputs changed"]
        + ["evaluated 0 claim(s) whose inputs changed"] * 2
    )
