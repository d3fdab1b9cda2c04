"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

The backend is chosen by TRACKER_TEST_DATABASE_URL (unset: SQLite). Migrations run once per
session into a template; each test gets its own copy (SQLite: a file copy; PostgreSQL: a new
database created from the template), so tests never share state.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from tracker.clock import FixedClock, use_clock
from tracker.config import Settings
from tracker.db import make_engine, upgrade_to_head

FIXTURES = Path(__file__).parent / "fixtures"


def _pg_admin_url(url: str) -> sa.URL:
    return make_url(url).set(drivername="postgresql+psycopg")


@pytest.fixture(scope="session")
def backend() -> str:
    url = os.environ.get("TRACKER_TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="session")
def _template_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head, copied for each test."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade_to_head(f"sqlite:///{path}")
        yield str(path)
        return
    base = _pg_admin_url(os.environ["TRACKER_TEST_DATABASE_URL"])
    name = f"tracker_tmpl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(backend: str, _template_db: str, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database at the migration head, private to this test."""
    if backend == "sqlite":
        path = tmp_path / "tracker.db"
        shutil.copyfile(_template_db, path)
        yield f"sqlite:///{path}"
        return
    base = _pg_admin_url(os.environ["TRACKER_TEST_DATABASE_URL"])
    name = f"tracker_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_template_db}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no tables), private to this test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = _pg_admin_url(os.environ["TRACKER_TEST_DATABASE_URL"])
    name = f"tracker_e_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def essay_engine(engine: Engine) -> Engine:
    """`engine` with the essay's claims seeded (dashboard_seed.seed_essay)."""
    from dashboard_seed import seed_essay
    from sqlmodel import Session

    with Session(engine) as session:
        seed_essay(session)
        session.commit()
    return engine


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own database and data dir; no scheduler, no start-up loading."""
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir(exist_ok=True)
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        claims_dir=claims_dir,
        run_scheduler=False,
        sync_claims_on_start=False,
        load_bundled_on_start=False,
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what a `tracker` command run in-process (CliRunner) did to logging: its handlers
    stop tracker's records from propagating to the root, where pytest's caplog listens."""
    import logging

    loggers = [logging.getLogger(name) for name in ("", "tracker", "uvicorn")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    """A FixedClock at 2026-11-28 09:00 UTC installed for the test (tracker.clock.use_clock):
    everything the test runs in-process reads it — CLI commands, start-up steps, and apps built
    while it is installed (create_app takes the installed clock). Move it with set/advance."""
    fixed = FixedClock(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC))
    with use_clock(fixed):
        yield fixed
