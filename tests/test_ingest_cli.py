"""`tracker fetch` and `tracker indicators` end to end: the real CLI, the real HTTP client, and a
local HTTP server (127.0.0.1) standing in for OWID with the recorded payloads."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select
from test_ingest_support import OWID_CSV, OWID_META, make_owid_indicator, owid_key
from typer.testing import CliRunner

from tracker.cli import app
from tracker.models import FetchRun

runner = CliRunner()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if "country=USA" in self.path:  # the United States endpoint is down
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"unavailable")
            return
        body = OWID_META if ".metadata.json" in self.path else OWID_CSV
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def owid_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/grapher"
    server.shutdown()
    server.server_close()


@pytest.fixture
def cli_env(monkeypatch, settings, owid_server):
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRACKER_OWID_BASE_URL", owid_server)
    monkeypatch.setenv("TRACKER_HTTP_MAX_RETRIES", "0")
    monkeypatch.setenv("COLUMNS", "200")


def test_fetch_prints_summary_and_fails_when_one_indicator_fails(cli_env, engine):
    make_owid_indicator(engine, "CHN")
    make_owid_indicator(engine, "USA")
    result = runner.invoke(app, ["fetch", "--source", "owid"])
    assert result.exit_code == 1, result.output
    assert "fetch summary" in result.output
    # the table is on stdout (the failure is also logged, on stderr)
    chn_line = next(line for line in result.stdout.splitlines() if owid_key("CHN") in line)
    usa_line = next(line for line in result.stdout.splitlines() if owid_key("USA") in line)
    assert "ok" in chn_line and "26" in chn_line
    assert "error" in usa_line and "HTTP 503" in usa_line
    with Session(engine) as s:
        runs = s.exec(select(FetchRun).order_by(FetchRun.id)).all()  # type: ignore[arg-type]
    assert [(r.status, r.trigger) for r in runs] == [("ok", "cli"), ("error", "cli")]

    again = runner.invoke(app, ["fetch", "--indicator", owid_key("CHN")])
    assert again.exit_code == 0, again.output
    assert "26" in next(line for line in again.output.splitlines() if owid_key("CHN") in line)

    listing = runner.invoke(app, ["indicators"])
    assert listing.exit_code == 0, listing.output
    assert owid_key("CHN") in listing.output and "2027-06-20" in listing.output
    assert "error" in next(line for line in listing.output.splitlines() if owid_key("USA") in line)


def test_fetch_names_unknown_indicator_and_source(cli_env, engine):
    make_owid_indicator(engine, "CHN")
    unknown = runner.invoke(app, ["fetch", "--indicator", "no.such.key"])
    assert unknown.exit_code == 1 and "no.such.key" in unknown.output
    bad_source = runner.invoke(app, ["fetch", "--source", "nosuch"])
    assert bad_source.exit_code == 1 and "unknown source 'nosuch'" in bad_source.output


def test_fetch_refuses_an_unmigrated_database(monkeypatch, empty_db_url, tmp_path):
    monkeypatch.setenv("TRACKER_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["fetch"])
    assert result.exit_code == 1 and "tracker migrate" in result.output


def test_fetch_skips_a_source_without_its_api_key_and_says_which_setting(
    cli_env, engine, monkeypatch
):
    from test_ingest_support import make_indicator

    monkeypatch.delenv("TRACKER_FRED_API_KEY", raising=False)
    make_owid_indicator(engine, "CHN")
    make_indicator(engine, "fred.uspbs", source="fred", params={"series_id": "USPBS"})
    result = runner.invoke(app, ["fetch"])
    assert result.exit_code == 0, result.output  # skipped is not a failure
    fred_line = next(line for line in result.output.splitlines() if "fred.uspbs" in line)
    assert "skipped" in fred_line and "TRACKER_FRED_API_KEY" in fred_line
    assert "ok" in next(line for line in result.output.splitlines() if owid_key("CHN") in line)
    with Session(engine) as s:
        runs = s.exec(select(FetchRun)).all()
    assert [r.source for r in runs] == ["owid"]  # nothing recorded for the skipped one

    only_fred = runner.invoke(app, ["fetch", "--source", "fred"])
    assert only_fred.exit_code == 0 and "skipped" in only_fred.output

    listing = runner.invoke(app, ["indicators"])
    assert listing.exit_code == 0, listing.output
    fred_row = next(line for line in listing.output.splitlines() if "fred.uspbs" in line)
    assert "needs_key" in fred_row
    assert "ok" in next(line for line in listing.output.splitlines() if owid_key("CHN") in line)


def _listing(columns: int, monkeypatch, *args: str) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = runner.invoke(app, ["indicators", *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), result.stdout
    return lines


def _rows(lines: list[str], keys: list[str]) -> dict[str, str]:
    """Each key's row: the one line that starts with the whole key (never cut short)."""
    rows = {key: [line for line in lines if line.startswith(key + " ")] for key in keys}
    assert all(len(found) == 1 for found in rows.values()), "\n".join(lines)
    return {key: found[0] for key, found in rows.items()}


