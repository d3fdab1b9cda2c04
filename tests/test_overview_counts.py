"""The overview's counts (tracker.overview_counts) and queues (tracker.queries.deadline_queues):
the same numbers and claims as the plain per-claim queries give, on a mix of states; kept with
the connection only while the database is unchanged, so a write through another engine, another
process or the same connection shows at once; and read by index (partial and composite)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import sqlalchemy as sa
from dashboard_seed import make_evaluation as make_evaluation_with
from sqlmodel import Session, col, select
from test_api_support import make_claim, make_evaluation
from test_dashboard_outlook import _extra_claims
from test_list_queries import seed

from tracker import overdue, queries
from tracker.db import make_engine
from tracker.models import (
    UPCOMING_PREDICATE,
    Claim,
    Evaluation,
    Lifecycle,
    State,
)
from tracker.outlook import counts_by_outlook
from tracker.overview_counts import compute_counts, overview_counts

TODAY = dt.date(2029, 6, 1)
DAYS = 3660


def _mixed(engine: sa.Engine) -> None:
    """Claims in every queue: open ones (the seed), the outlook tester's, some awaiting data,
    some in review (two of them because their data is overdue), resolved, withdrawn and
    undated ones."""
    seed(engine, 0, 8)
    _extra_claims(engine)
    with Session(engine) as session:
        for n, state in enumerate(
            ["awaiting_data", "awaiting_data", "needs_review", "resolved_true", "void", "error"]
        ):
            deadline = None if n == 1 else dt.date(2031, 1, 1) - dt.timedelta(days=n)
            make_evaluation(session, make_claim(session, f"in-{n}", deadline=deadline), state=state)
        for n in range(2):
            claim = make_claim(session, f"overdue-{n}", deadline=dt.date(2030, 3, 1))
            make_evaluation_with(
                session,
                claim,
                "needs_review",
                "data overdue",
                review_reason="data_overdue",
                overdue_since=dt.date(2029, 1, 1),
            )
        gone = make_claim(session, "gone", lifecycle=Lifecycle.withdrawn.value)
        make_evaluation(session, gone, state="needs_review")
        session.commit()


def _expected(session: Session) -> dict[str, object]:
    """The counts as the plain queries give them (each reading every claim)."""
    plain = queries.upcoming_deadlines(session, TODAY, within_days=DAYS)
    joined_overdue = session.execute(
        sa.select(sa.func.count())
        .select_from(Claim)
        .join(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
        .where(
            col(Claim.lifecycle) == "active",
            col(Claim.status_state) == "needs_review",
            col(Evaluation.review_reason) == "data_overdue",
        )
    ).scalar_one()
    return {
        "by_state": queries.counts_by_state(session),
        "by_outlook": counts_by_outlook(session),
        "upcoming": len(plain.upcoming),
        "awaiting_data": len(plain.awaiting_data),
        "needs_review": len(plain.needs_review),
        "overdue": joined_overdue,
    }


def _got(session: Session) -> dict[str, object]:
    counts = overview_counts(session, TODAY, within_days=DAYS)
    return {
        "by_state": counts.by_state,
        "by_outlook": counts.by_outlook,
        "upcoming": counts.upcoming,
        "awaiting_data": counts.awaiting_data,
        "needs_review": counts.needs_review,
        "overdue": counts.overdue,
    }


def test_counts_and_queues_agree_with_the_plain_queries(engine) -> None:
    _mixed(engine)
    with Session(engine) as session:
        expected = _expected(session)
        assert _got(session) == expected
        assert expected["overdue"] == 2 and overdue.overdue_claims_count(session) == 2
        assert all(expected[k] for k in ("upcoming", "awaiting_data", "needs_review"))
        plain = queries.upcoming_deadlines(session, TODAY, within_days=DAYS)
        for limit in (1, 3, 50):
            queues = queries.deadline_queues(session, TODAY, within_days=DAYS, limit=limit)
            for got, want in (
                (queues.upcoming, plain.upcoming),
                (queues.awaiting_data, plain.awaiting_data),
                (queues.needs_review, plain.needs_review),
            ):
                assert [i.claim.slug for i in got] == [i.claim.slug for i in want][:limit]
                assert all(i.claimant is not None for i in got)
                assert all(i.evaluation is not None for i in got if i.claim.status_state)
            assert queues.upcoming_total == len(plain.upcoming)
            assert queues.needs_review_total == len(plain.needs_review)
            assert queues.awaiting_total == len(plain.awaiting_data)


def test_the_upcoming_condition_is_the_queue_rule() -> None:
    """ix_claim_upcoming's condition leaves out exactly the resolved, awaiting and in-review
    states the queue excludes (queries._due_between), and keeps never-evaluated claims."""
    excluded = set(queries.RESOLVED_STATES + queries.AWAITING_STATES + queries.REVIEW_STATES)
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        for state in [None, *(s.value for s in State)]:
            for lifecycle in ("active", "withdrawn"):
                held = conn.execute(
                    sa.text(
                        "SELECT 1 FROM (SELECT :lifecycle AS lifecycle, :state AS status_state) "
                        f"WHERE {UPCOMING_PREDICATE}"
                    ),
                    {"lifecycle": lifecycle, "state": state},
                ).scalar()
                assert bool(held) == (lifecycle == "active" and state not in excluded), state
    engine.dispose()


def _move(session: Session, slug: str, state: str, **values: object) -> None:
    claim = session.exec(select(Claim).where(col(Claim.slug) == slug)).one()
    make_evaluation_with(session, claim, state, f"now {state}", **values)


def test_a_write_from_another_engine_shows_at_once(db_url) -> None:
    reader, writer = make_engine(db_url), make_engine(db_url)
    try:
        _mixed(writer)
        with Session(reader) as session:
            before = _got(session)
            assert _got(session) == before  # kept: nothing changed
        with Session(writer) as session:
            _move(session, "claim-0001", "needs_review", review_reason="data_overdue")
            session.commit()
        with Session(reader) as session:
            after = _got(session)
            assert after == _expected(session)
        assert after["overdue"] == before["overdue"] + 1  # type: ignore[operator]
        assert after["needs_review"] == before["needs_review"] + 1  # type: ignore[operator]
        assert after["upcoming"] == before["upcoming"] - 1  # type: ignore[operator]
        with Session(writer) as session:  # a new claim, never evaluated: due, no data yet
            make_claim(session, "brand-new", deadline=dt.date(2030, 6, 1))
            session.commit()
        with Session(reader) as session:
            newer = _got(session)
            assert newer == _expected(session)
        assert newer["upcoming"] == after["upcoming"] + 1  # type: ignore[operator]
        assert newer["by_state"]["unevaluated"] == 2  # type: ignore[index]
    finally:
        reader.dispose()
        writer.dispose()


_WRITER = """
import sys
import sqlalchemy as sa
from tracker.db import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(sa.text(
        "UPDATE claim SET status_state = 'resolved_false', status_outlook = 'not_kept', "
        "status_review_reason = NULL WHERE slug = 'overdue-0'"
    ))
