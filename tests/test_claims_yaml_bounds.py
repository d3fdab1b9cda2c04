"""Reading YAML is bounded for any input: aliases may repeat at most MAX_ALIASED_NODES nodes and
none may be recursive, so a "billion laughs" document (nested anchors, ~1 KB, ~10^9 nodes once
expanded) is refused at once, naming the file (or "request body") and the line of the alias,
through `tracker claims check`, `tracker serve`'s start-up sync and the API's YAML bodies.

A regression would not be slower but endless (memory past 4 GB), so the bombs run in a separate
process with a deadline that kills it, never in this one.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from tracker_process import free_port, tracker_command, tracker_env
from typer.testing import CliRunner

from tracker.auth import create_token
from tracker.claims import (
    MAX_ALIASED_NODES,
    ClaimValidationError,
    check_claims_path,
    parse_yaml,
)
from tracker.cli import app
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.models import Claim
from tracker.web.app import create_app

VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"
DEADLINE_S = 10  # a bounded parse takes milliseconds; an unbounded one never ends

runner = CliRunner()


def billion_laughs(levels: int = 9) -> str:
    """`a: &a ["x", ...9]`, `b: &b [*a, ...9]`, ...: 9**levels strings from ~40 bytes a line."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ["a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def merge_key_bomb(levels: int = 9) -> str:
    """The same with merge keys, `b: &b {<<: [*a, ...9]}`: exponential in the PyYAML versions
    pyproject allows before the merge-key fix (yaml/pyyaml#897), refused here either way."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ["a: &a {" + ", ".join(f"k{i}: x" for i in range(9)) + "}"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} {{<<: [" + ", ".join([f"*{previous}"] * 9) + "]}")
    return "\n".join(lines) + "\n"


def _alias_line(text: str, anchor: str) -> int:
    """The line of the first use of alias *anchor."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if f"*{anchor}" in line)


# --- parse_yaml ---


