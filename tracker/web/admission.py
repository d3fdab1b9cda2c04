"""Load shedding: the server answers every request, quickly, however many arrive at once.

`Admission` (pure ASGI) lets at most `capacity` reads (GET, HEAD) work at once — fewer than the
database pool holds (tracker.db.REQUEST_POOL_CAPACITY), so a request's worker thread never
waits for a pooled connection that only another request can return. The others wait on the
event loop (no thread held) for up to `wait_seconds`, then get 503 problem+json with
`Retry-After`. `/healthz` and static files need no database and are never held back.

Behind it, a checkout that still times out (the scheduler holding connections, say) raises
sqlalchemy.exc.TimeoutError after the engine's short `pool_timeout`: `install` answers that
503 with Retry-After as well, never a hang or a 500.
"""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.db import REQUEST_POOL_CAPACITY
from tracker.web.problems import problem_response, scope_problem

# Requests working at once, each in a worker thread: well under the pool's capacity (headroom
# for the in-process scheduler and for a request holding two connections), and few enough that
# the worker threads do not starve the event loop of the GIL (with 24, /healthz took over a
# second under a burst on 2 busy cores). More would not serve more: the work is mostly Python.
CAPACITY = min(12, REQUEST_POOL_CAPACITY - 6)
WAIT_SECONDS = 2.0  # queued longer than this: 503, the client retries
POOL_TIMEOUT_SECONDS = 3.0  # the web app's engine: a checkout never waits longer
RETRY_AFTER_SECONDS = 1
UNGATED = ("/healthz", "/static/")
# Reads are what a burst is made of. A write is never turned away for being queued: writes
# serialise on the database's write lock and answer 409 to a conflict (twenty concurrent POSTs
# of one slug: one 201, nineteen 409), and the pool timeout still bounds their wait.
READS = frozenset({"GET", "HEAD"})


class Admission:
    def __init__(
        self, app: ASGIApp, capacity: int = CAPACITY, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        self.app = app
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._slots: anyio.Semaphore | None = None  # made on first use, in the server's loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNGATED) or scope["method"] not in READS:
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.capacity)
        slots = self._slots
        admitted = False
        if slots.value > 0 and not slots.statistics().tasks_waiting:
            slots.acquire_nowait()  # a free slot, nobody queued: no timer to arm
            admitted = True
        else:
            with anyio.move_on_after(self.wait_seconds):
                await slots.acquire()
                admitted = True
        if admitted:
            try:
                await self.app(scope, receive, send)
            finally:
                slots.release()
            return
        response = scope_problem(
            scope,
            503,
            f"the server is busy ({self.capacity} requests in progress); retry in "
            f"{RETRY_AFTER_SECONDS} s",
            code="service-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        await response(scope, receive, send)


async def _pool_timeout(request: Request, exc: Exception) -> Response:
    return problem_response(
        request,
        503,
        "no database connection became free in time; retry shortly",
        code="service-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: FastAPI) -> None:
    """Answer a pool timeout 503 + Retry-After (call once in the app factory)."""
    app.add_exception_handler(PoolTimeout, _pool_timeout)
