"""Alembic environment: migrates the connection given by tracker.db, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from tracker import models  # noqa: F401  (registers every table on SQLModel.metadata)
from tracker.config import Settings
from tracker.db import make_engine

target_metadata = SQLModel.metadata


def _configure(connection):  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )


def run_migrations_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or Settings().effective_database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url") or Settings().effective_database_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
