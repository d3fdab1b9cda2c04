"""The overview (`/`) costs the same number of SQL statements however many claims there are:
its counts are aggregates over the claims' current-state columns (kept until the database
changes), its lists are bounded."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_list_queries import seed

from tracker.web.app import create_app


def overview_statements(client: TestClient, engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/", headers={"Accept-Encoding": "identity"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return seen


def test_overview_statements_do_not_grow_with_claims(settings, engine, clock) -> None:
    seed(engine, 0, 10)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        client.get("/")  # the first request's one-off work (the session key)
        small = overview_statements(client, engine)
        seed(engine, 10, 60)  # seven times the claims
        large = overview_statements(client, engine)
    # the counts (tracker.overview_counts) are kept with each pooled connection until the
    # database changes: a request on a connection that has them skips their two statements
    assert len(_without_counts(small)) == len(_without_counts(large)), (small, large)
    assert len(small) - len(_without_counts(small)) in (0, 2)
    assert len(large) - len(_without_counts(large)) == 2  # the seed wrote: counted afresh


def _without_counts(statements: list[str]) -> list[str]:
    return [
        s
        for s in statements
        if "GROUP BY claim.lifecycle" not in s and not s.startswith("SELECT count(*) FROM claim")
    ]


def test_the_migration_fills_outlooks_as_the_rule_does(engine) -> None:
    """0008 fills `claim.status_outlook` of existing rows with a frozen SQL copy of the rule:
    it agrees with tracker.outlook on every outlook the seeds cover."""
    import importlib.util
    from pathlib import Path

    from sqlmodel import Session
    from test_api_support import make_claim, make_evaluation
    from test_dashboard_outlook import _extra_claims

    import tracker

    _extra_claims(engine)
    seed(engine, 0, 3)
    with Session(engine) as session:
        for state, trend in [("needs_review", None), ("resolved_true", None), ("open", None)]:
            make_evaluation(
                session, make_claim(session, f"in-{state}-{trend}"), state=state, trend=trend
            )
        session.commit()
    path = Path(tracker.__file__).parent / "migrations/versions/20261207_0009_claim_overview.py"
    spec = importlib.util.spec_from_file_location("claim_outlook_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    read = sa.text("SELECT slug, status_outlook FROM claim ORDER BY slug")
    with Session(engine) as session:
        by_rule = session.execute(read).all()
        session.execute(sa.text("UPDATE claim SET status_outlook = NULL"))
        session.execute(sa.text(migration._FILL))
        assert session.execute(read).all() == by_rule
    assert len({outlook for _, outlook in by_rule}) >= 7, by_rule


def test_a_sweep_stores_the_outlook_its_rule_gives(engine) -> None:
    """`claim.status_outlook` is written by the sweep itself (tracker.status binds the rule per
    row): on the essay's claims and the bundled data, at dates before and after the deadlines,
    each claim's stored outlook is the one whose SQL rule selects it."""
    import datetime as dt
    from pathlib import Path

    from sqlmodel import Session, col, select

    from tracker import bundled, status
    from tracker.claims import sync_claims_dir
    from tracker.models import Claim, Evaluation
    from tracker.outlook import Outlook, outlook_clause

    claims_dir = Path(__file__).resolve().parents[1] / "claims"
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with Session(engine) as session:
        sync_claims_dir(session, claims_dir, now=start)
        session.commit()
    bundled.load_bundled(engine, now=start)
    seen: set[str] = set()
    for now in (
        start,
        dt.datetime(2027, 1, 2, tzinfo=dt.UTC),
        dt.datetime(2031, 7, 1, tzinfo=dt.UTC),
    ):
        with Session(engine) as session:
            status.evaluate_claims(session, now=now)
            session.commit()
            stored = dict(session.exec(select(Claim.id, Claim.status_outlook)).all())
            by_rule: dict[int, str] = {}
            for outlook in Outlook:
                rows = session.exec(
                    select(Claim.id)
                    .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
                    .where(outlook_clause(outlook))
                ).all()
                for claim_id in rows:
                    assert claim_id not in by_rule, (claim_id, outlook)
                    by_rule[claim_id] = outlook.value
        assert stored == by_rule, now
        seen.update(by_rule.values())
    assert len(seen) >= 3, seen  # the dates move the claims through several outlooks
