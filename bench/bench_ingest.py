"""Ingest benchmark, in one run:

1. throughput: upserting 1,000,000 observations through the real ingest path
   (`tracker.ingest.ingest_indicator` → `tracker.observations.upsert_points`, FetchRun, raw body)
   versus raw `sqlite3.executemany` of the same rows into the same migrated schema;
   prints both timings and the ratio raw/ingest (target ≥ 0.25);
2. memory: ingesting a generated 50 MB OWID-format CSV through the real HTTP layer
   (httpx.MockTransport streaming the file), the real OWID adapter and ingest, in a fresh
   subprocess; prints its peak RSS (VmHWM; target < 200 MB).

Usage: .venv/bin/python bench/bench_ingest.py [--rows N] [--csv-mb M]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tracker.db import make_engine, session_scope, upgrade_to_head
from tracker.ingest import ingest_indicator
from tracker.models import Indicator
from tracker.sources.base import IndicatorSpec, Point, RecordedResponse, SourceResult

RATIO_TARGET = 0.25
RSS_TARGET_MB = 200
BASE_DAY = dt.date(1000, 1, 1)


def periods(n: int) -> list[tuple[str, float]]:
    """n distinct daily periods with values (the same rows for both contenders)."""
    start = BASE_DAY.toordinal()
    return [(dt.date.fromordinal(start + i).isoformat(), i * 0.5 + 0.25) for i in range(n)]


def fresh_database(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}"
    upgrade_to_head(url)
    return url


def add_indicator(url: str, key: str, source: str, params: dict[str, Any]) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            indicator = Indicator(
                key=key, source=source, params=params, unit="TWh", frequency="daily"
            )
            session.add(indicator)
            session.flush()
            assert indicator.id is not None
            return indicator.id
    finally:
        engine.dispose()


class GeneratedSource:
    """Upstream double: one small body, and the benchmark's points streamed lazily."""

    name = "generated"
    needs_key = False

    def __init__(self, rows: list[tuple[str, float]]) -> None:
        self.rows = rows

    def fetch(self, http: Any, spec: IndicatorSpec) -> SourceResult:
        body = f"{len(self.rows)} generated daily points\n".encode()
        response = RecordedResponse("bench:generated", 200, body, "text/plain", 0)
        return SourceResult(points=self.parse(body, spec), responses=[response])

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        for period, value in self.rows:
            yield Point(period, value)


def bench_raw(url: str, indicator_id: int, rows: list[tuple[str, float]]) -> float:
    """Raw sqlite3.executemany of the same rows (pre-built tuples, same pragmas and indexes)."""
    path = url.removeprefix("sqlite:///")
    known_from = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    tuples = [(indicator_id, p, p, v, known_from, None, None) for p, v in rows]
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    connection.executemany(
        "INSERT INTO observation (indicator_id, period, period_start, value, known_from, "
        "known_until, fetch_run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        tuples,
    )
    connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def bench_ingest(url: str, rows: list[tuple[str, float]]) -> tuple[float, Any, float]:
    """First ingest (every row new), then the same payload again (every row unchanged)."""
    add_indicator(url, "bench.generated", "generated", {})
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        summary = ingest_indicator(
            engine, None, "bench.generated", trigger="test", source=GeneratedSource(rows)
        )
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        again = ingest_indicator(
            engine, None, "bench.generated", trigger="test", source=GeneratedSource(rows)
        )
        unchanged_elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    if not summary.ok or summary.rows_new != len(rows):
        raise SystemExit(f"ingest did not store every row: {summary}")
    if not again.ok or again.rows_unchanged != len(rows):
        raise SystemExit(f"refetch was not all unchanged: {again}")
    return elapsed, summary, unchanged_elapsed


