"""Migration hygiene, on SQLite and PostgreSQL: empty → head, models agree, one head, round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

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
