"""Benchmark of what users run: the installed `tracker serve` against a bare FastAPI app under
the same server settings, both driven by `wrk` (an external load generator, so Python load code
does not share the cores with the server), in one run.

1. `tracker serve` (a fresh SQLite database in a temporary data dir; start-up migrates and
   loads the repository's claims and bundled data, as a user's first start does; scheduler off,
   log level WARNING) and the bare app (tracker.cli.bind_socket + the same uvicorn.Config: one
   process, the same log settings; one route answering the same claim body as bytes).
2. GET /api/v1/claims/china-power-3x-us-2030 and the bare route, at 1 and at 32 keep-alive
   connections, the pair alternated `--rounds` times: req/s ratio (tracker ÷ bare) and p50/p99
   latency ratios per round, and their medians (what the targets are checked against).
   Targets: GET claim ≥ 0.5 of bare's req/s at 32 connections; p50 at 1 connection ≤ 3x bare's.
3. Burst: 48 connections for 10 s, half `GET /api/v1/claims?limit=50`, half GET claim, while
   /healthz is probed every 0.2 s; then one GET claim. No freeze: /healthz always answers
   within 1 s and the server answers at once afterwards (503 + Retry-After is allowed under
   the burst; wrk counts those as non-2xx).

    .venv/bin/python bench/bench_api.py [--seconds 8] [--rounds 3]

wrk: Debian/Ubuntu `sudo apt-get install wrk`; macOS `brew install wrk`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import HOST, free_port

REPO = Path(__file__).resolve().parent.parent
SLUG = "china-power-3x-us-2030"
CLAIM = f"/api/v1/claims/{SLUG}"
LIST = "/api/v1/claims?limit=50"
BARE = "/bare"
THROUGHPUT_TARGET = 0.5  # tracker ÷ bare req/s at 32 connections
P50_TARGET = 3.0  # tracker ÷ bare p50 at 1 connection

BARE_APP = """
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

from tracker.cli import bind_socket

body = Path(sys.argv[2]).read_bytes()
app = FastAPI()


@app.get("/bare")
async def bare() -> Response:
    return Response(body, media_type="application/json")


sock = bind_socket("127.0.0.1", int(sys.argv[1]))
# the uvicorn.Config of `tracker serve` (tracker.cli.serve), but the app
config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
                        log_level="warning")
