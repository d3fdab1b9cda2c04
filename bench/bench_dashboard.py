"""Benchmark: the dashboard overview versus the JSON claim list, same page size, 10,000 claims.

Builds a migrated SQLite database in a temporary directory with 10,000 claims (each with a
claimant, a first evaluation and a deadline spread over 2020–2035), then serves the real app with
uvicorn (one worker) and times sequential GETs of `/` and `/api/v1/claims?limit=50` in the same
run with one httpx client. Prints requests/s of each and their ratio (overview / JSON).

    .venv/bin/python bench/bench_dashboard.py [--claims 10000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn
from _common import HOST, bench_settings, free_port

from tracker.db import make_engine, upgrade_to_head
from tracker.models import Claim, Claimant, Evaluation
from tracker.status import status_change_columns
from tracker.web.app import create_app

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PAGE_SIZE = 50
STATES = ["open", "open", "open", "upcoming", "awaiting_data", "needs_review", "resolved_true"]


def seed(url: str, n_claims: int) -> None:
    engine = make_engine(url)
    claimants = [
        {
            "id": i + 1,
            "slug": f"person-{i}",
            "name": f"Person {i}",
            "kind": "person",
            "created_at": NOW,
        }
        for i in range(200)
    ]
    claims, evaluations = [], []
    for i in range(n_claims):
        state = STATES[i % len(STATES)]
        deadline = dt.date(2020, 1, 1) + dt.timedelta(days=(i * 37) % (16 * 365))
        claims.append(
            {
                "id": i + 1,
                "slug": f"claim-{i:05d}",
                "title": f"Claim number {i}: something measurable happens by {deadline.year}",
                "quote_original": f"{deadline.year}年までに何かが起こる ({i})",
                "quote_language": "ja",
                "quote_en": f"Something happens by {deadline.year} ({i}).",
                "claimant_id": (i % 200) + 1,
                "deadline": deadline,
                "stated_on": dt.date(2026, 1, 6),
                "stated_precision": "day",
                "kind": "hard",
                "tags": ["bench", f"t{i % 10}"],
                "lifecycle": "active",
                "origin": "file",
                "spec": {},
                "content_hash": hashlib.sha256(str(i).encode()).hexdigest(),
                "version": 1,
                "criteria_version": 1,
                "status_state": state,
                "status_trend": "on_track" if state == "open" else None,
                "status_evaluation_id": i + 1,
                "status_changed_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
        evaluations.append(
            {
                "id": i + 1,
                "claim_id": i + 1,
                "claim_version": 1,
                "evaluated_at": NOW - dt.timedelta(minutes=i),
                "as_of": NOW,
                "state": state,
                "trend": "on_track" if state == "open" else None,
                "reason": f"value {i % 97} against threshold 100",
                "metric_value": float(i % 97),
                "metric_unit": "TWh",
                "metric_period": "2025",
                "threshold": 100.0,
                "comparator": ">=",
                "fingerprint": hashlib.sha256(f"e{i}".encode()).hexdigest(),
                "details": {},
                "evidence": {},
                "evaluator_version": "bench",
                **status_change_columns(None, state, "on_track" if state == "open" else None),
            }
        )
    with engine.begin() as conn:
        conn.execute(sa.insert(Claimant.__table__), claimants)  # type: ignore[attr-defined]
        for start in range(0, n_claims, 2000):
            conn.execute(sa.insert(Claim.__table__), claims[start : start + 2000])  # type: ignore[attr-defined]
            conn.execute(
                sa.insert(Evaluation.__table__),  # type: ignore[attr-defined]
                evaluations[start : start + 2000],
            )
    engine.dispose()


def measure(client: httpx.Client, path: str, seconds: float) -> tuple[float, int, int]:
    """(requests per second, requests, response bytes of one) for sequential GETs of `path`."""
    first = client.get(path)
    first.raise_for_status()
    for _ in range(3):
        client.get(path)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        r = client.get(path)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}")
        count += 1
    return count / (time.perf_counter() - start), count, len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_to_head(url)
        seed(url, args.claims)
        app = create_app(bench_settings(url, tmp))
        app.state.clock = lambda: NOW
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host=HOST, port=port, log_level="warning", workers=1)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
                html_rps, html_n, html_bytes = measure(client, "/", args.seconds)
                json_rps, json_n, json_bytes = measure(
                    client, f"/api/v1/claims?limit={PAGE_SIZE}", args.seconds
                )
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    result = {
        "claims": args.claims,
        "page_size": PAGE_SIZE,
        "overview_rps": round(html_rps, 1),
        "overview_requests": html_n,
        "overview_bytes": html_bytes,
        "json_list_rps": round(json_rps, 1),
        "json_list_requests": json_n,
        "json_list_bytes": json_bytes,
        "ratio_overview_to_json": round(html_rps / json_rps, 3),
    }
    print(f"overview  GET /                      {html_rps:8.1f} req/s  ({html_bytes} bytes)")
    print(f"JSON list GET /api/v1/claims?limit=50 {json_rps:8.1f} req/s  ({json_bytes} bytes)")
    print(f"ratio overview / JSON list: {html_rps / json_rps:.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
