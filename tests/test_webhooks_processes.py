"""Webhook delivery across processes: real `tracker scheduler` subprocesses delivering to a
real local receiver (verified by `standardwebhooks`).

- kill -9 of the delivering process while its request is in flight (the receiver stalls the
  first request): after a restart the interrupted delivery is sent again with the same
  webhook-id, and every event is answered 200 exactly once;
- two schedulers on one database: only the lease holder delivers, each event once, within
  10 seconds of the change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from webhook_support import Receiver, judged_claim, resolve

from tracker.clock import system_clock
from tracker.models import SchedulerLease, WebhookAttempt, WebhookDelivery
from tracker.webhooks.subscriptions import create_subscription


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TRACKER_DATABASE_URL=db_url,
        TRACKER_DATA_DIR=str(tmp_path / "data"),
        TRACKER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        TRACKER_SCHEDULER_LEASE_SECONDS="2",
        TRACKER_SCHEDULER_HEARTBEAT_SECONDS="0.5",
        TRACKER_WEBHOOK_POLL_SECONDS="0.5",
        TRACKER_WEBHOOK_TIMEOUT_CONNECT="0.5",
        TRACKER_WEBHOOK_TIMEOUT_READ="2",
        TRACKER_LOG_LEVEL="INFO",
    )
    if "FAKETIME" in env:
        # CI's shifted-clock runs (libfaketime, "@<start>": each process starts its clock
        # there): start the child's clock at this process's now, not minutes behind it, so
        # its webhook-timestamps are within the receiver's tolerance and its lease times agree
        env["FAKETIME"] = "@" + system_clock().astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return env


def _scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "scheduler"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _deliveries(engine: Engine) -> list[WebhookDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())


def _subscribe(engine: Engine, url: str) -> str:
    from tracker.config import Settings

    settings = Settings(webhook_allowed_hosts="127.0.0.1")
    with Session(engine) as session:
        _, secret = create_subscription(
            session, settings, url=url, created_by="t", now=system_clock()
        )
        session.commit()
    return secret


def test_kill_9_mid_delivery_then_exactly_one_success_per_event(
    engine, db_url, tmp_path, receiver
) -> None:
    receiver.script = ["stall"]  # the first request is held: the delivery is in flight
    claim_id = judged_claim(engine)
    secret = _subscribe(engine, receiver.url)
    resolve(engine, claim_id)  # two events: claim.resolved and claim.state_changed
    env, log = _env(db_url, tmp_path), tmp_path / "scheduler.log"
    first = _scheduler(env, log)
    try:
        assert receiver.got_request.wait(30), log.read_text()
        first.kill()  # kill -9 while the request is in flight
        first.wait(10)
    finally:
        _stop(first)
    stalled = receiver.requests[0]
    states = {d.status for d in _deliveries(engine)}
    assert "sending" in states  # claimed (attempt committed) before the request went out
    second = _scheduler(env, log)
    try:
        _wait(
            lambda: all(d.status == "delivered" for d in _deliveries(engine)),
            40,
            "every delivery to succeed after the restart",
        )
    finally:
        _stop(second)
    answered = [r for r in receiver.requests if r.answered == 200]
    ids = [r.headers["webhook-id"] for r in answered]
    assert len(ids) == 2 and len(set(ids)) == 2  # one success per event, no second event
    assert stalled.headers["webhook-id"] in ids  # the interrupted one, resent with its id
    receiver.verified(secret)
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    outcomes = sorted(a.outcome or "" for a in attempts)
    assert outcomes == ["interrupted", "ok", "ok"], outcomes


def test_two_schedulers_only_the_lease_holder_delivers(
    engine, db_url, tmp_path, receiver, backend
) -> None:
    if backend != "postgresql":  # the production setup; SQLite runs one scheduler per file
        pytest.skip("two scheduler processes: run on PostgreSQL (TRACKER_TEST_DATABASE_URL)")
    claim_id = judged_claim(engine)
    secret = _subscribe(engine, receiver.url)
    env = _env(db_url, tmp_path)
    procs = [_scheduler(env, tmp_path / f"s{i}.log") for i in (1, 2)]
    try:

        def holder() -> str | None:
            with Session(engine) as session:
                lease = session.exec(select(SchedulerLease)).first()
                return lease.holder if lease else None

        _wait(lambda: holder() is not None, 30, "a scheduler to take the lease")
        time.sleep(1.0)  # both running: one holds the lease, the other waits
        resolve(engine, claim_id)
        took = _wait(lambda: len(receiver.requests) >= 2, 10, "delivery within 10 seconds")
        time.sleep(1.5)  # a few more runs of both: nothing is sent twice
        lease_holder = holder()
    finally:
        for proc in procs:
            _stop(proc)
    assert took < 10
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 2 and len(set(ids)) == 2
    receiver.verified(secret)
    with Session(engine) as session:
        holders = {a.holder for a in session.exec(select(WebhookAttempt)).all()}
    assert holders == {lease_holder}
    pids = {str(p.pid) for p in procs}
    assert lease_holder is not None and lease_holder.split(":")[1] in pids
