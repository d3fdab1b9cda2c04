"""Liveness and readiness probes, in-process and through a real `tracker serve`."""

import re
import subprocess
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from tracker_process import free_port, tracker_command, tracker_env

from tracker.web.app import create_app


def test_healthz_and_readyz_on_migrated_db(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]


def test_readyz_not_ready_on_empty_db(empty_db_url, tmp_path):
    from tracker.config import Settings

    s = Settings(database_url=empty_db_url, data_dir=tmp_path, run_scheduler=False)
    with TestClient(create_app(s)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"]["ok"] is False


def test_readyz_reports_database_backend_and_revision(settings, backend):
    with TestClient(create_app(settings)) as client:
        body = client.get("/readyz").json()
    assert body["checks"]["database"] == {"ok": True, "backend": backend}
    assert body["checks"]["migrations"]["ok"] is True


# --- tracker serve: the README's run path, as a real process ---------------------------------


def test_prepare_database_runs_steps_in_order_starting_with_migrate(empty_db_url, tmp_path):
    from tracker.config import Settings
    from tracker.db import current_revision, head_revision
    from tracker.startup import STEPS, Step, prepare_database

    assert STEPS[0].name == "migrate"
    seen: list[str] = []

    def second(settings, engine):
        seen.append(f"second at {current_revision(engine)}")
        return "second done"

    def third(settings, engine):
        seen.append("third")
        return None  # nothing to report

    s = Settings(database_url=empty_db_url, data_dir=tmp_path, run_scheduler=False)
    summary = prepare_database(s, [STEPS[0], Step("second", second), Step("third", third)])

    assert seen == [f"second at {head_revision()}", "third"]
    assert len(summary) == 2
    assert summary[0].startswith("database ") and head_revision() in summary[0]
    assert summary[1] == "second done"


@pytest.mark.timeout(180)
def test_tracker_serve_answers_healthz_and_readyz(backend, empty_db_url, tmp_path):
    """Start `tracker serve` as a user would; wait until the probes and the dashboard answer 200."""
    env = tracker_env(tmp_path)
    if backend == "postgresql":
        env["TRACKER_DATABASE_URL"] = empty_db_url
    # On SQLite the default applies: data/tracker.db below the working directory.
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*tracker_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            probes = _poll_until_ready(proc, f"http://127.0.0.1:{port}", log, deadline_s=60)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert probes["/healthz"] == {"status": "ok"}
    assert "<html" in probes["/"].lower()  # the dashboard renders
    assert probes["/readyz"]["status"] == "ready"
    migrations = probes["/readyz"]["checks"]["migrations"]
    assert migrations["ok"] is True and migrations["current"] == migrations["head"]
    if backend == "sqlite":
        assert (tmp_path / "data" / "tracker.db").is_file()
    output = log.read_text()
    assert output.startswith("database "), output  # the first start-up step: migrate
    assert f"http://127.0.0.1:{port}/" in output
    assert "Traceback" not in output
    # uvicorn's own lines in tracker's log format: UTC timestamp, level, logger
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO     uvicorn: Started server process",
        output,
        re.MULTILINE,
    ), output
    access = r"Z INFO     uvicorn\.access: 127\.0\.0\.1:\d+ - \"GET /healthz HTTP/1\.1\" 200"
    assert re.search(access, output), output


def _poll_until_ready(proc, base_url, log, deadline_s):
    deadline = time.monotonic() + deadline_s
    answers = {}
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"tracker serve exited with {proc.returncode}:\n{log.read_text()}")
            for path in ("/healthz", "/readyz", "/"):
                if path in answers:
                    continue
                try:
                    response = client.get(base_url + path)
                except httpx.TransportError:
                    break  # not listening yet
                if response.status_code == 200:
                    is_json = response.headers["content-type"].startswith("application/json")
                    answers[path] = response.json() if is_json else response.text
            if len(answers) == 3:
                return answers
            time.sleep(0.3)
    pytest.fail(f"no 200 from /healthz, /readyz and / within {deadline_s}s:\n{log.read_text()}")
