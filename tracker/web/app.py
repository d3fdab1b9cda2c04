"""The application factory: builds the FastAPI app for a given Settings object.

The lifespan owns the resources: the engine, the shared httpx client and the scheduler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from tracker import __version__, scheduler
from tracker.config import Settings
from tracker.db import make_engine
from tracker.web import api, api_data, dashboard, health
from tracker.web.openapi import install_openapi
from tracker.web.problems import install_problem_handlers


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. Pass `engine` to share one (tests); otherwise the lifespan makes one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.effective_database_url())
        closers: list[Callable[[], Any]] = []
        app.state.closers = closers
        try:
            for hook in app.state.startup_hooks:
                hook(app)
            yield
        finally:
            for close in reversed(closers):
                close()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="tracker",
        version=__version__,
        description=(
            "Dated public predictions checked against live public data: claims, their "
            "criteria, the indicator data that checks them, and their status over time."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs is served from vendored assets by tracker.web.openapi
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.startup_hooks = []
    app.state.readiness_probes = {}
    if engine is not None:
        app.state.engine = engine
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    install_problem_handlers(app)
    app.include_router(api.router)
    app.include_router(api_data.router)
    install_openapi(app)
    scheduler.install(app)
    return app