def write_owid_csv(path: Path, megabytes: int) -> int:
    """An OWID grapher CSV (Entity,Code,Day,column) of about `megabytes` MB; returns its rows."""
    target = megabytes * 1024 * 1024
    start = BASE_DAY.toordinal()
    written = rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        header = "Entity,Code,Day,total_generation__twh\n"
        out.write(header)
        written += len(header)
        while written < target:
            line = f"China,CHN,{dt.date.fromordinal(start + rows).isoformat()},{rows * 0.37:.2f}\n"
            out.write(line)
            written += len(line)
            rows += 1
    return rows


def memory_child(csv_path: str, url: str) -> None:
    """Runs in a fresh process: ingest the CSV through HTTP layer + OWID adapter; print stats."""
    import httpx

    from tracker.config import Settings
    from tracker.sources.http import HttpFetcher

    class FileStream(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            with open(csv_path, "rb") as handle:
                while chunk := handle.read(1 << 16):
                    yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, stream=FileStream(), headers={"content-type": "text/csv"})
        return httpx.Response(404)

    settings = Settings(database_url=url)
    http = HttpFetcher(
        httpx.Client(transport=httpx.MockTransport(handler)), settings, sleep=lambda _s: None
    )
    engine = make_engine(url)
    started = time.perf_counter()
    summary = ingest_indicator(engine, http, "bench.owid", trigger="test")
    elapsed = time.perf_counter() - started
    engine.dispose()
    peak_kb = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak_kb = int(line.split()[1])
    print(
        json.dumps(
            {
                "ok": summary.ok,
                "error": summary.error,
                "rows_new": summary.rows_new,
                "seconds": elapsed,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def bench_memory(directory: Path, megabytes: int) -> dict[str, Any]:
    csv_path = directory / "owid_big.csv"
    rows = write_owid_csv(csv_path, megabytes)
    url = fresh_database(directory, "memory.db")
    params = {"chart": "big-chart", "column": "total_generation__twh", "entity_code": "CHN"}
    add_indicator(url, "bench.owid", "owid", params)
    completed = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(csv_path), url],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"memory child failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["csv_mb"] = csv_path.stat().st_size / (1024 * 1024)
    result["csv_rows"] = rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv-mb", type=int, default=50)
    parser.add_argument("--memory-child", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        directory = Path(tmp)
        rows = periods(args.rows)
        raw_url = fresh_database(directory, "raw.db")
        raw_indicator = add_indicator(raw_url, "bench.raw", "generated", {})
        raw_seconds = bench_raw(raw_url, raw_indicator, rows)
        ingest_seconds, summary, unchanged_seconds = bench_ingest(
            fresh_database(directory, "ingest.db"), rows
        )
        ratio = raw_seconds / ingest_seconds
        print(f"rows:                       {args.rows:,}")
        print(f"raw sqlite3.executemany:    {raw_seconds:8.2f} s")
        print(
            f"tracker ingest (upsert):    {ingest_seconds:8.2f} s  "
            f"(rows new {summary.rows_new:,}, FetchRun {summary.fetch_run_id})"
        )
        verdict = "OK" if ratio >= RATIO_TARGET else "BELOW TARGET"
        print(f"ratio raw/ingest:           {ratio:8.3f}  (target >= {RATIO_TARGET}: {verdict})")
        print(f"same payload again (all unchanged, nothing written): {unchanged_seconds:.2f} s")
        del rows

        memory = bench_memory(directory, args.csv_mb)
        if not memory["ok"]:
            raise SystemExit(f"memory run failed: {memory['error']}")
        rss_verdict = "OK" if memory["peak_rss_mb"] < RSS_TARGET_MB else "ABOVE TARGET"
        print(
            f"{memory['csv_mb']:.1f} MB OWID CSV ({memory['csv_rows']:,} rows) via HTTP + OWID "
            f"adapter + ingest: {memory['seconds']:.1f} s, rows new {memory['rows_new']:,}"
        )
        print(
            f"peak RSS of that process:   {memory['peak_rss_mb']:8.1f} MB  "
            f"(target < {RSS_TARGET_MB} MB: {rss_verdict})"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
