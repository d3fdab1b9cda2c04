"""Ingest on PostgreSQL against SQLite, in one run (issue: a first large ingest on PostgreSQL was
quadratic: 100k rows 64 s, 200k 303 s, 1M not done after 17 min; SQLite 1M in 44 s).

The same rows go through the real ingest path (`tracker.ingest.ingest_indicator` →
`tracker.observations.upsert_points`, FetchRun and raw body) into a fresh migrated SQLite file
and a fresh PostgreSQL database; PostgreSQL also at a tenth of the rows (linear: the time grows
~10x, not ~100x) and as a raw COPY of the same rows (the floor). Prints the times and ratios:
  - PostgreSQL 1M ÷ SQLite 1M: the same order (target ≤ 3);
  - PostgreSQL 1M ÷ PostgreSQL 100k: linear (target ≤ 15);
  - raw COPY ÷ ingest on PostgreSQL (the issue's item 8 asks ≥ 0.3).

Usage: .venv/bin/python bench/bench_ingest_pg.py [--rows N]
       [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import psycopg
from bench_ingest import add_indicator, bench_ingest, fresh_database, periods
from sqlalchemy.engine import make_url

from tracker.db import upgrade_to_head


def pg_database(admin_url: str, name: str) -> str:
    """A fresh database `name` on the server of `admin_url`, migrated to head."""
    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = url.set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(target)
    return target


def drop_database(admin_url: str, name: str) -> None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def raw_copy(url: str, rows: list[tuple[str, float]]) -> float:
    """COPY of the same rows (pre-built tuples) into the same migrated schema, one transaction."""
    indicator_id = add_indicator(url, "bench.raw", "generated", {})
    known_from = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tuples = [
        (indicator_id, p, dt.date.fromisoformat(p), v, known_from, None, None, False)
        for p, v in rows
    ]
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY observation (indicator_id, period, period_start, value, known_from, "
                "known_until, fetch_run_id, quarantined) FROM STDIN"
            ) as copy,
        ):
            for row in tuples:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = periods(args.rows)
    tenth = rows[: args.rows // 10]
    names = [f"bench_ingest_{os.getpid()}_{n}" for n in ("big", "small", "raw")]
    results: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
            results["sqlite"], _, _ = bench_ingest(fresh_database(Path(tmp), "i.db"), rows)
        results["pg_small"], _, _ = bench_ingest(pg_database(args.postgres, names[1]), tenth)
        results["pg"], _, unchanged = bench_ingest(pg_database(args.postgres, names[0]), rows)
        results["raw"] = raw_copy(pg_database(args.postgres, names[2]), rows)
    finally:
        for name in names:
            drop_database(args.postgres, name)
    n, tenth_n = f"{args.rows:,}", f"{len(tenth):,}"
    print(f"rows: {n} new daily observations, one indicator, through tracker's ingest")
    print(f"SQLite ingest {n}:            {results['sqlite']:8.2f} s")
    print(f"PostgreSQL ingest {tenth_n}:        {results['pg_small']:8.2f} s")
    print(f"PostgreSQL ingest {n}:        {results['pg']:8.2f} s")
    print(f"PostgreSQL raw COPY {n}:      {results['raw']:8.2f} s")
    print(f"PostgreSQL refetch, all unchanged: {unchanged:8.2f} s")
    same = results["pg"] / results["sqlite"]
    linear = results["pg"] / results["pg_small"]
    floor = results["raw"] / results["pg"]
    print(f"PostgreSQL ÷ SQLite ({n}):      {same:6.2f}  (target <= 3: {_ok(same <= 3)})")
    print(
        f"PostgreSQL {n} ÷ {tenth_n}:  {linear:6.2f}  "
        f"(linear ~10, target <= 15: {_ok(linear <= 15)})"
    )
    print(f"raw COPY ÷ ingest (PostgreSQL):   {floor:6.2f}  (target >= 0.3: {_ok(floor >= 0.3)})")


def _ok(good: bool) -> str:
    return "OK" if good else "MISSED"


if __name__ == "__main__":
    main()
