"""Quarantine end to end: the damaged OWID body of the issue through the real HTTP layer, the
real OWID adapter, the real ingest and a real database (SQLite or PostgreSQL), with the shipped
china-power-3x-us-2030 claim and catalogue; then what later fetches and reviewers do with it.
"""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from quarantine_support import (
    CHN,
    CLAIM,
    USA,
    ShapedUpstream,
    claim_status,
    copy_claims,
    cut_inside_last_value,
    filtered_csv,
    indicator_id,
    sync_shipped,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_ingest_support import OWID_CSV, OWID_META, T0, replace_value
from typer.testing import CliRunner

from tracker.cli import app
from tracker.config import Settings
from tracker.data_health import indicator_health
from tracker.ingest import read_raw_body
from tracker.models import Claim, FetchRun, Indicator, QuarantineDecision
from tracker.observations import observations_as_of, quarantined_as_of
from tracker.pipeline import refresh_indicator
from tracker.status import replay_claim

DAY = dt.timedelta(days=1)
T1, T2, T3 = T0 + DAY, T0 + 2 * DAY, T0 + 5 * DAY
DAMAGED = cut_inside_last_value(filtered_csv("CHN"))


@pytest.fixture
def shipped(engine: Engine, settings: Settings, tmp_path: Path) -> ShapedUpstream:
    """The shipped claim synced, CHN and USA fetched whole at T0 (evaluated as the pipeline
    does); returns the upstream, to damage."""
    sync_shipped(engine, copy_claims(tmp_path / "claims"), T0 - DAY)
    upstream = ShapedUpstream()
    http = upstream.fetcher(settings, http_max_retries=0)
    for key in (CHN, USA):
        result = refresh_indicator(engine, http, key, trigger="test", now=T0)
        assert result.fetch.ok and not result.fetch.quarantined and result.evaluated == 1
    return upstream


def fetch(engine: Engine, settings: Settings, upstream: ShapedUpstream, now: dt.datetime):
    return refresh_indicator(
        engine, upstream.fetcher(settings, http_max_retries=0), CHN, trigger="test", now=now
    )


def values(engine: Engine, key: str, as_of: dt.datetime | None = None) -> dict[str, float | None]:
    ind = indicator_id(engine, key)
    with Session(engine) as session:
        return {r.period: r.value for r in observations_as_of(session, [ind], as_of).get(ind, [])}


def held(engine: Engine, key: str, as_of: dt.datetime | None = None) -> dict[str, float | None]:
    ind = indicator_id(engine, key)
    with Session(engine) as session:
        return {r.period: r.value for r in quarantined_as_of(session, [ind], as_of).get(ind, [])}


def decisions(engine: Engine) -> list[tuple[int, str, str | None, dt.datetime, int | None]]:
    with Session(engine) as session:
        rows = session.exec(select(QuarantineDecision).order_by(col(QuarantineDecision.id))).all()
        return [
            (d.fetch_run_id, d.action, d.decided_by, d.decided_at, d.by_fetch_run_id) for d in rows
        ]


def replayed(engine: Engine, day: dt.date) -> tuple[str, float | None]:
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == CLAIM)).one()
        result = replay_claim(session, claim, day, now=T3 + 30 * DAY)
        return result.state.value, result.metric.value if result.metric else None


