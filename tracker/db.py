"""Database plumbing: engine construction, sessions, and migrations (Alembic) to head."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
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


# A PostgreSQL server that does not answer must fail fast with a clear line, not hang.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
# The connection pool of a file database (SQLite file or PostgreSQL): `pool_size` kept open,
# up to `max_overflow` more under load. tracker.web.admission lets fewer requests than this
# work at once, so a request's thread does not wait for a connection.
POOL_SIZE = 10
POOL_MAX_OVERFLOW = 20
REQUEST_POOL_CAPACITY = POOL_SIZE + POOL_MAX_OVERFLOW


def normalise_url(url: str) -> str:
    """`url` with its user and password percent-encoded when the password holds an unencoded
    `@` (`postgresql://u:p@ss@host/db`): the last `@` separates them from the host, as the
    writer meant. Without this the URL parser splits at the first `@` and part of the password
    becomes the "host" — shown in every message that hides only the password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = rest.rfind("@")
    userinfo, host = rest[:at], rest[at + 1 :]
    if at < 0 or "@" not in userinfo:
        return url
    user, colon, password = userinfo.partition(":")
    user, password = quote(unquote(user), safe=""), quote(unquote(password), safe="")
    return f"{scheme}://{user}{':' if colon else ''}{password}@{host}"


def database_password(url: str) -> str | None:
    """The password in a database URL (to scrub it from a driver's message), if any."""
    try:
        return make_url(normalise_url(url)).password
    except Exception:  # a URL that does not parse has nothing we can name
        return None


def make_engine(url: str, *, echo: bool = False, pool_timeout: float | None = None) -> Engine:
    """Build an engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    `pool_timeout`: how long a checkout waits for a free pooled connection before
    sqlalchemy.exc.TimeoutError (default SQLAlchemy's 30 s; the web app passes a short one, and
    answers the error 503 with Retry-After). Raises DatabaseError (one line) when the URL is
    malformed or its driver is not installed.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # ArgumentError / ValueError: the text of the URL is wrong
        raise DatabaseError(f"invalid database URL {_safe_text(url)!r}: {exc}") from exc
    kwargs: dict[str, Any] = {"echo": echo}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    if backend != "sqlite" or _sqlite_file(parsed.database):  # a memory database has no queue
        kwargs["pool_size"] = POOL_SIZE
        kwargs["max_overflow"] = POOL_MAX_OVERFLOW
        if pool_timeout is not None:
            kwargs["pool_timeout"] = pool_timeout
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        hint = " (install it with: pip install -e '.[postgres]')" if backend == "postgresql" else ""
        raise DatabaseError(
            f"no driver for database URL {parsed.render_as_string(hide_password=True)}: "
            f"module {exc.name!r} is not installed{hint}"
        ) from exc
    except Exception as exc:  # unknown dialect or bad option: name the URL, not a traceback
        raise DatabaseError(
            f"cannot use database URL {parsed.render_as_string(hide_password=True)}: "
            f"{_first_line(exc)}"
        ) from exc
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_file(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and "mode=memory" not in str(database)


def _first_line(exc: BaseException) -> str:
    """The first line of a driver's message (SQLAlchemy wraps it in `orig`)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


first_line = _first_line  # for the CLI's one-line database errors


def _safe_text(url: str) -> str:
    """A URL that did not parse, with anything between `:` and `@` masked."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, userinfo = head.partition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in userinfo else url


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


def lock_until_end_of_transaction(session: Session, key: int, table: sa.Table) -> None:
    """Serialise a unit of work per database: block until no other transaction holds `key`,
    then hold it until this transaction commits or rolls back.

    Call it before the reads the work depends on. PostgreSQL: `pg_advisory_xact_lock(key)`
    (reads after it see every commit of the previous holder: READ COMMITTED takes a snapshot
    per statement). SQLite has one lock for the whole database: a write that changes nothing
    (`UPDATE <table> … WHERE false`) takes the write lock now, waiting up to the busy timeout,
    and opens the transaction every later read runs in (the driver starts a transaction at
    the first write; reads before one run outside any transaction, so nothing stale is held).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        return
    pk = next(iter(table.primary_key.columns))
    session.execute(sa.update(table).where(sa.false()).values({pk.name: pk}))


def alembic_config(url: str) -> Config:
    """Alembic configuration for `url`; new revision files are passed through ruff."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Generated revisions must pass the same gates as hand-written code (ruff check + format).
    hooks = "post_write_hooks"
    cfg.set_section_option(hooks, "hooks", "ruff_fix, ruff_format")
    cfg.set_section_option(hooks, "ruff_fix.type", "module")
    cfg.set_section_option(hooks, "ruff_fix.module", "ruff")
    cfg.set_section_option(
        hooks, "ruff_fix.options", "check --fix --unsafe-fixes --quiet REVISION_SCRIPT_FILENAME"
    )
    cfg.set_section_option(hooks, "ruff_format.type", "module")
    cfg.set_section_option(hooks, "ruff_format.module", "ruff")
    cfg.set_section_option(hooks, "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME")
    return cfg


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Raise DatabaseError with one clear line when the database cannot be reached or written."""
    url = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite":
        _check_sqlite_path(engine)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # every driver has its own exception tree
        raise DatabaseError(f"cannot connect to database {url}: {_first_line(exc)}") from exc


def require_at_head(engine: Engine) -> None:
    """For commands that must not migrate (they only read, or a migration is the operator's
    call): raise DatabaseError, one line, unless the database answers and is at the head."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except Exception as exc:  # every driver has its own exception tree
        raise DatabaseError(f"cannot open database {url}: {_first_line(exc)}") from exc
    head = head_revision()
    if current != head:
        raise DatabaseError(
            f"database {url} is at revision {current or '(none)'}, not {head}: "
            "run `tracker migrate` first"
        )


def upgrade_to_head(url: str, engine: Engine | None = None) -> str | None:
    """Migrate the database at `url` to the head revision; return the revision reached.

    An edge: commits the migration. Raises DatabaseError (one line) when the database cannot be
    reached, written, or is at a revision this code does not know.
    """
    own_engine = engine is None
    engine = engine or make_engine(url)
    try:
        check_connection(engine)
        cfg = alembic_config(url)
        shown = engine.url.render_as_string(hide_password=True)
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except CommandError as exc:  # e.g. the database is at a revision from newer code
            raise DatabaseError(f"cannot migrate database {shown}: {_first_line(exc)}") from exc
        except sa.exc.OperationalError as exc:  # read-only file, disk full, connection lost
            raise DatabaseError(f"cannot migrate database {shown}: {_first_line(exc)}") from exc
        return current_revision(engine)
    finally:
        if own_engine:
            engine.dispose()


def _check_sqlite_path(engine: Engine) -> None:
    """Name the path problem before SQLite reports a bare "unable to open database file"."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.is_dir():
        raise DatabaseError(f"SQLite database path is a directory: {path}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DatabaseError(
                    f"SQLite database path {path} is not usable: {parent} is a file, "
                    "not a directory"
                )
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # names the directory, not a traceback
        raise DatabaseError(
            f"cannot create the SQLite directory {path.parent}: {exc.strerror}"
        ) from exc
    # os.access is only a first answer (root passes it everywhere); connect() is the real test.
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
