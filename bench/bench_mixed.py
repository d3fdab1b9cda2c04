"""Mixed reads and writes on PostgreSQL, as users run it: two serving processes and a scheduler.

Starts, on a fresh PostgreSQL database made for the run (dropped at the end):
- `tracker serve --workers 2` (two worker processes behind one port; no in-process scheduler),
- `tracker scheduler` (its fetches go to a refusing loopback proxy, so nothing leaves the
  machine: each fails at once and is recorded as data, and its catch-up sweep evaluates every
  claim while the load runs),
then drives CONNECTIONS keep-alive connections (default 100) for DURATION seconds (default 60)
from an asyncio load generator in this process speaking HTTP/1.1 on its own streams (wrk cannot
POST a unique body per request without a Lua script, and the generator also checks every
answer; with httpx it used ~40% of the CPU time the two server workers did, on the cores they
share). Each connection loops: with probability WRITE_SHARE a write (POST a new claim; one
write in five amends one of the connection's own earlier claims), else a read (a claim, or the
list). It prints 5xx, timeouts,
write/read p50/p99, whether every 201 is readable afterwards (each checked on a new connection,
so both workers answer some), and the result of 20 concurrent POSTs of one new slug.

    python bench/bench_mixed.py [--duration 60] [--connections 100] \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Targets (issue 14, item 9): zero 5xx, zero timeouts, every 201 readable, write p99 < 1 s, and
one 201 + nineteen 409 for the racing POSTs. The exit status is 1 when any target is missed.
The load generator shares the machine's cores with the servers and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HOST, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
READ_SLUG = "china-power-3x-us-2030"
REQUEST_TIMEOUT = 10.0  # a request not answered within this counts as a timeout
RAMP_SECONDS = 1.0  # the connections open one after another over this long
WARM_UP_SECONDS = 10.0

CLAIM_DOC: dict[str, Any] = {
    "slug": "placeholder",
    "title": "China's electricity production four times the US's in 2035",
    "claimant": "elon-musk",
    "quote": {
        "original": "China will make four times the US's power by 2035.",
        "language": "en",
        "en": "China will make four times the US's power by 2035.",
    },
    "stated": {"date": "2026-01-06", "precision": "day"},
    "window": {"start": "2035-01-01", "end": "2035-12-31"},
    "deadline": "2035-12-31",
    "deadline_interpretation": "the 2035 annual value",
    "kind": "hard",
    "tags": ["energy"],
    "operationalised_by": "tracker",
    "criteria": [
        {
            "key": "ratio-2035",
            "type": "threshold",
            "series": {
                "ratio": [
                    {"indicator": "owid.electricity_generation.chn"},
                    {"indicator": "owid.electricity_generation.usa"},
                ]
            },
            "comparator": ">=",
            "threshold": 4.0,
            "unit": "1",
            "mode": "at_period",
            "period": "2035",
        }
    ],
}


def claim_doc(slug: str, threshold: float = 4.0) -> dict[str, Any]:
    doc = copy.deepcopy(CLAIM_DOC)
    doc["slug"] = slug
    doc["criteria"][0]["threshold"] = threshold
    return doc


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def tracker_command() -> list[str]:
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, list[float]] = {"write": [], "read": []}
        self.timeouts = 0
        self.errors: Counter[str] = Counter()
        self.created: list[str] = []
        self.samples_5xx: list[str] = []
        self.slow_writes: list[float] = []  # when (seconds into the run) a write over 1 s began
        self.began = time.perf_counter()

    def record(self, kind: str, status: int, seconds: float, body: str) -> None:
        self.statuses[(kind, status)] += 1
        self.latency[kind].append(seconds)
        if status >= 500 and len(self.samples_5xx) < 5:
            self.samples_5xx.append(f"{kind} {status}: {body[:300]}")


class Connection:
    """One keep-alive HTTP/1.1 connection, spoken directly on asyncio streams (the generator
    shares the machine's cores with the servers: httpx cost it ~40% of the servers' CPU time).
    Reopened after a timeout or a closed connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and "close" in value:
                close = True
        if chunked:
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            payload = b"".join(parts)
        else:
            payload = await reader.readexactly(length)
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def connection(
    index: int,
    connections: int,
    base: str,
    token: str,
    stop_at: float,
    write_share: float,
    tally: Tally,
) -> None:
    rng = random.Random(index)
    auth = {"Authorization": f"Bearer {token}"}
    mine: list[str] = []
    host, _, port = base.removeprefix("http://").partition(":")
    client = Connection(host, int(port))
    # the connections open over RAMP_SECONDS, not in one instant: the two workers share one
    # listening socket and asyncio accepts every pending connection at once, so a burst of
    # connects lands on whichever worker wakes first (one held 93 of 100 in a trial)
    await asyncio.sleep(RAMP_SECONDS * index / max(1, connections))
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        write = rng.random() < write_share
        if write and mine and rng.random() < 0.2:
            slug = rng.choice(mine)
            method, url = "POST", f"{API}/claims/{slug}/revisions"
            body: dict[str, Any] | None = {
                "claim": claim_doc(slug, threshold=4.0 + n / 1000),
                "note": f"bench amendment {n}",
            }
        elif write:
            slug = f"bench-{index}-{n}-{uuid.uuid4().hex[:6]}"
            method, url, body = "POST", f"{API}/claims", claim_doc(slug)
        elif rng.random() < 0.5:
            target = rng.choice(tally.created) if tally.created else READ_SLUG
            method, url, body = "GET", f"{API}/claims/{target}", None
        else:
            method, url, body = "GET", f"{API}/claims?limit=50", None
        kind = "write" if method == "POST" else "read"
        payload = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):  # the whole request, not per read
                status, answer = await client.request(method, url, payload, auth if write else {})
        except TimeoutError:
            tally.timeouts += 1
            client.close()  # its answer may still come: never read it as the next one's
            continue
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            tally.errors[type(exc).__name__] += 1
            client.close()
            continue
        took = time.perf_counter() - started
        tally.record(kind, status, took, answer.decode("utf-8", "replace"))
        if kind == "write" and took >= 1.0:
            tally.slow_writes.append(started - tally.began)
        if status == 201 and url == f"{API}/claims":
            mine.append(slug)
            tally.created.append(slug)
    client.close()