def test_damaged_body_is_quarantined_and_china_us_status_is_unchanged(engine, settings, shipped):
    before = claim_status(engine)
    assert before["state"] == "open" and round(before["metric"], 3) == 2.342
    shipped.csv_for["CHN"] = DAMAGED
    assert DAMAGED.endswith(b"\nChina,CHN,2025,10")

    result = fetch(engine, settings, shipped, T1)

    summary = result.fetch
    assert summary.ok and summary.quarantined and summary.rows_revised == 1
    assert summary.quarantine_reason == (
        "electricity-generation.csv: the CSV ends inside its last row 'China,CHN,2025,10' "
        "(no final line break: cut short); 2025: 10,583.36 revised to 10 (99.9 %), more than "
        "the 50 % a period that had ended may move"
    )
    assert claim_status(engine) == before  # no new evaluation, same state, metric, projection
    assert values(engine, CHN)["2025"] == 10583.36
    assert held(engine, CHN) == {"2025": 10.0}
    with Session(engine) as session:
        run = session.get(FetchRun, summary.fetch_run_id)
        assert run is not None and run.status == "ok" and run.quarantined
        assert run.meta["quarantine"]["findings_total"] == 2
        assert read_raw_body(session, run.body_sha256 or "") == DAMAGED  # kept as evidence
    assert decisions(engine) == [(summary.fetch_run_id, "quarantined", "tracker", T1, None)]
    assert replayed(engine, T1.date()) == replayed(engine, T0.date())
    [health] = [h for h in indicator_health_now(engine, settings) if h.indicator.key == CHN]
    assert health.state == "quarantined"
    assert f"fetch run {summary.fetch_run_id}" in health.reason


def indicator_health_now(engine: Engine, settings: Settings):
    with Session(engine) as session:
        return indicator_health(session, settings, T3)


def test_without_gates_the_same_body_flips_the_flagship(engine, settings, shipped):
    """The control: with the gates declared away, the damaged body becomes a revision and the
    ratio collapses to 0.002, as the issue reports; the gates are what keep it out."""
    with Session(engine) as session:
        row = session.exec(select(Indicator).where(Indicator.key == CHN)).one()
        row.spec = {**row.spec, "plausibility": {"max_revision": None, "complete_body": False}}
        session.add(row)
        session.commit()
    before = claim_status(engine)
    shipped.csv_for["CHN"] = DAMAGED
    result = fetch(engine, settings, shipped, T1)
    assert result.fetch.ok and not result.fetch.quarantined
    after = claim_status(engine)
    assert round(after["metric"], 3) == 0.002 and after != before


def test_a_later_fetch_with_the_same_values_confirms_them(engine, settings, shipped):
    shipped.csv_for["CHN"] = DAMAGED
    first = fetch(engine, settings, shipped, T1).fetch
    # upstream now serves a whole body that really says 10 for 2025
    shipped.csv_for["CHN"] = filtered_csv("CHN", replace_value(OWID_CSV, "CHN", 2025, "10"))
    second = fetch(engine, settings, shipped, T2).fetch

    assert second.ok and not second.quarantined
    assert second.settled == f"confirmed the quarantined vintage of fetch run {first.fetch_run_id}"
    assert decisions(engine)[-1] == (
        first.fetch_run_id,
        "confirmed",
        "tracker",
        T2,
        second.fetch_run_id,
    )
    assert values(engine, CHN)["2025"] == 10.0
    assert held(engine, CHN) == {}
    # a replay between the quarantine and the confirmation still reads the value then in use
    assert values(engine, CHN, T1 + dt.timedelta(hours=12))["2025"] == 10583.36
    assert held(engine, CHN, T1 + dt.timedelta(hours=12)) == {"2025": 10.0}
    assert replayed(engine, T1.date())[1] == pytest.approx(2.3416, abs=1e-4)
    assert claim_status(engine)["metric"] == pytest.approx(10 / 4519.79)


def test_the_same_cut_body_again_confirms_nothing(engine, settings, shipped):
    shipped.csv_for["CHN"] = DAMAGED
    first = fetch(engine, settings, shipped, T1).fetch
    again = fetch(engine, settings, shipped, T2).fetch
    assert again.quarantined
    assert again.settled == f"superseded the quarantined vintage of fetch run {first.fetch_run_id}"
    assert [d[:2] for d in decisions(engine)] == [
        (first.fetch_run_id, "quarantined"),
        (first.fetch_run_id, "superseded"),
        (again.fetch_run_id, "quarantined"),
    ]
    assert values(engine, CHN)["2025"] == 10583.36 and held(engine, CHN) == {"2025": 10.0}