@pytest.mark.parametrize("bomb", [billion_laughs, merge_key_bomb])
def test_a_nine_level_bomb_is_refused_in_a_process_that_returns(bomb) -> None:
    code = textwrap.dedent(
        f"""
        from tracker.claims import ClaimValidationError, parse_yaml
        try:
            parse_yaml({bomb()!r}, source_label="bomb.yaml")
        except ClaimValidationError as exc:
            print(exc)
        else:
            print("accepted")
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_S
        )
    except subprocess.TimeoutExpired:  # run() has killed it
        pytest.fail(f"parse_yaml did not return within {DEADLINE_S} s on a 9-level bomb")
    assert done.returncode == 0, done.stderr
    _assert_names_the_alias(done.stdout, "bomb.yaml", bomb())


def _assert_names_the_alias(output: str, label: str, text: str) -> None:
    """The refusal names the file and the line of the first alias past the limit."""
    found = re.search(rf"{re.escape(label)}:(\d+): error: \(yaml\): alias \*(\w) repeats ", output)
    assert found, output
    assert int(found[1]) == _alias_line(text, found[2])
    assert f"expected at most {MAX_ALIASED_NODES:,}" in output


def test_the_limit_counts_what_aliases_repeat_not_the_document() -> None:
    # a large document without aliases is read whole
    plain = "items:\n" + "".join(f"  - item {i}\n" for i in range(MAX_ALIASED_NODES + 1))
    assert len(parse_yaml(plain, source_label="big.yaml").data["items"]) == MAX_ALIASED_NODES + 1
    # an alias may repeat up to the limit, and not one node more
    items = ", ".join(["x"] * (MAX_ALIASED_NODES - 1))  # with the sequence: the limit
    at_limit = f"a: &a [{items}]\nb: *a\n"
    parsed = parse_yaml(at_limit, source_label="limit.yaml")
    assert parsed.data["b"] is parsed.data["a"]
    with pytest.raises(ClaimValidationError) as refused:
        parse_yaml(at_limit + "c: *a\n", source_label="limit.yaml")
    [issue] = refused.value.errors
    assert (issue.file, issue.line, issue.field) == ("limit.yaml", 3, "(yaml)")
    assert issue.message.startswith(f"alias *a repeats {MAX_ALIASED_NODES:,} YAML nodes")


@pytest.mark.parametrize(
    "text", ["a: 1\nb: &b [1, *b]\n", "a: 1\nb: &b {x: 1, y: [*b]}\n", "a: 1\nb: &b {<<: *b}\n"]
)
def test_a_recursive_alias_is_refused_naming_its_line(text: str) -> None:
    # PyYAML itself builds these into self-containing lists and dicts
    with pytest.raises(ClaimValidationError) as refused:
        parse_yaml(text, source_label="loop.yaml")
    [issue] = refused.value.errors
    assert (issue.file, issue.line, issue.field) == ("loop.yaml", 2, "(yaml)")
    assert issue.message.startswith("alias *b is inside the node anchored &b")


def test_duplicate_keys_in_an_anchored_mapping_are_reported_once() -> None:
    text = "a: &a {k: 1, k: 2}\nb: *a\nc: *a\n"
    with pytest.raises(ClaimValidationError) as refused:
        parse_yaml(text, source_label="dup.yaml")
    assert [(i.line, i.field) for i in refused.value.errors] == [(1, "a.k")]


def test_a_merge_key_overridden_by_the_mapping_is_not_a_duplicate() -> None:
    # the keys were walked after the constructor had merged `<<`, so `y` looked duplicated
    text = "base: &base {x: 1, y: 2}\nother:\n  <<: *base\n  y: 3\n"
    parsed = parse_yaml(text, source_label="merge.yaml")
    assert parsed.data["other"] == {"x": 1, "y": 3}
    assert parsed.lines[("other", "y")] == 4


def test_yaml_nested_too_deeply_is_an_error_naming_the_file(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("slug: deep\ncriteria: " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    result = runner.invoke(app, ["claims", "check", str(deep)])
    assert result.exit_code == 1
    assert f"{deep.as_posix()}: error: (yaml): nested too deeply" in result.output
    assert isinstance(result.exception, SystemExit)  # not a RecursionError's traceback


# --- a legitimate alias still works ---


def _claim_with_a_reused_series(directory: Path) -> Path:
    """power-ratio with a second criterion reading the first one's series through an alias."""
    text = (VALID / "power-ratio.yaml").read_text("utf-8")
    text = text.replace("    series:\n      ratio:", "    series: &ratio\n      ratio:", 1)
    text += (
        "  - key: ratio-2030-context\n"
        "    type: threshold\n"
        "    role: context\n"
        "    series: *ratio\n"
        '    comparator: ">="\n'
        "    threshold: 2.5\n"
        '    unit: "1"\n'
        "    mode: at_period\n"
        '    period: "2030"\n'
    )
    path = directory / "power-ratio.yaml"
    path.write_text(text, "utf-8")
    return path


def test_a_claim_file_reusing_a_series_through_an_alias_checks(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    path = _claim_with_a_reused_series(directory)
    result = check_claims_path(path)
    assert result.errors == []
    claim = next(c for c in result.claims if c.slug == "power-ratio")
    assert [c.key for c in claim.criteria] == ["ratio-2030", "ratio-2030-context"]
    assert claim.criteria[1].series == claim.criteria[0].series
    # an error in the aliased part names the line of the text to fix: the anchored original
    broken = path.read_text("utf-8").replace("owid.electricity_generation.usa", "owid.nope")
    path.write_text(broken, "utf-8")
    errors = {(e.field, e.line) for e in check_claims_path(path).errors}
    assert ("criteria[1].series.ratio[1].indicator", 24) in errors


@pytest.fixture
def synced_client(settings: Settings, engine: Engine, db_url: str, tmp_path: Path):
    directory = tmp_path / "claim-files"
    shutil.copytree(VALID, directory)
    result = runner.invoke(
        app, ["claims", "sync", str(directory)], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def _writer(engine: Engine) -> dict[str, str]:
    now = utcnow()
    with Session(engine) as session:
        token = create_token(session, "writer", ["claims:write"], now=now).plaintext
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_the_api_takes_a_claim_reusing_a_series_through_an_alias(
    synced_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    directory = tmp_path / "posted"
    directory.mkdir()
    text = _claim_with_a_reused_series(directory).read_text("utf-8")
    text = text.replace("slug: power-ratio", "slug: power-ratio-aliased")
    headers = {**_writer(engine), "Content-Type": "application/yaml"}
    r = synced_client.post("/api/v1/claims", content=text, headers=headers)
    assert r.status_code == 201, r.text
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio-aliased")).one()
        assert claim.origin == "api"


# --- the CLI and `tracker serve`, as separate processes ---


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command[-3:])} did not finish within 60 s on a 9-level bomb")


@pytest.mark.timeout(120)
def test_tracker_claims_check_refuses_a_bomb_naming_file_and_line(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    bomb = directory / "bomb.yaml"
    bomb.write_text(billion_laughs(), "utf-8")
    env = tracker_env(tmp_path, TRACKER_CLAIMS_DIR=str(directory))
    for target in (bomb, directory):  # one file, and the directory holding it
        done = _run([*tracker_command(), "claims", "check", str(target)], env, tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        _assert_names_the_alias(done.stderr, bomb.as_posix(), billion_laughs())
        assert "Traceback" not in done.stderr


@pytest.mark.timeout(120)
def test_tracker_serve_refuses_to_start_on_a_bomb_in_the_claims_directory(
    db_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    bomb = directory / "bomb.yaml"
    bomb.write_text(billion_laughs(), "utf-8")
    env = tracker_env(
        tmp_path,
        TRACKER_CLAIMS_DIR=str(directory),
        TRACKER_DATABASE_URL=db_url,
        TRACKER_LOAD_BUNDLED_ON_START="false",
    )
    port = str(free_port())
    done = _run([*tracker_command(), "serve", "--port", port], env, tmp_path)
    assert done.returncode != 0
    _assert_names_the_alias(done.stdout + done.stderr, bomb.as_posix(), billion_laughs())


@pytest.fixture
def served(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `tracker serve` on the test's database, and a claims:write token's header."""
    writer = _writer(engine)
    env = tracker_env(
        tmp_path,
        TRACKER_DATABASE_URL=db_url,
        TRACKER_SYNC_CLAIMS_ON_START="false",
        TRACKER_LOAD_BUNDLED_ON_START="false",
    )
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
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield base, writer
        finally:
            proc.terminate()  # SIGTERM is heard: nothing holds the event loop
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"tracker serve ignored SIGTERM:\n{log.read_text()}")


@pytest.mark.timeout(180)
def test_the_api_refuses_a_bomb_at_once_and_keeps_answering(
    served: tuple[str, dict[str, str]], engine: Engine
) -> None:
    base, writer = served
    headers = {**writer, "Content-Type": "application/yaml"}
    text = billion_laughs()
    with httpx.Client(base_url=base, timeout=DEADLINE_S) as client:
        for path in ("/api/v1/claims:dry-run", "/api/v1/claims"):
            try:
                r = client.post(path, content=text, headers=headers)
            except httpx.TimeoutException:
                pytest.fail(f"POST {path} with a 9-level bomb did not answer in {DEADLINE_S} s")
            assert r.status_code == 422, r.text
            [error] = r.json()["errors"]
            assert (error["field"], error["location"]) == ("(yaml)", "body")
            _assert_names_the_alias(
                f"request body:{error['line']}: error: (yaml): " + error["message"],
                "request body",
                text,
            )
            assert client.get("/healthz").json() == {"status": "ok"}
    with Session(engine) as session:
        assert session.exec(select(Claim)).all() == []


@pytest.mark.timeout(180)
def test_the_server_answers_healthz_while_it_reads_a_large_yaml_body(
    served: tuple[str, dict[str, str]],
) -> None:
    """Reading YAML is linear but pure Python (seconds for a body near the 1 MiB cap): it runs
    beside the event loop, not on it, so /healthz is answered meanwhile.

    Read on the event loop, a /healthz sent during the read waits for its end, i.e. for most of
    the POST; beside it, each answers in milliseconds: the slowest is compared with the POST.
    """
    base, writer = served
    body = "- x\n" * 64_000  # 256 KB; not a mapping, so refused as soon as it is read
    posted: list[httpx.Response] = []

    def post() -> None:
        headers = {**writer, "Content-Type": "application/yaml"}
        url = base + "/api/v1/claims:dry-run"
        posted.append(httpx.post(url, content=body, headers=headers, timeout=120))

    poster = threading.Thread(target=post)
    slowest = 0.0
    with httpx.Client(base_url=base, timeout=120) as client:
        started = time.monotonic()
        poster.start()
        while poster.is_alive():
            sent = time.monotonic()
            assert client.get("/healthz").status_code == 200
            slowest = max(slowest, time.monotonic() - sent)
        poster.join()
        took = time.monotonic() - started
    [response] = posted
    assert response.status_code == 422
    assert "expected a mapping of claim fields" in response.text
    assert slowest < took / 4, f"a /healthz waited {slowest:.2f} s of the POST's {took:.2f} s"
