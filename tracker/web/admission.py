"""Admission: every request is answered, quickly, however many arrive at once.

The decision: QUEUE, and shed only what would wait too long. A burst of reads or writes that the
server will get through within a few seconds is queued and served (a 503 is a failure the
client must handle; a wait of a second or two is not), and a request is answered 503
problem+json with `Retry-After` only when its wait would exceed `WAIT_SECONDS` — refused at
once when the queue ahead of it already promises that (never a hang), or when it has waited
that long.

`Admission` (pure ASGI) lets at most `capacity` requests work at once, each in a worker thread:
fewer than the database pool holds (tracker.db.REQUEST_POOL_CAPACITY), so a worker thread never
waits for a pooled connection that only another request can return, and few enough that the
worker threads do not starve the event loop of the GIL. The others wait on the event loop (no
thread held), first come first served, in two lanes:

- writes (every method but GET and HEAD) may use every slot, and a freed slot goes to a waiting
  write before any waiting read: a write never queues behind reads. Writes to different claims
  work side by side on PostgreSQL (each locks its own claim, tracker.status.lock_evaluation_runs);
  on SQLite they take turns on the database's one write lock. Twenty concurrent POSTs of one
  slug still give one 201 and nineteen 409 (the unique constraint decides);
- reads may use all but `write_reserve` slots, so a write arriving while reads fill the server
  finds a slot at once and shares the cores with fewer threads.

`/healthz`, `/readyz` and static files never queue. Behind the gate, a checkout that still times
out (the scheduler holding connections, say) raises sqlalchemy.exc.TimeoutError after the
engine's short `pool_timeout`: `install` answers that 503 with Retry-After as well, never a hang
or a 500.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.db import REQUEST_POOL_CAPACITY
from tracker.web.problems import problem_response, scope_problem

# Requests working at once, each in a worker thread: well under the pool's capacity (headroom
# for the in-process scheduler and for a request holding two connections). More would not serve
# more: the work is mostly Python under one GIL, so extra threads only stretch each request (and
# with 24, /healthz took over a second under a burst on 2 busy cores).
CAPACITY = min(6, REQUEST_POOL_CAPACITY - 6)
WRITE_RESERVE = 2  # slots reads never take: a write finds one free
# Queued longer than this: 503, the client retries. Well above the queueing of a busy but
# sustainable load (100 connections on two processes wait ~1-2 s), well under a client's timeout.
WAIT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 3.0  # the web app's engine: a checkout never waits longer
RETRY_AFTER_SECONDS = 1
UNGATED = ("/healthz", "/readyz", "/static/")
READS = frozenset({"GET", "HEAD"})
# the mean time a request works, for the wait a newcomer would face: a moving average
SERVICE_WEIGHT = 0.05


@dataclass
class Lane:
    """One kind of request's queue: its waiters in arrival order, how many work, and the mean
    time one works (seconds, a moving average; 0 until one has finished)."""

    limit: int
    working: int = 0
    waiters: deque[asyncio.Future[bool]] = field(default_factory=deque)
    service: float = 0.0

    def expected_wait(self, capacity: int) -> float:
        """What a request joining the queue now would wait, about: those ahead of it, served
        `limit` at a time (writes may borrow every slot: `capacity`)."""
        return (len(self.waiters) + 1) * self.service / max(1, min(self.limit, capacity))


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        capacity: int = CAPACITY,
        wait_seconds: float = WAIT_SECONDS,
        write_reserve: int = WRITE_RESERVE,
    ) -> None:
        self.app = app
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.reads = Lane(limit=max(1, capacity - write_reserve))
        self.writes = Lane(limit=capacity)
        self.working = 0  # both lanes
        self.shed = 0  # answered 503 (for benchmarks and tests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        lane = self.reads if scope["method"] in READS else self.writes
        if not await self._admit(lane):
            self.shed += 1
            response = scope_problem(
                scope,
                503,
                f"the server is busy ({self.working} requests in progress, "
                f"{len(self.reads.waiters) + len(self.writes.waiters)} waiting); retry in "
                f"{RETRY_AFTER_SECONDS} s",
                code="service-unavailable",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await response(scope, receive, send)
            return
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            lane.service += (time.monotonic() - started - lane.service) * SERVICE_WEIGHT
            lane.working -= 1
            self.working -= 1
            self._hand_on()

    def _free(self, lane: Lane) -> bool:
        return self.working < self.capacity and lane.working < lane.limit

    async def _admit(self, lane: Lane) -> bool:
        """Take a slot (True), at once or after waiting in the lane's queue; False: the wait
        would exceed `wait_seconds`, or did."""
        if self._free(lane) and not lane.waiters:  # (a waiting write: no slot is free)
            self._take(lane)
            return True
        if lane.expected_wait(self.capacity) > self.wait_seconds:
            return False  # the queue ahead promises too long a wait: say so now
        loop = asyncio.get_running_loop()
        ticket: asyncio.Future[bool] = loop.create_future()
        lane.waiters.append(ticket)
        timer = loop.call_later(self.wait_seconds, self._expire, lane, ticket)
        try:
            return await ticket  # True once _hand_on has given it a slot
        except BaseException:  # cancelled (the client left): give back what it was given
            if ticket.done() and not ticket.cancelled() and ticket.result():
                self._give_back(lane)
            elif ticket in lane.waiters:
                lane.waiters.remove(ticket)
            raise
        finally:
            timer.cancel()

    def _take(self, lane: Lane) -> None:
        lane.working += 1
        self.working += 1

    def _give_back(self, lane: Lane) -> None:
        lane.working -= 1
        self.working -= 1
        self._hand_on()

    def _expire(self, lane: Lane, ticket: asyncio.Future[bool]) -> None:
        if not ticket.done():
            lane.waiters.remove(ticket)
            ticket.set_result(False)

    def _hand_on(self) -> None:
        """Give free slots to the waiters: writes first, then reads, each lane in order."""
        for lane in (self.writes, self.reads):
            while lane.waiters and self._free(lane):
                ticket = lane.waiters.popleft()
                if ticket.done():  # cancelled meanwhile
                    continue
                self._take(lane)
                ticket.set_result(True)


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
