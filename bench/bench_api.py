"""Benchmark: GET /api/v1/claims/{slug} throughput versus a bare FastAPI JSON endpoint, same run.

Starts uvicorn (one worker, a child process) on a free loopback port serving the real app over a
seeded SQLite database, plus a bare `/bench/bare` route added here only. A small asyncio
load generator keeps N keep-alive HTTP/1.1 connections busy for a fixed time against each
endpoint in turn, then prints both rates and their ratio (target: at least 0.30).

    .venv/bin/python bench/bench_api.py [--claims 1000] [--connections 32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import HOST, bench_settings, free_port


def seed(db_url: str, n_claims: int) -> list[str]:
    """A migrated database with `n_claims` claims, each with a current evaluation."""
    from sqlmodel import Session

    from tracker.db import make_engine, upgrade_to_head
    from tracker.models import Claim, Claimant, Evaluation
    from tracker.status import status_change_columns

    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    at = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    slugs = []
    with Session(engine) as s:
        person = Claimant(slug="elon-musk", name="Elon Musk")
        s.add(person)
        s.flush()
        for i in range(n_claims):
            slug = f"bench-claim-{i:05d}"
            claim = Claim(
                slug=slug,
                title=f"Benchmark claim {i}: China's electricity 3x the US's by 2030",
                quote_original="2030年には中国の電力生産量が米国の3倍になる",
                quote_language="ja",
                quote_en="By 2030 China's electricity production will be 3x the US's",
                claimant_id=person.id or 0,
                deadline=dt.date(2030, 12, 31),
                tags=["energy", "bench"],
                spec={"slug": slug},
                content_hash=hashlib.sha256(slug.encode()).hexdigest(),
                created_at=at,
                updated_at=at,
            )
            s.add(claim)
            s.flush()
            ev = Evaluation(
                claim_id=claim.id or 0,
                claim_version=1,
                evaluated_at=at,
                as_of=at,
                state="open",
                trend="off_track",
                reason="ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030",
                metric_value=2.34,
                metric_unit="1",
                metric_period="2025",
                threshold=3.0,
                comparator=">=",
                projection_value=2.9,
                projection_low=2.7,
                projection_high=3.1,
                projection_at="2030",
                projection_model="log_linear",
                fingerprint=hashlib.sha256(slug.encode()).hexdigest(),
                evaluator_version="bench",
                **status_change_columns(None, "open", "off_track"),  # the claim's first
            )
            s.add(ev)
            s.flush()
            claim.status_state, claim.status_trend = "open", "off_track"
            claim.status_evaluation_id = ev.id
            slugs.append(slug)
        s.commit()
    engine.dispose()
    return slugs


def serve(db_url: str, data_dir: str, port: int) -> None:
    """The child process: the real app plus the bare route, under uvicorn with one worker."""
    import logging

    import uvicorn

    from tracker.web.app import create_app

    app = create_app(bench_settings(db_url, data_dir, log_level="WARNING"))

    @app.get("/bench/bare")
    async def bare() -> dict[str, Any]:
        return {"slug": "bare", "status": {"state": "open", "trend": "on_track"}}

    logging.disable(logging.WARNING)
    uvicorn.run(app, host=HOST, port=port, workers=1, log_level="warning", access_log=False)


async def _worker(port: int, paths: list[str], stop_at: float, counts: list[int], idx: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    i = idx
    try:
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += 1
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            counts[idx] += 1
    finally:
        writer.close()


async def load(port: int, paths: list[str], connections: int, seconds: float) -> float:
    """Requests per second over `seconds` with `connections` keep-alive connections."""
    counts = [0] * connections
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*(_worker(port, paths, stop_at, counts, i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - start)


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--target", type=float, default=0.30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        slugs = seed(db_url, args.claims)
        port = free_port()
        ctx = multiprocessing.get_context("spawn")
        server = ctx.Process(target=serve, args=(db_url, tmp, port), daemon=True)
        server.start()
        try:
            wait_ready(port)
            claim_paths = [f"/api/v1/claims/{s}" for s in slugs]
            # warm up both (imports, first cache fill of every claim)
            asyncio.run(load(port, ["/bench/bare"], 4, 1.0))
            asyncio.run(load(port, claim_paths, 4, 2.0))
            bare = asyncio.run(load(port, ["/bench/bare"], args.connections, args.seconds))
            claim = asyncio.run(load(port, claim_paths, args.connections, args.seconds))
        finally:
            server.terminate()
            server.join(10)
    ratio = claim / bare
    print(f"connections={args.connections} seconds={args.seconds} claims={args.claims}")
    print(f"bare FastAPI JSON endpoint   {bare:10.0f} req/s")
    print(f"GET /api/v1/claims/{{slug}}    {claim:10.0f} req/s")
    print(f"ratio                        {ratio:10.2f}  (target >= {args.target:.2f})")
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1]))
    sys.exit(main())
