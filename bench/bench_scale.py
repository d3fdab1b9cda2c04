"""Scale bench on PostgreSQL (issue 14, item 8): 100,000 claims and 10,000,000 observations,
seeded by COPY, and each ratio measured in the same run.

Two fresh databases on the server of `--postgres`, migrated to head: a small one
(`--small-claims`, 1,000) and a large one (`--claims`, 100,000 claims, `--observations` rows over
`--indicators` monthly indicators, COPY). Claims read one indicator (70 %), the ratio of two
(20 %) or any time within a window (10 %), as bench_evaluate's do. Then:

  - first evaluation (tracker.status.evaluate_claims, every claim new) of `--claims` ÷ of a
    tenth of them, on the large database: linear, target <= 11;
  - `tracker serve` (the installed command, one process, no scheduler) on each database, driven
    by wrk at one connection: p50 of the claim list (`/api/v1/claims?limit=50`), of GET claim
    and of the overview (`/`), large ÷ small: targets <= 1.5, <= 1.5 and <= 2;
  - peak RSS of the large database's serving process (VmHWM) after `--connections` (32)
    connections of GET claim, list and overview: printed;
  - ingest of `--ingest-rows` (1,000,000) new observations through tracker's ingest into
    PostgreSQL, against a raw COPY of the same rows (bench_ingest_pg): raw ÷ ingest >= 0.3.

It takes minutes at full size and is not part of the test suite. A quick run:

    .venv/bin/python bench/bench_scale.py --claims 20000 --observations 1000000 \\
        --ingest-rows 200000 --seconds 3

wrk: Debian/Ubuntu `sudo apt-get install wrk`; macOS `brew install wrk`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa
from _common import HOST, free_port
from bench_api import stop, tracker_command, wrk
from bench_ingest import bench_ingest, periods
from bench_ingest_pg import drop_database, pg_database, raw_copy
from sqlalchemy.engine import make_url
from sqlmodel import Session

from tracker.db import make_engine
from tracker.models import Claim, Evaluation, Resolution
from tracker.status import evaluate_claims

KNOWN = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
LAST_MONTH = (2025, 12)
# source, params, unit, frequency, publication_lag_days, revision_window_days, refresh, spec,
# created_at, updated_at of every indicator
INDICATOR_COLUMNS = ("bench", "{}", "TWh", "monthly", 45, 365, "daily", "{}", KNOWN, KNOWN)


def months(count: int) -> list[tuple[str, dt.date]]:
    year, month = LAST_MONTH
    out = []
    for _ in range(count):
        out.append((f"{year:04d}-{month:02d}", dt.date(year, month, 1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _criterion(c: int, n_indicators: int) -> dict[str, object]:
    a, b = c % n_indicators, (c * 7 + 3) % n_indicators
    if c % 10 < 7:
        return {
            "key": "level",
            "type": "threshold",
            "series": {"indicator": f"bench.ind{a:05d}"},
            "threshold": 150.0 + c % 300,
            "period": "2030-12",
        }
    if c % 10 < 9:
        ratio = [{"indicator": f"bench.ind{a:05d}"}, {"indicator": f"bench.ind{b:05d}"}]
        return {
            "key": "ratio",
            "type": "threshold",
            "series": {"ratio": ratio},
            "threshold": 1.5,
            "period": "2030-12",
        }
    return {
        "key": "peak",
        "type": "threshold",
        "series": {"indicator": f"bench.ind{a:05d}"},
        "threshold": 2000.0,
        "mode": "any_time_within",
        "window": {"start": "2026-01", "end": "2030-12"},
    }


def _copy(conn: psycopg.Connection, table: str, columns: str, rows: Iterator[tuple]) -> None:  # type: ignore[type-arg]
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, n_claims: int, n_indicators: int, n_observations: int) -> float:
    """COPY claimant, indicators, observations, claims and criteria; seconds taken."""
    per_indicator = max(12, n_observations // n_indicators)
    series = months(per_indicator)
    started = time.perf_counter()
    with psycopg.connect(dsn(url)) as conn:
        conn.execute(
            "INSERT INTO claimant (id, slug, name, kind, created_at) "
            "VALUES (1, 'bench', 'Bench', 'person', %s)",
            (KNOWN,),
        )
        _copy(
            conn,
            "indicator",
            "id, key, source, params, unit, frequency, publication_lag_days, "
            "revision_window_days, refresh, spec, created_at, updated_at",
            ((i + 1, f"bench.ind{i:05d}", *INDICATOR_COLUMNS) for i in range(n_indicators)),
        )
        _copy(
            conn,
            "observation",
            "indicator_id, period, period_start, value, known_from, quarantined",
            (
                (i + 1, period, start, (100.0 + i) * (1.002 + (i % 7) * 0.0005) ** j, KNOWN, False)
                for i in range(n_indicators)
                for j, (period, start) in enumerate(series)
            ),
        )
        specs = [_criterion(c, n_indicators) for c in range(n_claims)]
        _copy(
            conn,
            "claim",
            "id, slug, title, claimant_id, stated_precision, deadline, kind, tags, lifecycle, "
            "origin, spec, content_hash, version, criteria_version, created_at, updated_at",
            (
                (
                    *(c + 1, f"bench-claim-{c:06d}", f"Bench claim {c}", 1, "day"),
                    *(dt.date(2027, 1, 1) + dt.timedelta(days=c % 2000), "hard", "[]", "active"),
                    *("file", json.dumps({"criteria": [specs[c]]})),
                    *(hashlib.sha256(str(c).encode()).hexdigest(), 1, 1, KNOWN, KNOWN),
                )
                for c in range(n_claims)
            ),
        )
        _copy(
            conn,
            "criterion",
            "claim_id, key, role, kind, spec, criteria_version, valid_from",
            (
                (c + 1, specs[c]["key"], "resolves", "threshold", json.dumps(specs[c]), 1, KNOWN)
                for c in range(n_claims)
            ),
        )
        for table in ("claim", "indicator"):  # COPY with explicit ids: move the sequences on
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def reset_status(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(Resolution.__table__))  # type: ignore[attr-defined]
        conn.execute(
            sa.update(Claim.__table__).values(  # type: ignore[attr-defined]
                status_state=None,
                status_trend=None,
                status_outlook=None,
                status_review_reason=None,
                status_evaluation_id=None,
                status_changed_at=None,
                status_checked_at=None,
                status_inputs_key=None,
                status_data_watermark=None,
                status_stable_until=None,
            )
        )
        conn.execute(sa.delete(Evaluation.__table__))  # type: ignore[attr-defined]


def first_evaluation(url: str, claim_ids: list[int] | None) -> float:
    """evaluate_claims of these claims (None: all) on a fresh status; seconds taken."""
    engine = make_engine(url)
    try:
        reset_status(engine)
        started = time.perf_counter()
        with Session(engine) as session:
            evaluate_claims(session, now=NOW, claim_ids=claim_ids)
            session.commit()
        return time.perf_counter() - started
    finally:
        engine.dispose()


def serve(url: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=url,
        TRACKER_DATA_DIR=str(tmp),
        TRACKER_RUN_SCHEDULER="false",
        TRACKER_SYNC_CLAIMS_ON_START="false",
        TRACKER_LOAD_BUNDLED_ON_START="false",
        TRACKER_LOG_LEVEL="WARNING",
    )
    port = free_port()
    proc = subprocess.Popen(
        [*tracker_command(), "serve", "--host", HOST, "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=(tmp / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tracker serve exited:\n{(tmp / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("tracker serve did not answer within 300 s")


def paths(small_claims: int) -> dict[str, str]:
    """What is timed: the same claim (held by both databases), list and overview."""
    return {
        "list": "/api/v1/claims?limit=50",
        "claim": f"/api/v1/claims/bench-claim-{small_claims // 2:06d}",
        "overview": "/",
    }


def serving_p50s(base: str, seconds: float, timed: dict[str, str]) -> dict[str, float]:
    out = {}
    for name, path in timed.items():
        status = httpx.get(base + path, timeout=60).status_code
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
        out[name] = wrk(base + path, 1, seconds)["p50"]
    return out


def peak_rss_mb(
    proc: subprocess.Popen[bytes],
    base: str,
    timed: dict[str, str],
    connections: int,
    seconds: float,
) -> float:
    for path in timed.values():
        wrk(base + path, connections, seconds, timeout="10s")
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--small-claims", type=int, default=1_000)
    parser.add_argument("--observations", type=int, default=10_000_000)
    parser.add_argument("--indicators", type=int, default=1_000)
    parser.add_argument("--ingest-rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5, help="each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu)")
    tag = os.getpid()
    names = {k: f"bench_scale_{tag}_{k}" for k in ("small", "large", "ingest", "raw")}
    out = io.StringIO()

    def say(line: str) -> None:
        print(line, flush=True)
        out.write(line + "\n")

    say(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    try:
        small = pg_database(args.postgres, names["small"])
        large = pg_database(args.postgres, names["large"])
        small_obs = max(args.indicators * 12, args.observations * args.small_claims // args.claims)
        took = seed(small, args.small_claims, args.indicators, small_obs)
        say(f"seeded {args.small_claims:,} claims, {small_obs:,} observations: {took:.1f} s")
        took = seed(large, args.claims, args.indicators, args.observations)
        say(f"seeded {args.claims:,} claims, {args.observations:,} observations: {took:.1f} s")

        tenth = list(range(1, args.claims // 10 + 1))
        first_tenth = first_evaluation(large, tenth)
        first_all = first_evaluation(large, None)
        first_evaluation(small, None)
        linear = first_all / first_tenth
        say(
            f"first evaluation: {len(tenth):,} claims {first_tenth:.1f} s, {args.claims:,} "
            f"claims {first_all:.1f} s; ratio {linear:.2f}  (target <= 11: {_ok(linear <= 11)})"
        )

        p50s = {}
        peak = float("nan")
        timed = paths(args.small_claims)
        for name, url in (("small", small), ("large", large)):
            with tempfile.TemporaryDirectory(prefix="tracker-bench-scale-") as tmp:
                proc, base = serve(url, Path(tmp))
                try:
                    p50s[name] = serving_p50s(base, args.seconds, timed)
                    if name == "large":
                        peak = peak_rss_mb(proc, base, timed, args.connections, args.seconds)
                finally:
                    stop(proc)
        for key, target in (("list", 1.5), ("claim", 1.5), ("overview", 2.0)):
            ratio = p50s["large"][key] / p50s["small"][key]
            say(
                f"{key:8s} p50 at {args.claims:,} claims {p50s['large'][key]:7.2f} ms, at "
                f"{args.small_claims:,} {p50s['small'][key]:7.2f} ms; ratio {ratio:.2f}  "
                f"(target <= {target}: {_ok(ratio <= target)})"
            )
        say(
            f"peak RSS of tracker serve ({args.claims:,} claims) after {args.connections} "
            f"connections of list, GET claim and overview: {peak:.0f} MB"
        )

        rows = periods(args.ingest_rows)
        ingest, _, _ = bench_ingest(pg_database(args.postgres, names["ingest"]), rows)
        raw = raw_copy(pg_database(args.postgres, names["raw"]), rows)
        floor = raw / ingest
        say(
            f"ingest of {args.ingest_rows:,} observations {ingest:.1f} s, raw COPY {raw:.1f} s; "
            f"raw ÷ ingest {floor:.2f}  (target >= 0.3: {_ok(floor >= 0.3)})"
        )
    finally:
        for name in names.values():
            drop_database(args.postgres, name)


def _ok(good: bool) -> str:
    return "OK" if good else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
