"""Migration hygiene, on SQLite and PostgreSQL: empty → head, models agree, one head, round trip."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import status_change_oracle as oracle
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, select

from tracker import models  # noqa: F401  (registers every table)
from tracker.db import (
    MIGRATIONS_DIR,
    DatabaseError,
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade_to_head,
)
from tracker.models import Claim, UTCDateTime

REPO_ROOT = Path(__file__).resolve().parent.parent


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _run(url: str, action: str, target: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, target)
    finally:
        engine.dispose()


def test_empty_database_migrates_to_head(empty_db_url):
    assert _table_names(empty_db_url) == set()

    reached = upgrade_to_head(empty_db_url)

    assert reached is not None
    assert reached == head_revision()
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) == reached
    finally:
        engine.dispose()
    expected = set(SQLModel.metadata.tables) | {"alembic_version"}
    assert _table_names(empty_db_url) == expected


def test_upgrade_twice_is_a_no_op(empty_db_url):
    first = upgrade_to_head(empty_db_url)
    second = upgrade_to_head(empty_db_url)
    assert first == second == head_revision()


def test_models_and_migrations_agree(empty_db_url):
    upgrade_to_head(empty_db_url)
    assert _differences(empty_db_url) == []


def test_exactly_one_head_and_date_prefixed_revision_files():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"
    assert heads[0] == head_revision()
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files, "no migration files"
    for name in files:
        assert re.fullmatch(r"\d{8}_\w+\.py", name), f"revision file not date-prefixed: {name}"


def test_alembic_ini_at_repo_root_finds_the_same_migrations():
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    script_location = cfg.get_main_option("script_location")
    assert script_location is not None
    cfg.set_main_option("script_location", str(REPO_ROOT / script_location))
    assert ScriptDirectory.from_config(cfg).get_heads() == [head_revision()]


def test_downgrade_to_base_then_upgrade_again(empty_db_url):
    upgrade_to_head(empty_db_url)

    _run(empty_db_url, "downgrade", "base")

    assert _table_names(empty_db_url) <= {"alembic_version"}
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
    finally:
        engine.dispose()

    assert upgrade_to_head(empty_db_url) == head_revision()
    assert _differences(empty_db_url) == []


def test_constraints_and_indexes_follow_the_naming_convention(empty_db_url):
    upgrade_to_head(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        inspector = sa.inspect(engine)
        names: list[str] = []
        for table in SQLModel.metadata.tables:
            names += [ix["name"] for ix in inspector.get_indexes(table) if ix["name"]]
            names += [uq["name"] for uq in inspector.get_unique_constraints(table) if uq["name"]]
            names += [fk["name"] for fk in inspector.get_foreign_keys(table) if fk["name"]]
    finally:
        engine.dispose()
    assert names, "no named constraints or indexes found"
    for name in names:
        assert name.startswith(("ix_", "uq_", "fk_", "ck_", "pk_")), name


def test_database_at_an_unknown_revision_is_a_clear_error(empty_db_url):
    upgrade_to_head(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    finally:
        engine.dispose()

    with pytest.raises(DatabaseError, match="cannot migrate database") as info:
        upgrade_to_head(empty_db_url)
    assert "ffffffffffff" in str(info.value)
    assert "\n" not in str(info.value)


# --- 0002: the status-change columns of evaluation, backfilled ---

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


def _table(
    name: str, *columns: str, times: tuple[str, ...] = (), json: tuple[str, ...] = ()
) -> sa.TableClause:
    """A table as revision 0001 knows it (only the columns written here)."""
    typed = [sa.column(c, UTCDateTime()) for c in times] + [sa.column(c, sa.JSON()) for c in json]
    return sa.table(name, *(sa.column(c) for c in columns), *typed)


# (claim, hours after T0, state, trend): inserted in this order (ids follow it)
HISTORY_AT_0001 = [
    (1, 0, "open", "on_track"),  # first
    (2, 1, "open", None),  # first
    (1, 1, "open", "on_track"),  # metric only
    (2, 1, "open", None),  # a duplicate at the same time
    (1, 2, "open", "off_track"),  # trend only
    (2, 5, "open", "insufficient_data"),  # trend from none
    (1, 6, "resolved_false", None),  # state and trend
    (3, 7, "needs_review", None),  # first
    (3, 3, "upcoming", None),  # inserted later but earlier in time: the LAG orders by time
    (1, 8, "resolved_false", None),  # metric only
]


def _rows_at_0001(url: str) -> None:
    claimant = _table("claimant", "id", "slug", "name", "kind", times=("created_at",))
    claim = _table(
        "claim",
        *("id", "slug", "title", "claimant_id", "stated_precision", "kind", "lifecycle"),
        *("origin", "content_hash", "version", "criteria_version"),
        times=("created_at", "updated_at"),
        json=("tags", "spec"),
    )
    evaluation = _table(
        "evaluation",
        *("claim_id", "claim_version", "state", "trend", "reason", "metric_value"),
        *("fingerprint", "evaluator_version"),
        times=("evaluated_at", "as_of"),
        json=("details", "evidence"),
    )
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(claimant),
                [{"id": 1, "slug": "musk", "name": "Musk", "kind": "person", "created_at": T0}],
            )
            conn.execute(
                sa.insert(claim),
                [
                    {
                        "id": i,
                        "slug": f"claim-{i}",
                        "title": f"Claim {i}",
                        "claimant_id": 1,
                        "stated_precision": "day",
                        "kind": "hard",
                        "lifecycle": "active",
                        "origin": "file",
                        "content_hash": "0" * 64,
                        "version": 1,
                        "criteria_version": 1,
                        "created_at": T0,
                        "updated_at": T0,
                        "tags": [],
                        "spec": {},
                    }
                    for i in (1, 2, 3)
                ],
            )
            for n, (claim_id, hours, state, trend) in enumerate(HISTORY_AT_0001):
                at = T0 + dt.timedelta(hours=hours)
                conn.execute(
                    sa.insert(evaluation),
                    {
                        "claim_id": claim_id,
                        "claim_version": 1,
                        "state": state,
                        "trend": trend,
                        "reason": f"reason {n}",
                        "metric_value": float(n),
                        "fingerprint": f"{n:064d}",
                        "evaluator_version": "test",
                        "evaluated_at": at,
                        "as_of": at,
                        "details": {},
                        "evidence": {},
                    },
                )
    finally:
        engine.dispose()


def test_upgrade_backfills_the_status_change_columns_as_the_lag_gave_them(empty_db_url):
    """Evaluations made before 0002 get the previous state and trend, and the kind of change,
    that the LAG formulation gives, so the upgraded database answers the change queries as the
    old queries did; a downgrade keeps every evaluation."""
    _run(empty_db_url, "upgrade", "0001")
    _rows_at_0001(empty_db_url)

    upgrade_to_head(empty_db_url)

    engine = make_engine(empty_db_url)
    try:
        with Session(engine) as s:
            stored = oracle.stored_columns(s)
            assert stored == oracle.expected_columns(s)
            assert [columns for _, *columns in stored] == [
                [None, None, "first"],
                [None, None, "first"],
                ["open", "on_track", None],
                ["open", None, None],
                ["open", "on_track", "moved"],
                ["open", None, "moved"],
                ["open", "off_track", "moved"],
                ["upcoming", None, "moved"],
                [None, None, "first"],
                ["resolved_false", None, None],
            ]
            oracle.assert_queries_match(s)
    finally:
        engine.dispose()

    _run(empty_db_url, "downgrade", "0001")
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM evaluation")).scalar_one()
            assert count == len(HISTORY_AT_0001)
            columns = {c["name"] for c in sa.inspect(conn).get_columns("evaluation")}
            assert "status_change" not in columns
    finally:
        engine.dispose()


# --- 0003: each claim's last check, backfilled from its current evaluation ---


def test_upgrade_backfills_each_claims_last_check_from_its_current_evaluation(empty_db_url):
    """Claims evaluated before 0003 get the time, inputs key, watermark and stable-until date of
    their current evaluation (what the sweep compared with before), so an upgraded database
    skips the same claims; claims without an evaluation stay unchecked (NULL)."""
    _run(empty_db_url, "upgrade", "0001")
    _rows_at_0001(empty_db_url)
    _run(empty_db_url, "upgrade", "0002")
    claim = _table("claim", "id", "status_evaluation_id")
    evaluation = _table("evaluation", "id", "claim_id", times=("evaluated_at",), json=("details",))
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            current = {}  # claims 1 and 2: their latest evaluation (claim 3 keeps none)
            for claim_id, row_id, at in conn.execute(
                sa.select(evaluation.c.claim_id, evaluation.c.id, evaluation.c.evaluated_at)
                .where(evaluation.c.claim_id.in_([1, 2]))
                .order_by(evaluation.c.id)
            ):
                current[claim_id] = (row_id, at)
            details = {
                1: {"inputs_key": "a" * 64, "data_watermark": 41, "stable_until": "2031-01-01"},
                2: {"inputs_key": "b" * 64, "data_watermark": 7, "stable_until": None},
            }
            for claim_id, (row_id, _) in current.items():
                conn.execute(
                    sa.update(evaluation)
                    .where(evaluation.c.id == row_id)
                    .values(details=details[claim_id])
                )
                conn.execute(
                    sa.update(claim)
                    .where(claim.c.id == claim_id)
                    .values(status_evaluation_id=row_id)
                )
    finally:
        engine.dispose()

    upgrade_to_head(empty_db_url)

    engine = make_engine(empty_db_url)
    try:
        with Session(engine) as s:
            rows = {
                c.id: (
                    c.status_checked_at,
                    c.status_inputs_key,
                    c.status_data_watermark,
                    c.status_stable_until,
                )
                for c in s.exec(select(Claim)).all()
            }
        assert rows == {
            1: (current[1][1], "a" * 64, 41, dt.date(2031, 1, 1)),
            2: (current[2][1], "b" * 64, 7, None),
            3: (None, None, None, None),
        }
    finally:
        engine.dispose()

    _run(empty_db_url, "downgrade", "0002")
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("claim")}
            assert "status_checked_at" not in columns
            assert conn.execute(sa.text("SELECT count(*) FROM claim")).scalar_one() == 3
    finally:
        engine.dispose()
