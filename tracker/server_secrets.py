"""Secrets the server makes itself, once, and keeps in the database, so a restart and every
sibling process (several web processes on one PostgreSQL) use the same one.

A value is never logged, printed or served; only what it signs leaves the server.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tracker.models import ServerSecret

log = logging.getLogger(__name__)

SESSION_KEY_NAME = "dashboard-session"


def shared_secret(engine: Engine, name: str, *, now: dt.datetime) -> str:
    """The secret `name` stored in the database, made (256 random bits) and committed on
    first use; when two processes make it at once, the one committed first wins for both."""
    with Session(engine) as session:
        row = session.get(ServerSecret, name)
        if row is not None:
            return row.value
        value = secrets.token_urlsafe(32)
        session.add(ServerSecret(name=name, value=value, created_at=now))
        try:
            session.commit()
        except IntegrityError:  # another process inserted it meanwhile: use theirs
            session.rollback()
        else:
            log.info("made the server secret %r and stored it in the database", name)
            return value
        row = session.get(ServerSecret, name)
        if row is None:  # inserted and deleted again in between: nothing sensible to share
            raise RuntimeError(f"the server secret {name!r} vanished while it was being made")
        return row.value
