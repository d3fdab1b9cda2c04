"""Database plumbing: engine construction, sessions, and migrations (Alembic) to head."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be used; the message is one line naming the problem."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error (use at the edges only)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Raise DatabaseError with one clear line when the database cannot be reached or written."""
    url = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite":
        _check_sqlite_writable(engine)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # every driver has its own exception tree
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc)
        raise DatabaseError(f"cannot connect to database {url}: {reason}") from exc


def upgrade_to_head(url: str, engine: Engine | None = None) -> str | None:
    """Migrate the database at `url` to the head revision; return the revision reached."""
    own_engine = engine is None
    engine = engine or make_engine(url)
    try:
        check_connection(engine)
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return current_revision(engine)
    finally:
        if own_engine:
            engine.dispose()


def _check_sqlite_writable(engine: Engine) -> None:
    database = engine.url.database
    if not database or database == ":memory:":
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # names the directory, not a traceback
        raise DatabaseError(
            f"cannot create the SQLite directory {path.parent}: {exc.strerror}"
        ) from exc
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise DatabaseError(f"SQLite database path is not writable: {path}")


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str | None

    @property
    def at_head(self) -> bool:
        return self.current is not None and self.current == self.head
