"""`tracker serve --workers 2`: on PostgreSQL a write through one process is visible in the next
read from every other (nothing per process is left stale: the claim cache checks a stamp in the
database on every read); and a burst of keep-alive connections is spread over both workers
(each listens on its own SO_REUSEPORT socket), not left to whichever accepts first."""

from __future__ import annotations

import pickle
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import typer
from tracker_process import free_port, tracker_command, tracker_env

from tracker.auth import create_token
from tracker.cli import bind_socket, worker_sockets
from tracker.clock import utcnow
from tracker.db import make_engine, session_scope
from tracker.web.sockets import reuse_port_supported, tcp_socket

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


CONNECTIONS = 40


@pytest.mark.timeout(240)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets in /proc")
def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(tmp_path):
    """40 keep-alive connections opened at once, each then answered: each of the two workers
    holds a fair share of them. With one listening socket shared by both, the worker whose
    event loop woke first accepted every pending connection (issue 14, item 9: 76-93 of 100;
    here 40 of 40). Who holds a connection is read from the system, not from the responses:
    the established sockets on the port among each worker's open files (/proc/<pid>/fd and
    /proc/<pid>/net/tcp). Meanwhile another `tracker serve` on the port still fails at once:
    the workers' SO_REUSEPORT sockets take in no socket without it."""
    env = tracker_env(tmp_path, TRACKER_LOG_LEVEL="WARNING")  # SQLite: these are reads
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            # --port 0: the workers listen on the port the system chose for the parent
            [*tracker_command(), "serve", "--port", "0", "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            port = _served_port(proc, log)
            _wait_for(proc, f"http://127.0.0.1:{port}/healthz", log)
            pids = _worker_pids(proc)
            assert len(pids) == 2, pids
            _wait_until_every_worker_listens(pids, port, log)
            held = _hold_connections(pids, port)
            for workers in ("1", "2"):
                second = subprocess.run(
                    [*tracker_command(), "serve", "--port", str(port), "--workers", workers],
                    env=tracker_env(tmp_path / f"second-{workers}"),
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=90,
                    stdin=subprocess.DEVNULL,
                )
                assert second.returncode == 1, second.stdout + second.stderr
                assert second.stdout == ""  # nothing started
                assert second.stderr.strip() == (
                    f"error: port {port} on 127.0.0.1 is already in use (another tracker?); "
                    "stop it or choose another port with --port"
                )
            assert proc.poll() is None
            assert sum(_hold_connections(pids, port).values()) == CONNECTIONS  # still serving
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert sum(held.values()) == CONNECTIONS, held
    # an even spread is 20 each; the kernel hashes each connection's addresses, so by chance
    # one worker holds fewer than 8 of 40 about once in 10,000 runs
    assert min(held.values()) >= 8, held
    assert "Traceback" not in log.read_text(), log.read_text()


def _served_port(proc: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"tracker serving on http://127\.0\.0\.1:(\d+)/", log.read_text())
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            pytest.fail(f"tracker serve exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"tracker serve named no port within 120 s:\n{log.read_text()}")


def _hold_connections(pids: list[int], port: int) -> Counter[int]:
    """Open CONNECTIONS connections at once, get one answer on each (so each has been
    accepted), and count how many each worker holds; then close them."""
    # the kernel completes each handshake before any worker accepts
    connections = [
        socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(CONNECTIONS)
    ]
    try:
        for sock in connections:
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
            )
        readers = [sock.makefile("rb") for sock in connections]
        for reader in readers:
            _read_ok(reader)
        held = Counter({pid: len(_established_on(pid, port)) for pid in pids})
        for reader in readers:
            reader.close()
        return held
    finally:
        for sock in connections:
            sock.close()


def _read_ok(reader) -> None:
    status = reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    assert len(reader.read(length)) == length


def _wait_until_every_worker_listens(pids: list[int], port: int, log: Path) -> None:
    # a worker listens once its app has started; the first may answer before the second has
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(_sockets_on(pid, port, state="0A") for pid in pids):
            return
        time.sleep(0.2)
    pytest.fail(f"not every worker listened within 120 s:\n{log.read_text()}")


def _established_on(pid: int, port: int) -> set[int]:
    return _sockets_on(pid, port, state="01")


def _sockets_on(pid: int, port: int, *, state: str) -> set[int]:
    """Inodes of pid's TCP sockets on local port `port` in `state` (01 established, 0A listen)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:  # closed meanwhile
            continue
        if str(target).startswith("socket:["):
            inodes.add(int(str(target)[len("socket:[") : -1]))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(f"/proc/{pid}/net/{Path(table).name}")
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state and int(fields[9]) in inodes:
                found.add(int(fields[9]))
    return found


@pytest.mark.skipif(not reuse_port_supported(), reason="workers share one socket here")
def test_the_port_is_checked_again_just_before_the_workers_join_it(capsys):
    """The parent's socket holds the port without listening, so another `tracker serve` may
    bind it during our start-up work and be serving by the time our workers start: they
    (SO_REUSEPORT too) would join its group. So the parent binds the port once more without
    SO_REUSEPORT just before, which fails where such a group listens."""
    held = bind_socket("127.0.0.1", 0)
    port = held.getsockname()[1]
    others = [tcp_socket("127.0.0.1", reuse_port=True) for _ in range(2)]
    try:
        for other in others:  # the other tracker's workers
            other.bind(("127.0.0.1", port))
            other.listen()
        with pytest.raises(typer.Exit):
            worker_sockets("127.0.0.1", port, held)
        assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    finally:
        for other in others:
            other.close()
    # nobody else: each worker unpickles its stand-in as a socket of its own on the port
    stand_in = worker_sockets("127.0.0.1", port, held)
    workers = [pickle.loads(pickle.dumps(stand_in[0])) for _ in range(2)]
    try:
        for sock in workers:
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert sock.proto == socket.IPPROTO_TCP  # asyncio keeps TCP_NODELAY on these
            sock.listen()
        with pytest.raises(typer.Exit):  # and a plain socket cannot bind beside them
            bind_socket("127.0.0.1", port)
    finally:
        for sock in workers:
            sock.close()
        held.close()