engine.dispose()
"""


def test_a_write_from_another_process_shows_at_once(engine, db_url) -> None:
    _mixed(engine)
    with Session(engine) as session:
        before = _got(session)
        assert _got(session) == before
    subprocess.run([sys.executable, "-c", _WRITER, db_url], check=True, timeout=120)
    with Session(engine) as session:
        after = _got(session)
        assert after == _expected(session)
    assert after["overdue"] == before["overdue"] - 1  # type: ignore[operator]
    assert after["by_state"]["resolved_false"] == before["by_state"].get("resolved_false", 0) + 1  # type: ignore[attr-defined,index]


def test_own_writes_count_and_a_rollback_is_not_kept(engine) -> None:
    _mixed(engine)
    with Session(engine) as session:
        before = _got(session)
        _move(session, "claim-0002", "awaiting_data")  # not committed
        during = _got(session)
        assert during == _expected(session)
        assert during["awaiting_data"] == before["awaiting_data"] + 1  # type: ignore[operator]
        session.rollback()
        assert _got(session) == before == _expected(session)
        _move(session, "claim-0002", "awaiting_data")
        session.commit()
        assert _got(session) == during


def test_counts_follow_the_day(engine) -> None:
    """The upcoming count covers [today, today + days]: a later day, without any write,
    counts afresh (claim-0000 is due 2030-01-01)."""
    _mixed(engine)
    with Session(engine) as session:
        on_time = overview_counts(session, dt.date(2029, 12, 31), within_days=DAYS)
        late = overview_counts(session, dt.date(2030, 1, 2), within_days=DAYS)
        horizon = dt.date(2030, 1, 2) + dt.timedelta(days=DAYS)
        assert late == compute_counts(session, dt.date(2030, 1, 2), horizon)
        plain = queries.upcoming_deadlines(session, dt.date(2030, 1, 2), within_days=DAYS)
        assert late.upcoming == len(plain.upcoming)
        assert on_time.upcoming - late.upcoming == 1  # claim-0000, due 2030-01-01, falls out


def test_an_unchanged_database_costs_one_statement(engine) -> None:
    """Read twice with nothing changed between: the second read is one statement (the check),
    not the counts. On PostgreSQL a write to another table keeps them too: only transactions
    that wrote to `claim` (claim_change, by trigger) count as a change."""
    _mixed(engine)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    def read_twice() -> None:
        seen.clear()
        with Session(engine) as session:
            first = overview_counts(session, TODAY, within_days=DAYS)
            sa.event.listen(engine, "before_cursor_execute", record)
            try:
                again = overview_counts(session, TODAY, within_days=DAYS)
            finally:
                sa.event.remove(engine, "before_cursor_execute", record)
        assert again == first

    read_twice()
    assert len(seen) == 1, seen  # the check, not the counts
    if engine.dialect.name == "postgresql":
        with Session(engine) as session:
            first = overview_counts(session, TODAY, within_days=DAYS)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE claimant SET name = 'Renamed' WHERE slug = 'person-1'"))
        seen.clear()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            with Session(engine) as session:
                assert overview_counts(session, TODAY, within_days=DAYS) == first
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        assert len(seen) == 1, seen


def test_queues_and_counts_read_by_index(engine) -> None:
    """The queries the overview sends use the indexes made for them (on SQLite, EXPLAIN QUERY
    PLAN; on PostgreSQL, EXPLAIN with the planner's other plans made expensive)."""
    _mixed(engine)
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            counts = compute_counts(session, TODAY, TODAY + dt.timedelta(days=DAYS))
            queries.deadline_queues(session, TODAY, within_days=DAYS, counts=counts)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    plans: list[str] = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_sort = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        for statement, parameters in seen:
            rows = conn.exec_driver_sql(explain + statement, parameters).all()  # type: ignore[arg-type]
            plans.append("\n".join(str(r[-1]) for r in rows))
    assert len(plans) == 5, plans  # tally, upcoming count, three queues
    assert "ix_claim_tally" in plans[0], plans[0]
    assert "ix_claim_upcoming" in plans[1], plans[1]
    assert "ix_claim_upcoming" in plans[2], plans[2]
    assert "ix_claim_queue" in plans[3] and "ix_claim_queue" in plans[4], plans[3:]


def _index_names(engine: sa.Engine) -> set[str]:
    """The claim table's indexes, expression indexes included (reflection skips them)."""
    query = (
        "SELECT indexname FROM pg_indexes WHERE tablename = 'claim'"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'claim'"
    )
    with engine.connect() as conn:
        return {str(name) for name in conn.execute(sa.text(query)).scalars()}


def test_the_migration_fills_review_reasons_and_round_trips(empty_db_url) -> None:
    """0011 fills `claim.status_review_reason` from each claim's status evaluation (NULL where
    it has none, or no reason), adds the overview's indexes, and downgrades cleanly."""
    from test_migrations import _rows_at_0001, _run

    _run(empty_db_url, "upgrade", "0001")
    _rows_at_0001(empty_db_url)
    _run(empty_db_url, "upgrade", "0009_claim_overview")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            newest = dict(
                conn.execute(
                    sa.text("SELECT claim_id, max(id) FROM evaluation GROUP BY claim_id")
                ).all()
            )
            assert set(newest) == {1, 2, 3}
            conn.execute(
                sa.text("UPDATE evaluation SET review_reason = 'data_overdue' WHERE id = :id"),
                {"id": newest[3]},
            )
            for claim_id in (2, 3):  # claim 1 keeps no status evaluation
                conn.execute(
                    sa.text("UPDATE claim SET status_evaluation_id = :e WHERE id = :c"),
                    {"e": newest[claim_id], "c": claim_id},
                )
        _run(empty_db_url, "upgrade", "0011_overview_scale")
        read = sa.text("SELECT id, status_review_reason FROM claim ORDER BY id")
        with engine.connect() as conn:
            assert conn.execute(read).all() == [(1, None), (2, None), (3, "data_overdue")]
        assert {"ix_claim_queue", "ix_claim_tally", "ix_claim_upcoming"} <= _index_names(engine)
        engine.dispose()
        _run(empty_db_url, "downgrade", "0009_claim_overview")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("claim")}
        assert "status_review_reason" not in columns
        assert not {"ix_claim_queue", "ix_claim_tally", "ix_claim_upcoming"} & _index_names(engine)
        engine.dispose()
        _run(empty_db_url, "upgrade", "0011_overview_scale")
        with engine.connect() as conn:
            assert conn.execute(read).all() == [(1, None), (2, None), (3, "data_overdue")]
    finally:
        engine.dispose()