def test_a_whole_body_supersedes_the_quarantined_vintage(engine, settings, shipped):
    before = claim_status(engine)
    shipped.csv_for["CHN"] = DAMAGED
    first = fetch(engine, settings, shipped, T1).fetch
    del shipped.csv_for["CHN"]
    second = fetch(engine, settings, shipped, T2).fetch
    assert second.ok and not second.quarantined and second.rows_unchanged == 26
    assert second.settled == f"superseded the quarantined vintage of fetch run {first.fetch_run_id}"
    assert held(engine, CHN) == {} and values(engine, CHN)["2025"] == 10583.36
    assert claim_status(engine) == before
    [health] = [h for h in indicator_health_now(engine, settings) if h.indicator.key == CHN]
    assert health.state != "quarantined"


def test_a_cut_body_that_changes_nothing_is_not_held_back(engine, settings, shipped):
    """Cut after its last value's digits, the body still says what the vintage in use says:
    nothing to hold back; the run is ok and keeps what the gate found."""
    shipped.csv_for["CHN"] = filtered_csv("CHN").rstrip(b"\n")
    result = fetch(engine, settings, shipped, T1).fetch
    assert result.ok and not result.quarantined and result.rows_unchanged == 26
    with Session(engine) as session:
        run = session.get(FetchRun, result.fetch_run_id)
        assert run is not None and not run.quarantined
        gates = run.meta["gates"]
        assert (gates["passed"], gates["held_back"]) == (False, False)
        assert [f["gate"] for f in gates["findings"]] == ["body"]


# --- `tracker fetch` over a real socket ---


class _Server(http.server.BaseHTTPRequestHandler):
    body = OWID_CSV

    def do_GET(self) -> None:
        body = OWID_META if ".metadata.json" in self.path else type(self).body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def owid_server() -> Iterator[type[_Server]]:
    handler = type("Handler", (_Server,), {"body": filtered_csv("CHN")})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/grapher"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def test_tracker_fetch_prints_the_quarantine(
    engine, settings, tmp_path, owid_server, monkeypatch, clock
):
    clock.set(T0)  # the CLI's now: fetches are known from it
    sync_shipped(engine, copy_claims(tmp_path / "claims"), T0 - DAY)
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRACKER_OWID_BASE_URL", owid_server.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("TRACKER_HTTP_MAX_RETRIES", "0")
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    first = runner.invoke(app, ["fetch", "--indicator", CHN])
    assert first.exit_code == 0, first.output

    owid_server.body = DAMAGED
    clock.advance(DAY)
    damaged = runner.invoke(app, ["fetch", "--indicator", CHN])
    assert damaged.exit_code == 0, damaged.output  # held back, not failed
    line = next(line for line in damaged.stdout.splitlines() if CHN in line)
    assert "quarantined" in line and "not used:" in line
    assert "'China,CHN,2025,10'" in damaged.stdout and "revised to 10" in damaged.stdout

    listing = runner.invoke(app, ["indicators", CHN])
    assert listing.exit_code == 0 and "quarantined" in listing.output


def test_the_dry_run_names_the_gates_and_the_held_back_vintage(
    engine, settings, shipped, tmp_path, clock
):
    shipped.csv_for["CHN"] = DAMAGED
    run = fetch(engine, settings, shipped, T1).fetch.fetch_run_id
    clock.set(T2)
    claim_file = copy_claims(tmp_path / "draft") / f"{CLAIM}.yaml"
    result = CliRunner().invoke(
        app,
        ["claims", "dry-run", str(claim_file)],
        env={"TRACKER_DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"reads {CHN}:"))
    assert "latest 10,583 TWh (2025)" in lines[at]  # the value in use, not the held-back 10
    assert lines[at + 1].strip() == (
        "gates: revisions of ended periods up to 50 %, values in [0, 100000], "
        "at most 10 % fewer rows, whole bodies"
    )
    assert (
        lines[at + 2]
        .strip()
        .startswith(
            f"a fetched vintage is quarantined (not used): fetch run {run}: "
            "electricity-generation.csv: the CSV ends inside its last row"
        )
    )
