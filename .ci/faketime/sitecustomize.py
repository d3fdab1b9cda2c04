"""Loaded by every Python process of CI's shifted-clock runs (PYTHONPATH=.ci/faketime), never by
the project: works around libfaketime 0.9.10 (Debian 12), whose clock_nanosleep() passes a negative
time to the kernel when the monotonic clock is left real (FAKETIME_DONT_FAKE_MONOTONIC=1), so
Python >= 3.11's time.sleep() fails with "OSError: [Errno 22] Invalid argument"
(wolfcw/libfaketime#426). Faking the monotonic clock instead makes every timed wait (locks,
Event.wait, hence APScheduler and the test helpers) hang, because glibc's sem_clockwait() goes to
the kernel with a deadline on the faked clock. So: real monotonic clock, and time.sleep() as a
timed wait on a lock, which takes a relative timeout on the real monotonic clock."""

import os
import threading
import time

if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1" and "faketime" in os.environ.get(
    "LD_PRELOAD", ""
):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        lock = threading.Lock()
        lock.acquire()
        lock.acquire(timeout=seconds)

    time.sleep = _sleep
