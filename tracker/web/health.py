"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tracker.db import current_revision, head_revision
from tracker.web.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness: the process answers",
    description="Always 200 while the process serves requests; checks nothing else.",
)
async def healthz() -> dict[str, str]:
    # async and free of I/O: answered on the event loop, never queued behind busy workers
    return {"status": "ok"}


def _claims_check(engine: Any) -> dict[str, Any]:
    """Informational: how many claims wait for a reviewer because their data is overdue."""
    from sqlmodel import Session

    from tracker.overdue import overdue_claims_count

    try:
        with Session(engine) as session:
            count = overdue_claims_count(session)
        return {"ok": True, "informational": True, "overdue_claims": count}
    except Exception as exc:  # a probe that fails reports it, never a 500
        return {"ok": False, "informational": True, "error": type(exc).__name__}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and at the migration head",
    description=(
        "200 when the database answers and is at the newest migration, else 503. The body says "
        "what was checked: the database backend, the current and head migration revisions, and "
        "the scheduler (which process holds it, its last heartbeat, and indicators whose fetches "
        "fail, are stale or need an API key; those do not make the service unready). Each "
        "check's `ok` is what its probe found (false when the probe itself failed, with "
        "`error`); an `informational` check (the scheduler; `claims`, whose `overdue_claims` "
        "counts the claims waiting for a reviewer because their data is overdue) does not "
        "change the status."
    ),
)
def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    ready = True
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True, "backend": engine.dialect.name}
    except Exception as exc:
        ready = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if ready:
        current, head = current_revision(engine), head_revision()
        at_head = current == head
        ready = ready and at_head
        checks["migrations"] = {"ok": at_head, "current": current, "head": head}
    if ready:
        checks["claims"] = _claims_check(engine)
    for name, probe in getattr(request.app.state, "readiness_probes", {}).items():
        try:
            result = dict(probe(engine))
        except Exception as exc:  # a probe that raises reports it, never a 500
            result = {"ok": False, "error": type(exc).__name__}
        result["ok"] = bool(result.get("ok", False))  # what the probe found, never assumed
        checks[name] = result
        if not result.get("informational", False):
            ready = ready and result["ok"]
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
