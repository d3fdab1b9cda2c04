"""Every command that uses the database says one `error:` line when it fails, never a traceback,
and never any part of the database password — even one holding an unencoded `@`, which the URL
parser used to split at, printing the rest as the host (issue 15, item 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tracker.cli import main
from tracker.db import describe_url, make_engine, normalise_url

SECRET = "SECRET987"
# port 1 on the loopback: refused at once (nothing listens there)
BAD_URL = f"postgresql://postgres:{SECRET}@{SECRET}@127.0.0.1:1/tracker"
COMMANDS = [
    ["token", "list"],
    ["token", "revoke", "someone"],
    ["token", "create", "--name", "someone", "--scope", "claims:write"],
    ["claims", "export", "{tmp}/export"],
    ["claims", "sync", "{tmp}/claims"],
    ["evaluate"],
    ["fetch"],
    ["indicators"],
    ["migrate"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_one_error_line_without_the_password(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "claims").mkdir()
    monkeypatch.setenv("TRACKER_DATABASE_URL", BAD_URL)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["tracker", *(a.format(tmp=tmp_path) for a in command)])
    with pytest.raises(SystemExit) as exited:
        main()  # as `tracker ...` runs it (the entry point)
    out, err = capsys.readouterr()
    assert exited.value.code not in (0, None), (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    assert SECRET not in out + err, (out, err)
    if "postgres:" in err:  # a URL named is the right one, its password hidden whole
        assert "postgres:***@127.0.0.1:1/tracker" in err, err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (BAD_URL, "postgresql://postgres:SECRET987%40SECRET987@127.0.0.1:1/tracker"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:p%40ss@h/db"),  # already encoded
        ("postgresql://u:pass@h/db", "postgresql://u:pass@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_a_password_with_an_unencoded_at_is_read_as_the_writer_meant(
    url: str, expected: str
) -> None:
    assert normalise_url(url) == expected
    assert SECRET not in describe_url(url)
    if url.startswith("postgresql"):
        engine = make_engine(url)
        assert engine.url.host in ("127.0.0.1", "h")
        assert engine.url.password in (f"{SECRET}@{SECRET}", "p@ss", "pass")
        engine.dispose()
