"""The `tracker` command as a user runs it (a subprocess): migrate, help, and one-line errors."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tracker_process import REPO_ROOT, free_port, tracker_command, tracker_env

from tracker.db import (
    POSTGRES_CONNECT_TIMEOUT_SECONDS,
    current_revision,
    head_revision,
    make_engine,
    upgrade_to_head,
)


def run_tracker(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tracker_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def command_args(name: str) -> list[str]:
    """`migrate`, or `serve` on a free port (it must fail before it ever listens)."""
    return ["serve", "--port", str(free_port())] if name == "serve" else [name]


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_unreachable_postgresql_is_one_clear_line(command, tmp_path):
    url = "postgresql://tracker:s3cr3t-pw@127.0.0.1:1/tracker"
    args = command_args(command)
    result = run_tracker(args, tracker_env(tmp_path, TRACKER_DATABASE_URL=url), tmp_path)
    line = assert_one_line_error(result, "cannot connect to database", "127.0.0.1:1/tracker")
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "***" in line


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_unwritable_sqlite_path_is_one_clear_line(command, tmp_path):
    # As root os.access() says yes to everything; a path below a regular file fails for anyone.
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory\n")
    db_path = blocker / "x.db"
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=f"sqlite:///{db_path}")
    result = run_tracker(command_args(command), env, tmp_path)
    assert_one_line_error(result, str(db_path), "not a directory")
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_port_is_one_line_before_any_start_up_work(workers, tmp_path):
    """A second `tracker serve` on a port in use (here held by this test) says so in one line
    and exits non-zero, before migrating or printing a "serving" URL that another answers.
    (A `tracker serve --workers 2` holding the port: tests/test_serving_workers.py.)"""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["serve", "--port", str(port), "--workers", workers]
        result = run_tracker(args, tracker_env(tmp_path), tmp_path)
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use (another tracker?)")
    assert result.stdout == ""  # neither the start-up steps nor "tracker serving on …"
    assert not (tmp_path / "data" / "tracker.db").exists()  # no start-up work was done


def test_serve_on_an_unknown_host_is_one_clear_line(tmp_path):
    args = ["serve", "--host", "no-such-host.invalid", "--port", str(free_port())]
    result = run_tracker(args, tracker_env(tmp_path), tmp_path)
    assert_one_line_error(result, "cannot listen on no-such-host.invalid port ", "--host")
    assert not (tmp_path / "data" / "tracker.db").exists()


def test_postgresql_connect_timeout_is_short_unless_the_url_sets_one():
    """A server that never answers must fail within seconds, not hang `tracker serve`."""
    seen: list[dict[str, Any]] = []

    def capture(dialect, record, cargs, cparams):
        seen.append(dict(cparams))
        raise RuntimeError("stop before connecting")

    for url in ("postgresql://u@127.0.0.1:1/x", "postgresql://u@127.0.0.1:1/x?connect_timeout=17"):
        engine = make_engine(url)
        sa.event.listen(engine, "do_connect", capture)
        with pytest.raises(RuntimeError, match="stop before connecting"):
            engine.connect()
        engine.dispose()
    assert int(seen[0]["connect_timeout"]) == POSTGRES_CONNECT_TIMEOUT_SECONDS == 5
    assert int(seen[1]["connect_timeout"]) == 17


def test_sqlite_path_that_is_a_directory_is_one_clear_line(tmp_path):
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=f"sqlite:///{tmp_path}")
    result = run_tracker(["migrate"], env, tmp_path)
    assert_one_line_error(result, "is a directory", str(tmp_path))


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not-a-url", "invalid database URL"),
        ("postgresql://user:pw@host:notaport/db", "invalid database URL"),
        ("mysql://user:pw@127.0.0.1/db", "no driver for database URL"),
    ],
    ids=["garbage", "bad-port", "missing-driver"],
)
def test_bad_database_url_is_one_clear_line(url, needle, tmp_path):
    result = run_tracker(["migrate"], tracker_env(tmp_path, TRACKER_DATABASE_URL=url), tmp_path)
    assert_one_line_error(result, needle)
    assert ":pw@" not in result.stderr


def test_invalid_setting_names_the_variable(tmp_path):
    env = tracker_env(tmp_path, TRACKER_RUN_SCHEDULER="sometimes")
    result = run_tracker(["migrate"], env, tmp_path)
    assert_one_line_error(result, "invalid configuration")


def test_database_from_newer_code_is_one_clear_line(empty_db_url, tmp_path):
    upgrade_to_head(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    finally:
        engine.dispose()
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=empty_db_url)
    result = run_tracker(["migrate"], env, tmp_path)
    assert_one_line_error(result, "cannot migrate database", "ffffffffffff")


def test_migrate_brings_an_empty_database_to_head(empty_db_url, tmp_path):
    env = tracker_env(tmp_path, TRACKER_DATABASE_URL=empty_db_url)

    result = run_tracker(["migrate"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    head = head_revision()
    assert f"at revision {head} (head)" in result.stdout
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) == head
    finally:
        engine.dispose()
    # Running it again is harmless.
    again = run_tracker(["migrate"], env, tmp_path)
    assert again.returncode == 0, again.stderr


def test_migrate_default_database_is_a_file_in_the_data_dir(tmp_path):
    env = tracker_env(tmp_path)
    result = run_tracker(["migrate"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "tracker.db").is_file()


@pytest.mark.parametrize("args", [[], ["migrate"], ["serve"]], ids=["top", "migrate", "serve"])
def test_help_describes_each_command(args, tmp_path):
    result = run_tracker([*args, "--help"], tracker_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    if not args:
        assert "migrate" in result.stdout
        assert "serve" in result.stdout
    if args == ["serve"]:
        assert "--port" in result.stdout
        assert "--host" in result.stdout


# --- the README documents what exists, and claims nothing that does not -----------------------

README = REPO_ROOT / "README.md"


def _readme_block(marker: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    assert start in text and end in text, f"README lacks the {marker} markers"
    block = text.split(start, 1)[1].split(end, 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("```")]


def test_readme_set_up_commands_are_single_lines():
    (run,) = _readme_block("run-command")
    (test,) = _readme_block("test-command")
    for command in (run, test):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert run.endswith(".venv/bin/tracker serve")
    assert test.endswith(".venv/bin/python -m pytest")
    assert "'.[test]'" in test


def test_readme_configuration_table_lists_every_setting():
    from tracker.config import DEFAULT_BASE_URLS, SOURCE_NAMES, Settings

    text = README.read_text(encoding="utf-8")
    per_source = {f"{s}_{kind}" for s in SOURCE_NAMES for kind in ("base_url", "api_key")}
    for name in Settings.model_fields:
        if name in per_source:
            continue
        assert f"`TRACKER_{name.upper()}`" in text, f"add TRACKER_{name.upper()} to README"
    assert "`TRACKER_<SOURCE>_BASE_URL`" in text
    assert "`TRACKER_<SOURCE>_API_KEY`" in text
    for source in SOURCE_NAMES:
        assert f"`{source.upper()}`" in text, f"add source {source} to README"
        assert DEFAULT_BASE_URLS[source] in text


def _cli_paths() -> set[str]:
    """Every runnable command path, e.g. {"tracker migrate", "tracker claims check"}."""
    import typer

    from tracker.cli import app

    def walk(command: Any, prefix: str) -> set[str]:
        subcommands = getattr(command, "commands", None)  # a group (typer vendors click)
        if not subcommands:
            return {prefix}
        paths: set[str] = set()
        for name, sub in subcommands.items():
            paths |= walk(sub, f"{prefix} {name}")
        return paths

    return walk(typer.main.get_command(app), "tracker")


def test_readme_lists_every_command_and_marks_unbuilt_ones_planned():
    text = README.read_text(encoding="utf-8")
    existing = _cli_paths()
    for path in existing:
        assert f"`{path}" in text, f"add `{path}` to the README's command table"
    rows = [line for line in text.splitlines() if line.startswith("| `tracker ")]
    assert rows, "README has no command table"
    for row in rows:
        documented = row.split("`")[1]
        words = [w for w in documented.split() if not w.startswith(("[", "-"))]
        path = " ".join(w for w in words if w.islower() and w.replace("-", "").isalpha())
        if "*planned*" not in row:
            assert path in existing, f"README presents `{path}` as built, but it is not"
