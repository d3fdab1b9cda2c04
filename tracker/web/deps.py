"""Typed FastAPI dependencies: settings, engine, a request-scoped session and the clock, and
the one reading of an `as_of` date that the dashboard pages and the API share."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.i18n.catalogs import _


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


def get_now() -> dt.datetime:
    """Now, from the app's clock (installed for the request by app.ClockContext)."""
    return utcnow()


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[dt.datetime, Depends(get_now)]


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AsOfError(ValueError):
    """An `as_of` query value that names no past day; str() is the whole message, field first
    (`as_of: ...`), `message` the part after the field. Every route answers it with 422."""

    field = "as_of"

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(f"{self.field}: {message}")
        self.message = message
        self.kind = kind  # the `type` of the API's error entry


def parse_as_of(value: str, today: dt.date) -> dt.date:
    """The day an `as_of` query value names: YYYY-MM-DD, not after `today` (the replay reads
    what was known by the end of a day that has begun). AsOfError says what is wrong."""
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise AsOfError(
            f"{value!r} is not a date; use YYYY-MM-DD, e.g. {today.isoformat()}.", "date_parsing"
        ) from None
    if day > today:
        raise AsOfError(
            f"{day.isoformat()} is in the future (today is {today.isoformat()}); "
            "pick a past date or today.",
            "date_in_future",
        )
    return day


def read_as_of(value: str | None, today: dt.date) -> dt.date | None:
    """The one rule for an `as_of` query value, on every page and API route: absent or empty
    is "now" (None); anything else must be a YYYY-MM-DD day not after `today` (AsOfError)."""
    if not value:
        return None
    return parse_as_of(value, today)


def as_of_problem(exc: AsOfError) -> Exception:
    """The API's answer to an AsOfError: 422 validation-error naming `as_of` (its wording is
    the dashboard's)."""
    from tracker.web.problems import ProblemError

    return ProblemError(
        422,
        _("the request is invalid: %(error)s") % {"error": exc},
        code="validation-error",
        errors=[
            {"field": exc.field, "location": "query", "message": exc.message, "type": exc.kind}
        ],
    )


_http_lock = threading.Lock()


def get_source_http(request: Request) -> Any:
    """The HttpFetcher a request fetches from data sources with (an indicator's dry run): the
    app's `source_http` when set (tests give one over httpx.MockTransport), else one made on
    first use from settings and closed with the app."""
    http = getattr(request.app.state, "source_http", None)
    if http is not None:
        return http
    from tracker.sources.http import HttpFetcher, make_http_client

    with _http_lock:
        http = getattr(request.app.state, "source_http", None)
        if http is None:
            settings: Settings = request.app.state.settings
            client = make_http_client(settings)
            http = HttpFetcher(client, settings)
            request.app.state.source_http = http
            closers = getattr(request.app.state, "closers", None)
            if closers is not None:
                closers.append(client.close)
    return http


SourceHttpDep = Annotated[Any, Depends(get_source_http)]