def test_indicators_listing_of_the_shipped_catalogue_is_one_line_each_at_80_and_160_columns(
    settings, engine, monkeypatch
):
    """The shipped catalogue, with the bundled snapshot loaded, then every live fetch failing:
    at 80 and 160 columns each indicator is one line that starts with its whole key (China and
    the United States told apart), with its health and a short summary; the whole error is
    one `tracker indicators KEY` away."""
    from tracker_process import REPO_ROOT

    from tracker.bundled import load_bundled
    from tracker.clock import utcnow
    from tracker.config import SOURCE_NAMES
    from tracker.data_health import indicator_health

    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRACKER_CLAIMS_DIR", str(REPO_ROOT / "claims"))
    monkeypatch.setenv("TRACKER_HTTP_MAX_RETRIES", "0")
    monkeypatch.delenv("TRACKER_FRED_API_KEY", raising=False)
    for source in SOURCE_NAMES:  # every source refuses the connection: never the network
        monkeypatch.setenv(f"TRACKER_{source.upper()}_BASE_URL", f"http://127.0.0.1:9/{source}")
    synced = runner.invoke(app, ["claims", "sync"])
    assert synced.exit_code == 0, synced.output
    load_bundled(engine)

    def states() -> dict[str, str]:
        with Session(engine) as session:
            health = indicator_health(session, settings, utcnow())
        return {h.indicator.key: h.state for h in health}

    before = states()
    keys = sorted(before)
    assert len(keys) >= 16 and {owid_key("CHN"), owid_key("USA")} <= set(keys)
    assert {"never_fetched", "bundled", "needs_key"} <= set(before.values())
    for columns in (80, 160):
        lines = _listing(columns, monkeypatch)
        assert len(lines) == len(keys) + 3, "\n".join(lines)  # title, header, caption
        for key, row in _rows(lines, keys).items():
            assert before[key] in row.split(), row
        assert "TRACKER_FRED_API_KEY" in _rows(lines, keys)["fred.uspbs"]

    fetched = runner.invoke(app, ["fetch"])
    assert fetched.exit_code == 1, fetched.output  # every live fetch failed
    after = states()
    assert after[owid_key("CHN")] == "failing" and after["fred.uspbs"] == "needs_key"
    for columns, header in ((80, ("key", "health", "summary")), (160, ("refresh", "last fetch"))):
        lines = _listing(columns, monkeypatch)
        assert len(lines) == len(keys) + 3, "\n".join(lines)
        assert all(name in lines[1] for name in header), lines[1]
        rows = _rows(lines, keys)
        for key, state in after.items():
            assert state in rows[key].split(), rows[key]
        chn = rows[owid_key("CHN")]
        assert "network error" in chn and "bundled" in chn and "Connection" not in chn

    narrow = _listing(50, monkeypatch)  # narrower than the longest key and its health
    for key in keys:
        assert narrow.index(key) + 1 < len(narrow), narrow  # the whole key, a line of its own
        assert narrow[narrow.index(key) + 1].startswith(f"  {after[key]}: "), narrow

    detail = runner.invoke(app, ["indicators", owid_key("CHN")], env={"COLUMNS": "80"})
    assert detail.exit_code == 0, detail.output
    words = " ".join(detail.stdout.split())  # the whole error, wrapped at 80 columns
    assert detail.stdout.startswith(owid_key("CHN") + "\n")
    assert "health failing" in words and "Connection refused" in words
    assert "snapshot retrieved" in words
    unknown = runner.invoke(app, ["indicators", "owid.nope"])
    assert unknown.exit_code == 1 and "unknown indicator(s): owid.nope" in unknown.output
