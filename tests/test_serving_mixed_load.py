"""Two `tracker serve` processes on one PostgreSQL database under a short burst of concurrent
writes and reads: no 5xx, no timeout, and every claim created through one process is readable
from the other afterwards (issue 14, item 9; the long run is bench/bench_mixed.py). Readers
that keep both processes busier than their admission slots meanwhile are queued, not shed
(tracker.web.admission): every one of their reads answers 200 too, and the writes still land."""

from __future__ import annotations

import copy
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from test_api_write import CLAIM_DOC
from tracker_process import free_port, tracker_command, tracker_env

from tracker.auth import create_token
from tracker.clock import utcnow
from tracker.db import make_engine, session_scope
from tracker.models import Claim, Evaluation

READ_SLUG = "china-power-3x-us-2030"
CLIENTS = 20
ROUNDS = 2  # each client: ROUNDS × (one create, one read of it from the other process, a list)
READERS = 10  # and these read (the list, a claim) in a loop meanwhile, half on each process


def _start(port: int, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [*tracker_command(), "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait_for(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tracker serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"tracker serve did not answer within 120 s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _reader(index: int, bases: list[str], stop: threading.Event) -> Counter[int]:
    statuses: Counter[int] = Counter()
    paths = ["/api/v1/claims?limit=50", f"/api/v1/claims/{READ_SLUG}"]
    with httpx.Client(base_url=bases[index % 2], timeout=10) as client:
        n = 0
        while not stop.is_set():
            statuses[client.get(paths[n % 2]).status_code] += 1
            n += 1
    return statuses


def _client(index: int, bases: list[str], token: str) -> tuple[Counter[int], list[str]]:
    """One client's keep-alive connections to both processes: writes through one, reads of
    the same claim through the other."""
    statuses: Counter[int] = Counter()
    created: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    write_base, read_base = bases[index % 2], bases[(index + 1) % 2]
    with (
        httpx.Client(base_url=write_base, timeout=10) as writer,
        httpx.Client(base_url=read_base, timeout=10) as reader,
    ):
        for n in range(ROUNDS):
            doc: dict[str, Any] = copy.deepcopy(CLAIM_DOC)
            doc["slug"] = f"mixed-{index}-{n}"
            written = writer.post("/api/v1/claims", json=doc, headers=auth)
            statuses[written.status_code] += 1
            if written.status_code == 201:
                created.append(doc["slug"])
            statuses[reader.get(f"/api/v1/claims/{doc['slug']}").status_code] += 1
            statuses[reader.get("/api/v1/claims?limit=50").status_code] += 1
    return statuses, created


@pytest.mark.timeout(240)
def test_two_processes_under_concurrent_writes_and_reads(backend, empty_db_url, tmp_path):
    if backend != "postgresql":
        pytest.skip("several serving processes are for PostgreSQL (SQLite has one write lock)")
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=empty_db_url, TRACKER_LOG_LEVEL="WARNING")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]
    # the first prepares the database (migrations, claims, bundled data); then the second
    procs = [_start(ports[0], env, tmp_path, logs[0])]
    try:
        _wait_for(procs[0], f"{bases[0]}/api/v1/claims/{READ_SLUG}", logs[0])
        # (the second finds them done: it skips the claim sync and the bundled data)
        second = {
            **env,
            "TRACKER_SYNC_CLAIMS_ON_START": "false",
            "TRACKER_LOAD_BUNDLED_ON_START": "false",
        }
        procs.append(_start(ports[1], second, tmp_path, logs[1]))
        _wait_for(procs[1], f"{bases[1]}/api/v1/claims/{READ_SLUG}", logs[1])
        engine = make_engine(empty_db_url)
        try:
            with session_scope(engine) as session:
                token = create_token(session, "mixed-load", ["claims:write"], now=utcnow())
        finally:
            engine.dispose()

        stop = threading.Event()
        with ThreadPoolExecutor(CLIENTS + READERS) as pool:
            readers = [pool.submit(_reader, i, bases, stop) for i in range(READERS)]
            try:
                clients = [pool.submit(_client, i, bases, token.plaintext) for i in range(CLIENTS)]
                outcomes = [future.result() for future in clients]
            finally:
                stop.set()
            read_statuses: Counter[int] = sum((r.result() for r in readers), Counter())
        statuses: Counter[int] = sum((s for s, _ in outcomes), Counter())
        created = [slug for _, slugs in outcomes for slug in slugs]

        # the readers were queued, never shed (a timeout would have raised in their thread)
        assert set(read_statuses) == {200} and read_statuses[200] >= READERS, read_statuses

        # every answer a success (a timeout would have raised in the client thread)
        assert statuses == Counter({201: CLIENTS * ROUNDS, 200: 2 * CLIENTS * ROUNDS}), statuses
        assert len(created) == CLIENTS * ROUNDS
        # and every created claim readable from each process
        for base in bases:
            with httpx.Client(base_url=base, timeout=10) as client:
                for slug in created:
                    response = client.get(f"/api/v1/claims/{slug}")
                    assert response.status_code == 200, (slug, response.text)
                    body = response.json()
                    assert body.get("claim", body)["slug"] == slug
        # one change, one evaluation: each new claim was evaluated once, by its own write
        engine = make_engine(empty_db_url)
        try:
            with engine.connect() as conn:
                counts = conn.execute(
                    sa.select(Claim.slug, sa.func.count(Evaluation.id))  # type: ignore[arg-type]
                    .join(Evaluation, Evaluation.claim_id == Claim.id)  # type: ignore[arg-type]
                    .where(Claim.slug.in_(created))  # type: ignore[attr-defined]
                    .group_by(Claim.slug)
                ).all()
        finally:
            engine.dispose()
        assert dict(counts) == dict.fromkeys(created, 1)
    finally:
        for proc in procs:
            _stop(proc)
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()
