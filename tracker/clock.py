"""The one clock: every "now" tracker reads (web app, caching headers, feeds, scheduler, CLI,
fetch runs, model defaults) comes from `utcnow()`, which asks the clock installed for the current
context. An edge installs one (`use_clock`): the web app per request from `app.state.clock`, the
scheduler per job, the CLI per command; unset, it is the system clock. The evaluator never calls
it: it takes `now` as an argument.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The machine's wall clock, timezone-aware UTC: the default of every edge."""
    return dt.datetime.now(dt.UTC)


_active: ContextVar[Clock | None] = ContextVar("tracker_clock", default=None)


def current_clock() -> Clock:
    """The clock installed for this context (thread pools copy it), else the system clock."""
    return _active.get() or system_clock


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC, from the current context's clock."""
    value = current_clock()()
    if value.tzinfo is None:
        raise ValueError("a tracker clock must return timezone-aware datetimes")
    return value.astimezone(dt.UTC)


@contextmanager
def use_clock(clock: Clock | None) -> Iterator[None]:
    """Install `clock` (None: the system clock) for the code run inside the block."""
    token = _active.set(clock)
    try:
        yield
    finally:
        _active.reset(token)


def run_with_clock(clock: Clock | None, func: Callable[[], None]) -> Callable[[], None]:
    """`func` wrapped to run under `clock`, for a thread (a scheduler job) that starts with no
    context of its own."""

    def wrapped() -> None:
        with use_clock(clock):
            func()

    return wrapped


class FixedClock:
    """A clock that stands still until moved: tests and replays set it (`set`, `advance`).
    Thread-safe, so a live server and its test can share one."""

    def __init__(self, at: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._at = self._checked(at)

    @staticmethod
    def _checked(at: dt.datetime) -> dt.datetime:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        return at.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._at

    def set(self, at: dt.datetime) -> None:
        with self._lock:
            self._at = self._checked(at)

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        with self._lock:
            self._at += delta
            return self._at