uvicorn.Server(config).run(sockets=[sock])
"""

BURST_SCRIPT = f"""
local paths = {{"{LIST}", "{CLAIM}"}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % 2) + 1])
end
"""


def tracker_command() -> list[str]:
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def start_tracker(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATA_DIR=str(tmp / "data"),
        TRACKER_CLAIMS_DIR=str(REPO / "claims"),
        TRACKER_RUN_SCHEDULER="false",
        TRACKER_LOG_LEVEL="WARNING",
    )
    log = (tmp / "tracker.log").open("wb")
    return subprocess.Popen(
        [*tracker_command(), "serve", "--host", HOST, "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def start_bare(tmp: Path, port: int, body: bytes) -> subprocess.Popen[bytes]:
    (tmp / "bare_app.py").write_text(BARE_APP)
    (tmp / "body.json").write_bytes(body)
    return subprocess.Popen(
        [sys.executable, str(tmp / "bare_app.py"), str(port), str(tmp / "body.json")],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "bare.log").open("wb"),
        stdin=subprocess.DEVNULL,
    )


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 180) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            response = httpx.get(url, timeout=5, headers={"Accept-Encoding": "identity"})
            if response.status_code == 200:
                return response.content
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"no answer from {url} within {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str, connections: int, seconds: float, script: Path | None = None, timeout: str = "5s"
) -> dict[str, float]:
    """Run wrk; its req/s, p50 and p99 (ms), non-2xx/3xx answers and socket errors."""
    threads = min(2, connections)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency"]
    args += ["--timeout", timeout]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non2xx": 0.0,
        "errors": 0.0,
    }
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non:
        result["non2xx"] = float(non.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        result["errors"] = float(sum(int(g) for g in errors.groups()))
    return result


def burst(base: str, tmp: Path, seconds: float) -> None:
    script = tmp / "burst.lua"
    script.write_text(BURST_SCRIPT)
    probes: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=5) as client:
            while not done.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(f"{base}/healthz").status_code == 200
                except httpx.TransportError:
                    ok = False
                probes.append(time.perf_counter() - started if ok else float("inf"))
                time.sleep(0.2)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        result = wrk(base + "/", 48, seconds, script=script, timeout="10s")
    finally:
        done.set()
        prober.join()
    started = time.perf_counter()
    after = httpx.get(base + CLAIM, timeout=10).status_code
    after_s = time.perf_counter() - started
    print(
        f"burst, 48 connections x {seconds:.0f} s (half list of 50, half GET claim): "
        f"{result['requests']:.0f} answers, {result['rps']:.0f} req/s, p50 {result['p50']:.1f} "
        f"ms, p99 {result['p99']:.1f} ms, non-2xx (503 + Retry-After) {result['non2xx']:.0f}, "
        f"socket errors/timeouts {result['errors']:.0f}"
    )
    worst = max(probes) if probes else float("inf")
    frozen = worst >= 1.0 or after != 200 or after_s >= 1.0 or result["errors"] > 0
    print(
        f"/healthz during the burst: {len(probes)} probes, slowest {worst * 1000:.1f} ms; "
        f"GET claim right after: {after} in {after_s * 1000:.1f} ms  "
        f"({'FROZE' if frozen else 'no freeze: OK'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="each wrk run (default 8)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="tracker/bare runs alternated per connection count; the median ratio is the result "
        "(on a shared machine one run can land in a busy moment)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or "
            "`brew install wrk` (macOS), then run this again"
        )
    with tempfile.TemporaryDirectory(prefix="tracker-bench-api-") as name:
        tmp = Path(name)
        tracker_port, bare_port = free_port(), free_port()
        tracker_base, bare_base = f"http://{HOST}:{tracker_port}", f"http://{HOST}:{bare_port}"
        tracker = start_tracker(tmp, tracker_port)
        bare = None
        try:
            body = wait_for(tracker_base + CLAIM, tracker)
            bare = start_bare(tmp, bare_port, body)
            wait_for(bare_base + BARE, bare)
            print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
            print(f"body: {len(body)} bytes (the claim's JSON, served identically by both)")
            for connections in (1, 32):
                ratios: dict[str, list[float]] = {"rps": [], "p50": [], "p99": []}
                for _ in range(args.rounds):  # alternating, so a busy moment hits both alike
                    ours = wrk(tracker_base + CLAIM, connections, args.seconds)
                    base = wrk(bare_base + BARE, connections, args.seconds)
                    for key in ratios:
                        ratios[key].append(ours[key] / base[key])
                    print(
                        f"{connections:2d} connection(s): tracker serve {ours['rps']:8.0f} req/s "
                        f"(p50 {ours['p50']:6.2f} ms, p99 {ours['p99']:6.2f} ms); bare "
                        f"{base['rps']:8.0f} req/s (p50 {base['p50']:6.2f} ms, p99 "
                        f"{base['p99']:6.2f} ms)"
                    )
                rps, p50, p99 = (statistics.median(ratios[key]) for key in ("rps", "p50", "p99"))
                line = (
                    f"   ratio tracker/bare (median of {args.rounds}): req/s {rps:.2f}, "
                    f"p50 {p50:.2f}x, p99 {p99:.2f}x"
                )
                if connections == 32:
                    verdict = "OK" if rps >= THROUGHPUT_TARGET else "BELOW TARGET"
                    line += f"  (req/s target >= {THROUGHPUT_TARGET}: {verdict})"
                else:
                    verdict = "OK" if p50 <= P50_TARGET else "ABOVE TARGET"
                    line += f"  (p50 target <= {P50_TARGET}x: {verdict})"
                print(line)
            burst(tracker_base, tmp, max(args.seconds, 10))
        finally:
            stop(tracker)
            if bare is not None:
                stop(bare)


if __name__ == "__main__":
    main()