def test_a_sweep_stores_each_claims_review_reason(engine) -> None:
    """`claim.status_review_reason` is the status evaluation's review reason after every sweep
    (the shipped claims and bundled data: medical-boom's data is overdue on 2026-11-28), and
    an extended wait takes the claim out of the overdue count."""
    from pathlib import Path

    from tracker import bundled, status
    from tracker.claims import sync_claims_dir

    claims_dir = Path(__file__).resolve().parents[1] / "claims"
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with Session(engine) as session:
        sync_claims_dir(session, claims_dir, now=start)
        session.commit()
    bundled.load_bundled(engine, now=start)

    def stored_and_evaluated(session: Session) -> tuple[dict[int, object], dict[int, object]]:
        rows = session.execute(
            sa.select(col(Claim.id), col(Claim.status_review_reason), col(Evaluation.review_reason))
            .select_from(Claim)
            .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
        ).all()
        return {i: s for i, s, _ in rows}, {i: e for i, _, e in rows}

    late = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    for now in (start, late):
        with Session(engine) as session:
            status.evaluate_claims(session, now=now)
            session.commit()
            stored, evaluated = stored_and_evaluated(session)
            assert stored == evaluated, now
    with Session(engine) as session:
        before = overview_counts(session, late.date(), within_days=DAYS)
        assert before.overdue >= 1 and before.overdue == overdue.overdue_claims_count(session)
        boom = session.exec(select(Claim).where(col(Claim.slug) == "medical-boom-2026-2035")).one()
        assert boom.status_review_reason == "data_overdue"
        overdue.extend_wait(
            session,
            boom,
            wait_until=dt.date(2027, 3, 1),
            reason="the agency said March",
            decided_by="tester",
            now=late,
        )
        session.commit()
        stored, evaluated = stored_and_evaluated(session)
        assert stored == evaluated
        after = overview_counts(session, late.date(), within_days=DAYS)
        assert after.overdue == before.overdue - 1
        assert after == _got_at(session, late.date())


def _got_at(session: Session, today: dt.date) -> object:
    return compute_counts(session, today, today + dt.timedelta(days=DAYS))