async def drive(base: str, token: str, seconds: float, connections: int, share: float) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(
            connection(i, connections, base, token, stop_at, share, tally)
            for i in range(connections)
        )
    )
    return tally


async def unreadable(base: str, slugs: list[str]) -> list[str]:
    """The slugs whose GET is not 200, each read on a new connection (so both workers serve)."""
    missing: list[str] = []
    gate = asyncio.Semaphore(8)

    async def check(slug: str) -> None:
        async with gate, httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.get(f"{API}/claims/{slug}", headers={"Connection": "close"})
            if response.status_code != 200:
                missing.append(f"{slug}: {response.status_code}")

    await asyncio.gather(*(check(s) for s in slugs))
    return missing


async def race(base: str, token: str, racers: int = 20) -> Counter[int]:
    """`racers` concurrent POSTs of one new slug, each on its own connection."""
    slug = f"bench-race-{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {token}"}

    async def post() -> int:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            response = await client.post(f"{API}/claims", json=claim_doc(slug), headers=auth)
            return response.status_code

    return Counter(await asyncio.gather(*(post() for _ in range(racers))))


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tracker serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"tracker serve did not answer within {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def connections_per_worker(parent: int, port: int) -> dict[int, int]:
    """Established connections on `port` held by each worker process of `parent` (Linux: the
    socket inodes among /proc/<pid>/fd matched against /proc/<pid>/net/tcp); {} elsewhere."""
    held: dict[int, int] = {}
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        for pid in map(int, children):
            if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue  # multiprocessing's resource tracker
            inodes = set()
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = str(fd.readlink())
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
            rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
            held[pid] = sum(
                1
                for row in map(str.split, rows)
                if int(row[1].rsplit(":", 1)[1], 16) == port and row[3] == "01" and row[9] in inodes
            )
    except OSError:
        return {}
    return held


