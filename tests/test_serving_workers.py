"""`tracker serve --workers 2` on PostgreSQL: a write through one process is visible in the next
read from every other (nothing per process is left stale: the claim cache checks a stamp in the
database on every read)."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
from tracker_process import free_port, tracker_command, tracker_env

from tracker.auth import create_token
from tracker.clock import utcnow
from tracker.db import make_engine, session_scope

SLUG = "china-power-3x-us-2030"


@pytest.mark.timeout(180)
def test_a_write_through_one_worker_is_read_by_every_other(backend, empty_db_url, tmp_path):
    if backend != "postgresql":
        pytest.skip("several worker processes are for PostgreSQL (SQLite has one write lock)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=empty_db_url, TRACKER_LOG_LEVEL="WARNING")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*tracker_command(), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_for(proc, f"{base}/api/v1/claims/{SLUG}", log)
            engine = make_engine(empty_db_url)
            try:
                with session_scope(engine) as session:
                    token = create_token(session, "workers-test", ["claims:write"], now=utcnow())
            finally:
                engine.dispose()
            # every worker caches the claim's body: read it on many fresh connections
            assert {_read(base)["lifecycle"] for _ in range(16)} == {"active"}
            pids = _worker_pids(proc)
            assert len(pids) == 2, pids
            written = httpx.post(
                f"{base}/api/v1/claims/{SLUG}/withdraw",
                json={"note": "withdrawn by the multi-process visibility test"},
                headers={"Authorization": f"Bearer {token.plaintext}"},
                timeout=30,
            )
            assert written.status_code == 200, written.text
            # the next read, on whichever worker the kernel hands the connection to
            assert {_read(base)["lifecycle"] for _ in range(16)} == {"withdrawn"}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def _read(base: str) -> dict[str, object]:
    # a new connection each time, so reads are spread over the workers
    response = httpx.get(f"{base}/api/v1/claims/{SLUG}", headers={"Connection": "close"})
    assert response.status_code == 200
    claim = response.json()
    return claim.get("claim", claim)  # type: ignore[no-any-return]


def _worker_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    children = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(proc.pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    # uvicorn's workers are spawned processes (multiprocessing's resource tracker is not one)
    lines = [line.split(None, 1) for line in children.stdout.splitlines()]
    return [int(pid) for pid, args in lines if "spawn_main" in args]


def _wait_for(proc: subprocess.Popen[bytes], url: str, log) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tracker serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"tracker serve --workers 2 did not answer within 120 s:\n{log.read_text()}")
