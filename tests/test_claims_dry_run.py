"""A claim's dry run before it is saved: `tracker claims dry-run FILE` against the configured
database, and POST /api/v1/claims:dry-run (and /claims) taking a claim file's YAML. Both say
which indicators the claim reads, their latest value, whether the deciding data is due before the
deadline, the status now and the warnings, and neither writes a row."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker.auth import create_token
from tracker.claims import parse_yaml
from tracker.cli import app
from tracker.config import Settings
from tracker.models import (
    Claim,
    Claimant,
    ClaimRevision,
    Criterion,
    Evaluation,
    Indicator,
    Observation,
    Resolution,
    SourceDocument,
)
from tracker.web.app import create_app

VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"
CHINA = {2021: 8530, 2022: 8850, 2023: 9450, 2024: 10070, 2025: 10583}
USA = {2021: 4380, 2022: 4550, 2023: 4480, 2024: 4378, 2025: 4520}
KNOWN = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
TABLES = (
    Claim,
    ClaimRevision,
    Criterion,
    Evaluation,
    Resolution,
    Indicator,
    Claimant,
    SourceDocument,
    Observation,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _on_2026_11_28(clock):
    """Every dry run here happens on 2026-11-28 (conftest's clock), before the claims' 2030
    deadlines, so its status is "open"."""
    return clock


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__name__: int(session.exec(select(sa.func.count()).select_from(model)).one())
            for model in TABLES
        }


def _cli(db_url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"TRACKER_DATABASE_URL": db_url})
    return result.exit_code, result.output


def _add_observations(engine: Engine) -> None:
    with Session(engine) as session:
        for code, series in (("chn", CHINA), ("usa", USA)):
            key = f"owid.electricity_generation.{code}"
            indicator = session.exec(select(Indicator).where(Indicator.key == key)).one()
            for year, value in series.items():
                session.add(
                    Observation(
                        indicator_id=indicator.id or 0,
                        period=str(year),
                        period_start=dt.date(year, 1, 1),
                        value=value,
                        known_from=KNOWN,
                    )
                )
        session.commit()


@pytest.fixture
def claims_dir(db_url: str, engine: Engine, tmp_path: Path) -> Path:
    """The fixture claims synced into the database, with five years of generation data."""
    directory = tmp_path / "claim-files"  # (tmp_path / "claims" is the settings' directory)
    shutil.copytree(VALID, directory)
    code, output = _cli(db_url, "claims", "sync", str(directory))
    assert code == 0, output
    _add_observations(engine)
    return directory


def _new_claim_file(directory: Path, *, deadline: str = "2030-12-31") -> Path:
    """A new claim beside the others: 4x in 2030, with a deadline read from nothing (vague)."""
    text = (
        (VALID / "power-ratio.yaml")
        .read_text("utf-8")
        .replace("slug: power-ratio", "slug: power-ratio-4x")
        .replace("threshold: 3.0", "threshold: 4.0")
        .replace("deadline: 2031-12-31", f"deadline: {deadline}")
        .replace("deadline_interpretation: In 2030; annual data arrives in 2031.\n", "")
    )
    path = directory / "power-ratio-4x.yaml"
    path.write_text(text, "utf-8")
    return path


# --- tracker claims dry-run FILE ---


def test_cli_dry_run_says_what_saving_would_do_and_writes_nothing(
    db_url: str, engine: Engine, claims_dir: Path
) -> None:
    path = _new_claim_file(claims_dir)
    before = _counts(engine)
    code, output = _cli(db_url, "claims", "dry-run", str(path))
    assert code == 0, output
    assert f"{path.as_posix()}: power-ratio-4x (new: saving would create it; nothing saved)" in (
        output
    )
    # which indicators, today's value with its period, when the 2030 data is due vs the deadline
    assert (
        "reads owid.electricity_generation.chn: latest 10,583 TWh (2025); data for 2030 "
        "expected 2031-06-29, AFTER the deadline 2030-12-31" in output
    )
    assert "reads owid.electricity_generation.usa: latest 4,520 TWh (2025)" in output
    assert "status now: open (2.34 in 2025;" in output
    assert f"{path.as_posix()}:14: warning: deadline: vague deadline" in output
    assert f"{path.as_posix()}:28: warning: criteria[0].period: data for 2030 is expected" in (
        output
    )
    assert "nothing was written" in output
    assert _counts(engine) == before  # nothing stored, not even an evaluation


def test_cli_dry_run_before_the_deadline_and_of_an_existing_claim(
    db_url: str, engine: Engine, claims_dir: Path
) -> None:
    path = _new_claim_file(claims_dir, deadline="2031-12-31")
    before = _counts(engine)
    code, output = _cli(
        db_url, "claims", "dry-run", str(path), str(claims_dir / "power-ratio.yaml")
    )
    assert code == 0, output
    assert "data for 2030 expected 2031-06-29, before the deadline 2031-12-31" in output
    assert "AFTER" not in output
    assert "power-ratio: exists: saving would amend it" not in output  # an unchanged file
    assert f"{(claims_dir / 'power-ratio.yaml').as_posix()}: power-ratio (exists:" in output
    assert "dry run of 2 claim(s)" in output
    assert _counts(engine) == before


def test_cli_dry_run_json(db_url: str, engine: Engine, claims_dir: Path) -> None:
    path = _new_claim_file(claims_dir)
    result = runner.invoke(
        app, ["claims", "dry-run", "--json", str(path)], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert (item["slug"], item["exists"], item["saved"]) == ("power-ratio-4x", False, False)
    chn = {i["key"]: i for i in item["indicators"]}["owid.electricity_generation.chn"]
    assert (chn["latest_period"], chn["latest_value"]) == ("2025", 10583)
    assert chn["target_data_expected_on"] == "2031-06-29"
    assert chn["published_before_deadline"] is False
    assert item["status"]["state"] == "open"
    assert any("vague deadline" in w for w in item["warnings"])


def test_cli_dry_run_reports_what_the_save_would_refuse(
    db_url: str, engine: Engine, claims_dir: Path
) -> None:
    path = claims_dir / "power-ratio.yaml"
    path.write_text(path.read_text("utf-8").replace("threshold: 3.0", "threshold: 2.5"), "utf-8")
    before = _counts(engine)
    code, output = _cli(db_url, "claims", "dry-run", str(path))
    assert code == 1
    assert "revision_note" in output and "saving would be refused" in output
    assert _counts(engine) == before


def test_cli_dry_run_of_an_invalid_file_names_file_line_and_field(
    db_url: str, engine: Engine, claims_dir: Path
) -> None:
    path = _new_claim_file(claims_dir)
    path.write_text(path.read_text("utf-8").replace("deadline:", "deadlin:"), "utf-8")
    before = _counts(engine)
    code, output = _cli(db_url, "claims", "dry-run", str(path))
    assert code == 1
    assert (
        f"{path.as_posix()}:14: error: deadlin: unknown field: did you mean `deadline`?" in output
    )
    assert "reads " not in output
    assert _counts(engine) == before


def test_cli_dry_run_does_not_migrate_the_database(empty_db_url: str, tmp_path: Path) -> None:
    code, output = _cli(empty_db_url, "claims", "dry-run", str(VALID / "power-ratio.yaml"))
    assert code == 1
    assert "run `tracker migrate` first" in output
    engine = sa.create_engine(empty_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# --- a claim file outside the claims directory ---


def _outside(tmp_path: Path, claims_dir: Path) -> Path:
    """The new claim as a draft in a directory of its own, with no listings beside it."""
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    return Path(shutil.move(_new_claim_file(claims_dir), drafts / "power-ratio-4x.yaml"))


@pytest.mark.parametrize("known_to", ["the claims directory", "the database alone"])
def test_cli_dry_run_of_a_file_outside_the_claims_directory_resolves_names_as_a_sync_would(
    db_url: str, engine: Engine, claims_dir: Path, tmp_path: Path, known_to: str
) -> None:
    # its claimant, source and indicators are in the claims directory's listings and stored;
    # they were reported unknown (and the claim "with no resolving measured criterion")
    path = _outside(tmp_path, claims_dir)
    configured = claims_dir if known_to == "the claims directory" else tmp_path / "empty"
    configured.mkdir(exist_ok=True)
    before = _counts(engine)
    result = runner.invoke(
        app,
        ["claims", "dry-run", str(path)],
        env={"TRACKER_DATABASE_URL": db_url, "TRACKER_CLAIMS_DIR": str(configured)},
    )
    assert result.exit_code == 0, result.output
    assert f"{path.as_posix()}: power-ratio-4x (new: saving would create it" in result.output
    assert "reads owid.electricity_generation.chn: latest 10,583 TWh (2025)" in result.output
    assert "unknown" not in result.output
    assert "no resolving measured criterion" not in result.output
    assert _counts(engine) == before


def test_cli_dry_run_outside_the_claims_directory_uses_its_listings_before_a_sync(
    db_url: str, engine: Engine, claims_dir: Path, tmp_path: Path
) -> None:
    # a claimant added to claimants.yaml and not synced yet: saving after a sync would work
    listing = claims_dir / "claimants.yaml"
    listing.write_text(
        listing.read_text("utf-8") + "  - slug: new-person\n    name: New Person\n"
        "    kind: person\n",
        "utf-8",
    )
    path = _outside(tmp_path, claims_dir)
    path.write_text(
        path.read_text("utf-8").replace("claimant: some-person", "claimant: new-person"), "utf-8"
    )
    before = _counts(engine)
    result = runner.invoke(
        app,
        ["claims", "dry-run", str(path)],
        env={"TRACKER_DATABASE_URL": db_url, "TRACKER_CLAIMS_DIR": str(claims_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "status now: open" in result.output
    assert _counts(engine) == before  # not even the new claimant


def test_cli_dry_run_outside_the_claims_directory_says_where_it_looked(
    db_url: str, engine: Engine, claims_dir: Path, tmp_path: Path
) -> None:
    path = _outside(tmp_path, claims_dir)
    path.write_text(
        path.read_text("utf-8")
        .replace("claimant: some-person", "claimant: nobody")
        .replace("owid.electricity_generation.usa", "owid.nope"),
        "utf-8",
    )
    result = runner.invoke(
        app,
        ["claims", "dry-run", str(path)],
        env={"TRACKER_DATABASE_URL": db_url, "TRACKER_CLAIMS_DIR": str(claims_dir)},
    )
    assert result.exit_code == 1
    database = sa.make_url(db_url).render_as_string(hide_password=True)
    listings = claims_dir.as_posix()
    assert (
        f"{path.as_posix()}:3: error: claimant: unknown claimant 'nobody': expected a slug of "
        f"{listings}/claimants.yaml or a claimant stored in {database}" in result.output
    )
    assert (
        f"{path.as_posix()}:23: error: criteria[0].series.ratio[1].indicator: unknown indicator "
        f"'owid.nope': expected a key of {listings}/indicators.yaml or of the indicators stored "
        f"in {database}" in result.output
    )
    # the unknown indicator is the cause: no knock-on "cannot resolve from data" warning
    assert "no resolving measured criterion" not in result.output
    assert "reads " not in result.output


# --- the API takes a claim file's YAML ---


@pytest.fixture
def client(settings: Settings, engine: Engine, claims_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


@pytest.fixture
def writer(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        token = create_token(session, "writer", ["claims:write"], now=KNOWN).plaintext
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _yaml_body(claims_dir: Path) -> str:
    return _new_claim_file(claims_dir).read_text("utf-8")


@pytest.mark.parametrize("media", ["application/yaml", "application/x-yaml"])
def test_api_dry_run_takes_yaml_like_json(
    client: TestClient, writer: dict[str, str], engine: Engine, claims_dir: Path, media: str
) -> None:
    text = _yaml_body(claims_dir)
    before = _counts(engine)
    r = client.post(
        "/api/v1/claims:dry-run", content=text, headers={**writer, "Content-Type": media}
    )
    assert r.status_code == 200, r.text
    as_json = client.post(
        "/api/v1/claims:dry-run", json=parse_yaml(text, source_label="-").data, headers=writer
    ).json()
    body = r.json()
    assert body["indicators"] == as_json["indicators"]
    chn = {i["key"]: i for i in body["indicators"]}["owid.electricity_generation.chn"]
    assert (chn["latest_period"], chn["latest_value"]) == ("2025", 10583)
    assert chn["published_before_deadline"] is False
    assert body["status"]["state"] == "open" and body["saved"] is False
    assert any(w.startswith("deadline: vague deadline") for w in body["warnings"])
    assert _counts(engine) == before


def test_api_yaml_errors_name_line_and_field(
    client: TestClient, writer: dict[str, str], claims_dir: Path
) -> None:
    text = _yaml_body(claims_dir).replace('    period: "2030"\n', "")
    headers = {**writer, "Content-Type": "application/yaml"}
    r = client.post("/api/v1/claims:dry-run", content=text, headers=headers)
    assert r.status_code == 422
    problem = r.json()
    assert problem["type"] == "/api/v1/problems/validation-error"
    [error] = problem["errors"]
    assert (error["field"], error["line"]) == ("criteria[0].period", 18)  # the criterion's line
    assert error["message"].startswith("required with mode at_period: expected a period")

    broken = _yaml_body(claims_dir).replace("kind: hard", "kind: [hard")
    r = client.post("/api/v1/claims", content=broken, headers=headers)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "(yaml)" and error["line"] == 16  # where the parser stopped
    assert error["message"].startswith("invalid YAML")


def test_api_create_takes_yaml_and_evaluates_at_once(
    client: TestClient, writer: dict[str, str], engine: Engine, claims_dir: Path
) -> None:
    text = _yaml_body(claims_dir)
    r = client.post(
        "/api/v1/claims", content=text, headers={**writer, "Content-Type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["claim"]["status"]["state"] == "open"
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio-4x")).one()
        assert claim.origin == "api" and claim.status_state == "open"


@pytest.mark.parametrize("path", ["/api/v1/claims", "/api/v1/claims:dry-run"])
@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded"])
def test_api_wrong_content_type_is_415_naming_the_accepted_types(
    client: TestClient,
    writer: dict[str, str],
    engine: Engine,
    claims_dir: Path,
    path: str,
    media: str,
) -> None:
    before = _counts(engine)
    r = client.post(path, content=_yaml_body(claims_dir), headers={**writer, "Content-Type": media})
    assert r.status_code == 415, r.text  # was 422 "Input should be a valid dictionary"
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 415
    for accepted in ("application/json", "application/yaml", "application/x-yaml"):
        assert accepted in problem["detail"] and accepted in problem["accepted"]
    assert _counts(engine) == before


def test_openapi_documents_the_yaml_body_and_the_415(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/claims", "/api/v1/claims:dry-run"):
        operation = spec["paths"][path]["post"]
        content = operation["requestBody"]["content"]
        assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/ClaimFile"
        assert set(content) == {"application/json", "application/yaml", "application/x-yaml"}
        assert "415" in operation["responses"]
        assert "YAML" in operation["description"]
    content = spec["paths"]["/api/v1/claims:dry-run"]["post"]["requestBody"]["content"]
    # the YAML example is the JSON example, written as a claim file
    as_json = content["application/json"]["schema"]["examples"][0]
    assert yaml.safe_load(content["application/yaml"]["example"]) == as_json
