"""The app of one worker process of `tracker serve --workers N` (uvicorn's factory import string).

The parent process has read the settings, prepared the database (migrations, claims, bundled
data) and bound the port; each worker builds its own app from the same environment, with
tracker's logging, and (on Linux) listens on a socket of its own (tracker.web.sockets).
Nothing is cached per process that another process's write could make stale: claim bodies are
validated by a stamp read from the database on every request (caching.py), sessions live in the
database, and the scheduler runs in whichever process holds its lease.
"""

from __future__ import annotations

from fastapi import FastAPI

from tracker.config import Settings
from tracker.web.app import create_app


def app_from_environment() -> FastAPI:
    from tracker.cli.logs import configure_logging

    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