def run(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tracker.auth import create_token
    from tracker.clock import utcnow
    from tracker.db import make_engine, session_scope

    admin_url = make_url(args.admin_url).set(drivername="postgresql+psycopg")
    name = f"tracker_bench_mixed_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    db_url = admin_url.set(database=name).render_as_string(hide_password=False)
    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="bench_mixed_"))
    serve_log = work / "serve.log"
    try:
        port = free_port()
        base = f"http://{HOST}:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env.update(
            TRACKER_DATABASE_URL=db_url,
            TRACKER_DATA_DIR=str(work / "data"),
            TRACKER_CLAIMS_DIR=str(REPO_ROOT / "claims"),
            TRACKER_RUN_SCHEDULER="false",
            TRACKER_LOG_LEVEL="INFO",  # uvicorn's supervisor says so at INFO when a worker dies
        )
        with serve_log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [
                        *tracker_command(),
                        "serve",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        "--workers",
                        "2",
                    ],
                    env=env,
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        wait_ready(procs[0], f"{base}{API}/claims/{READ_SLUG}", serve_log)
        # the scheduler: every fetch through a proxy on a loopback port nobody listens on
        dead = f"http://{HOST}:{free_port()}"
        scheduler_env = {
            **env,
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "ALL_PROXY": dead,
            "NO_PROXY": "",
        }
        scheduler_log = work / "scheduler.log"
        with scheduler_log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [*tracker_command(), "scheduler"],
                    env=scheduler_env,
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        engine = make_engine(db_url)
        try:
            with session_scope(engine) as session:
                token = create_token(session, "bench-mixed", ["claims:write"], now=utcnow())
        finally:
            engine.dispose()
        print(
            f"bench_mixed: PostgreSQL, `tracker serve --workers 2` + `tracker scheduler`, "
            f"{args.connections} connections, {args.duration:.0f} s, write share "
            f"{args.write_share:.0%}, {os.cpu_count()} CPUs, load average before: {load()}",
            flush=True,
        )
        # a light warm-up first, not counted: `wait_ready` saw one worker answer, and the
        # other may still be starting; connections opened before it listens all go to the first
        asyncio.run(drive(base, token.plaintext, WARM_UP_SECONDS, 10, args.write_share))
        started = time.monotonic()
        spread: dict[int, int] = {}  # worker pid -> connections it holds, counted mid-run
        counter = threading.Timer(
            args.duration / 2, lambda: spread.update(connections_per_worker(procs[0].pid, port))
        )
        counter.start()
        tally = asyncio.run(
            drive(base, token.plaintext, args.duration, args.connections, args.write_share)
        )
        counter.cancel()
        elapsed = time.monotonic() - started
        missing = asyncio.run(unreadable(base, tally.created))
        raced = asyncio.run(race(base, token.plaintext))
    finally:
        for proc in reversed(procs):
            stop(proc)
        restarts = serve_log.read_text().count("] died") if serve_log.exists() else 0
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    writes, reads = tally.latency["write"], tally.latency["read"]
    print(f"load average after: {load()} (1, 5, 15 min; the machine's other work counts too)")
    fivexx = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
    by_status = ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(tally.statuses.items()))
    print(f"answers: {len(writes) + len(reads)} in {elapsed:.1f} s ({by_status})")
    print(f"writes: {len(writes)} ({len(writes) / elapsed:.1f}/s)  reads: {len(reads)}")
    print(f"5xx: {fivexx}  timeouts (>{REQUEST_TIMEOUT:.0f} s): {tally.timeouts}  ", end="")
    print(f"transport errors: {dict(tally.errors) or 0}")
    for sample in tally.samples_5xx:
        print(f"  5xx sample: {sample}")
    for kind, values in (("write", writes), ("read", reads)):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        mean = statistics.fmean(values) if values else float("nan")
        print(f"{kind} latency: p50 {p50 * 1000:.0f} ms  p99 {p99 * 1000:.0f} ms  ", end="")
        print(f"mean {mean * 1000:.0f} ms  max {max(values, default=0) * 1000:.0f} ms  ", end="")
        print(f"over 1 s: {sum(v >= 1.0 for v in values)}")
    if tally.slow_writes:
        spans = Counter(int(t // 5) * 5 for t in tally.slow_writes)
        print("writes over 1 s by when they began (s into the run: count): ", end="")
        print(", ".join(f"{t}: {n}" for t, n in sorted(spans.items())))
    print(
        f"every 201 readable afterwards: {not missing} "
        f"({len(tally.created) - len(missing)}/{len(tally.created)})"
    )
    for line in missing[:5]:
        print(f"  unreadable: {line}")
    print(f"serving workers that died and were restarted: {restarts}")
    held = ", ".join(f"{n} (pid {pid})" for pid, n in sorted(spread.items()))
    print(f"connections per serving worker, mid-run: {held or 'not counted (no /proc)'}")
    print(f"20 concurrent POSTs of one new slug: {dict(sorted(raced.items()))}")
    checks = {
        "zero 5xx": fivexx == 0,
        "zero timeouts": tally.timeouts == 0 and not tally.errors,
        "every 201 readable": not missing and bool(tally.created),
        "write p99 < 1 s": percentile(writes, 0.99) < 1.0,
        "race: one 201, nineteen 409": raced == Counter({201: 1, 409: 19}),
    }
    for label, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--write-share", type=float, default=0.2, help="share of writes")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "TRACKER_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL URL allowed to CREATE DATABASE (the run's database is made and "
        "dropped through it)",
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
