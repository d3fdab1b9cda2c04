"""Typed FastAPI dependencies: settings, engine, a request-scoped session and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.config import Settings
from tracker.models import utcnow


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One session per request; the route commits explicitly at the edge."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def get_now(request: Request) -> dt.datetime:
    """Now: `app.state.clock()` when a test or tool injects one, else the wall clock."""
    clock = getattr(request.app.state, "clock", None)
    now: dt.datetime = clock() if clock is not None else utcnow()
    return now


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
