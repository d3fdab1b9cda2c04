"""Claim sync: the shipped claims land under their slugs, a second sync changes nothing, edits
make readable revisions, criteria history is kept, removed files withdraw claims."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tracker.claims import (
    ClaimValidationError,
    apply_claim,
    check_claims_path,
    load_catalogue_from_db,
    load_claim_document,
    parse_yaml,
    sync_claims_dir,
    sync_claims_step,
)
from tracker.cli import app
from tracker.config import Settings
from tracker.db import session_scope
from tracker.models import (
    Claim,
    Claimant,
    ClaimRevision,
    Criterion,
    Evaluation,
    Indicator,
    SourceDocument,
)
from tracker.startup import StartupError

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "claims"
VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"

runner = CliRunner()


def _sync_cli(db_url: str, path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["claims", "sync", str(path)], env={"TRACKER_DATABASE_URL": db_url})
    return result.exit_code, result.output


def _copy(src: Path, tmp_path: Path) -> Path:
    target = tmp_path / "claims"
    shutil.copytree(src, target)
    return target


def _revisions(session: Session, slug: str) -> list[ClaimRevision]:
    claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
    return list(
        session.exec(
            select(ClaimRevision)
            .where(ClaimRevision.claim_id == claim.id)
            .order_by(col(ClaimRevision.version))
        ).all()
    )


def test_sync_shipped_claims_then_second_sync_changes_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    code, output = _sync_cli(db_url, SHIPPED)
    assert code == 0, output
    assert "14 created" in output
    with Session(engine) as session:
        slugs = set(session.exec(select(Claim.slug)).all())
        assert len(slugs) == 14
        assert {"china-power-3x-us-2030", "agi-2026", "pensions-become-unnecessary"} <= slugs
        power = session.exec(select(Claim).where(Claim.slug == "china-power-3x-us-2030")).one()
        musk = session.exec(select(Claimant).where(Claimant.slug == "elon-musk")).one()
        essay = session.exec(
            select(SourceDocument).where(SourceDocument.slug == "essay-musk-interview-2026")
        ).one()
        assert power.claimant_id == musk.id and power.source_document_id == essay.id
        assert power.quote_original and "3倍" in power.quote_original
        assert (power.stated_on.isoformat(), power.stated_precision) == ("2026-01-06", "day")
        assert power.operationalised_by == "tracker" and power.version == 1
        (revision,) = _revisions(session, "china-power-3x-us-2030")
        assert revision.change == "created" and revision.content == power.spec
        canonical = json.dumps(
            power.spec, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        assert revision.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
        criteria = session.exec(select(Criterion).where(Criterion.claim_id == power.id)).all()
        assert {(c.key, c.kind, c.criteria_version) for c in criteria} == {
            ("generation-ratio-2030", "threshold", 1),
            ("generation-china", "signal", 1),
            ("generation-us", "signal", 1),
        }
        indicator = session.exec(
            select(Indicator).where(Indicator.key == "owid.electricity_generation.chn")
        ).one()
        assert indicator.source == "owid" and indicator.unit == "TWh"
        assert indicator.params["entity_code"] == "CHN" and indicator.publication_lag_days == 180
        counts = (
            len(session.exec(select(ClaimRevision)).all()),
            len(session.exec(select(Criterion)).all()),
            len(session.exec(select(Indicator)).all()),
        )

    code, output = _sync_cli(db_url, SHIPPED)
    assert code == 0, output
    assert "no changes (14 unchanged)" in output
    with Session(engine) as session:
        assert counts == (
            len(session.exec(select(ClaimRevision)).all()),
            len(session.exec(select(Criterion)).all()),
            len(session.exec(select(Indicator)).all()),
        )


def test_threshold_edit_with_note_makes_exactly_one_revision_holding_both_versions(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(SHIPPED, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    path = directory / "china-power-3x-us-2030.yaml"
    text = path.read_text("utf-8")
    assert "    threshold: 3.0\n" in text
    text = text.replace("    threshold: 3.0\n", "    threshold: 2.5\n")
    path.write_text(text + "revision_note: test - lower the bar to 2.5x\n", "utf-8")

    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "updated: china-power-3x-us-2030" in output and "1 updated" in output

    with Session(engine) as session:
        first, second = _revisions(session, "china-power-3x-us-2030")
        assert (first.version, second.version) == (1, 2)
        assert second.change == "updated" and second.criteria_changed
        assert second.note == "test - lower the bar to 2.5x"
        assert first.content["criteria"][0]["threshold"] == 3.0
        assert second.content["criteria"][0]["threshold"] == 2.5
        assert second.diff is not None
        assert "-  threshold: 3.0" in second.diff and "+  threshold: 2.5" in second.diff
        assert "china-power-3x-us-2030 v1" in second.diff
        assert second.content_hash != first.content_hash

        claim = session.exec(select(Claim).where(Claim.slug == "china-power-3x-us-2030")).one()
        assert (claim.version, claim.criteria_version) == (2, 2)
        assert claim.content_hash == second.content_hash
        rows = session.exec(
            select(Criterion)
            .where(Criterion.claim_id == claim.id, Criterion.key == "generation-ratio-2030")
            .order_by(col(Criterion.criteria_version))
        ).all()
        assert [(r.criteria_version, r.spec["threshold"]) for r in rows] == [(1, 3.0), (2, 2.5)]
        assert rows[0].valid_until is not None and rows[1].valid_until is None
        # every criterion of version 1 was closed, every one of version 2 is open
        all_rows = session.exec(select(Criterion).where(Criterion.claim_id == claim.id)).all()
        assert {r.criteria_version for r in all_rows if r.valid_until is None} == {2}
        other = _revisions(session, "agi-2026")
        assert len(other) == 1

    code, output = _sync_cli(db_url, directory)
    assert code == 0 and "no changes" in output


def test_non_criteria_edit_needs_no_note_and_keeps_criteria_version(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    path = directory / "power-ratio.yaml"
    path.write_text(
        path.read_text("utf-8").replace("title: China generates", "title: China makes"), "utf-8"
    )
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio")).one()
        assert (claim.version, claim.criteria_version, claim.title[:11]) == (2, 1, "China makes")
        _, revision = _revisions(session, "power-ratio")
        assert not revision.criteria_changed and revision.note is None
        assert "-title: China generates" in (revision.diff or "")
        assert len(session.exec(select(Criterion)).all()) == 2


def test_draft_claim_criteria_may_change_without_a_note(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    path = directory / "power-ratio.yaml"
    path.write_text(path.read_text("utf-8") + "lifecycle: draft\n", "utf-8")
    assert _sync_cli(db_url, directory)[0] == 0
    path.write_text(path.read_text("utf-8").replace("threshold: 3.0", "threshold: 2.0"), "utf-8")
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio")).one()
        assert (claim.version, claim.criteria_version, claim.lifecycle) == (2, 2, "draft")


def test_removed_file_withdraws_claim_keeps_history_and_readding_reactivates(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    kept = (directory / "judged-claim.yaml").read_bytes()
    (directory / "judged-claim.yaml").unlink()

    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "withdrawn: judged-claim" in output
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert (claim.lifecycle, claim.version) == ("withdrawn", 2)
        created, withdrawn = _revisions(session, "judged-claim")
        assert created.change == "created" and withdrawn.change == "withdrawn"
        assert "judged-claim.yaml" in (withdrawn.note or "")
        assert "+lifecycle: withdrawn" in (withdrawn.diff or "")
        assert session.exec(select(Criterion).where(Criterion.claim_id == claim.id)).all()

    code, output = _sync_cli(db_url, directory)
    assert code == 0 and "no changes" in output

    (directory / "judged-claim.yaml").write_bytes(kept)
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "reactivated: judged-claim" in output
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert (claim.lifecycle, claim.version) == ("active", 3)
        assert [r.change for r in _revisions(session, "judged-claim")] == [
            "created",
            "withdrawn",
            "reactivated",
        ]


def test_api_claims_are_not_withdrawn_by_a_sync(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    doc = parse_yaml((VALID / "judged-claim.yaml").read_text("utf-8"), source_label="x").data
    doc = {**json.loads(json.dumps(doc)), "slug": "posted-claim"}
    with session_scope(engine) as session:
        claim = load_claim_document(
            doc, source_label="POST /claims", catalogue=load_catalogue_from_db(session)
        )
        result = apply_claim(session, claim, origin="api", author="token:test", note=None)
        assert result.outcome == "created" and result.claim.origin == "api"

    code, output = _sync_cli(db_url, directory)
    assert code == 0 and "no changes" in output
    with Session(engine) as session:
        posted = session.exec(select(Claim).where(Claim.slug == "posted-claim")).one()
        assert posted.lifecycle == "active"
        (revision,) = _revisions(session, "posted-claim")
        assert (revision.origin, revision.author) == ("api", "token:test")


def test_api_claim_with_unknown_claimant_is_rejected_naming_the_field(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    assert _sync_cli(db_url, _copy(VALID, tmp_path))[0] == 0
    doc = parse_yaml((VALID / "judged-claim.yaml").read_text("utf-8"), source_label="x").data
    doc = {**json.loads(json.dumps(doc)), "slug": "posted", "claimant": "nobody"}
    with Session(engine) as session:
        claim = load_claim_document(
            doc, source_label="POST /claims", catalogue=load_catalogue_from_db(session)
        )
        with pytest.raises(ClaimValidationError) as info:
            apply_claim(session, claim, origin="api", author=None, note=None)
        session.rollback()
    (error,) = info.value.errors
    assert (error.file, error.field) == ("POST /claims", "claimant")


def test_export_writes_files_that_check_and_sync_identically(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    assert _sync_cli(db_url, SHIPPED)[0] == 0
    out = tmp_path / "exported"
    result = runner.invoke(
        app, ["claims", "export", str(out), "--all"], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    assert "exported 14 claim(s)" in result.output
    checked = check_claims_path(out)
    assert checked.errors == []
    with Session(engine) as session:
        stored = {c.slug: c.content_hash for c in session.exec(select(Claim)).all()}
    from tracker.claims import content_hash, normalised_document

    assert {c.slug: content_hash(normalised_document(c)) for c in checked.claims} == stored

    api_only = tmp_path / "api-only"
    result = runner.invoke(
        app, ["claims", "export", str(api_only)], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0 and "exported 0 claim(s)" in result.output


def test_sync_claims_step_of_serve(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    assert sync_claims_step(settings, engine) is None  # the test settings turn it off
    directory = _copy(VALID, tmp_path / "other")
    on = settings.model_copy(update={"sync_claims_on_start": True, "claims_dir": directory})
    off = settings.model_copy(update={"sync_claims_on_start": False, "claims_dir": directory})
    assert sync_claims_step(off, engine) is None
    with Session(engine) as session:
        assert session.exec(select(Claim)).all() == []
    line = sync_claims_step(on, engine)
    assert line is not None and "2 created" in line
    assert "no changes" in (sync_claims_step(on, engine) or "")

    (directory / "judged-claim.yaml").write_text("slug: [\n", "utf-8")
    with pytest.raises(StartupError, match=r"judged-claim\.yaml"):
        sync_claims_step(on, engine)


def test_sync_library_function_is_all_or_nothing_within_one_transaction(
    engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    with session_scope(engine) as session:
        report = sync_claims_dir(session, directory)
    assert sorted(report.created) == ["judged-claim", "power-ratio"]
    path = directory / "power-ratio.yaml"
    path.write_text(path.read_text("utf-8").replace("threshold: 3.0", "threshold: 2.0"), "utf-8")
    (directory / "judged-claim.yaml").write_text(
        (directory / "judged-claim.yaml").read_text("utf-8").replace("Something vague", "Else"),
        "utf-8",
    )
    with pytest.raises(ClaimValidationError), session_scope(engine) as session:
        sync_claims_dir(session, directory)
    with Session(engine) as session:
        titles = {c.slug: (c.title, c.version) for c in session.exec(select(Claim)).all()}
    assert titles["judged-claim"] == ("Something vague happens in 2026", 1)


def test_file_claim_withdrawn_through_the_api_is_not_revived_by_an_unchanged_file(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    from tracker.claims import withdraw_claim

    directory = _copy(VALID, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    with session_scope(engine) as session:
        row = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert withdraw_claim(session, row, note="duplicate of another claim", author="token:a")
    code, output = _sync_cli(db_url, directory)
    assert code == 0 and "no changes" in output
    with Session(engine) as session:
        row = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert row.lifecycle == "withdrawn"
        last = _revisions(session, "judged-claim")[-1]
        assert (last.change, last.origin, last.author) == ("withdrawn", "api", "token:a")

    # editing the file is a deliberate act: it brings the claim back, recorded as such
    path = directory / "judged-claim.yaml"
    path.write_text(path.read_text("utf-8").replace("Something vague", "Something"), "utf-8")
    code, output = _sync_cli(db_url, directory)
    assert code == 0 and "reactivated: judged-claim" in output


def test_catalogue_from_db_reads_synced_and_foreign_rows(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    assert _sync_cli(db_url, _copy(VALID, tmp_path))[0] == 0
    with session_scope(engine) as session:
        session.add(Indicator(key="x.odd", source="nowhere", unit="kg", refresh="hourly"))
    with Session(engine) as session:
        catalogue = load_catalogue_from_db(session)
    assert catalogue.units()["owid.electricity_generation.chn"] == "TWh"
    assert catalogue.get("owid.solar_share.usa") is not None
    odd = catalogue.get("x.odd")
    assert odd is not None and odd.unit == "kg" and not odd.has_known_source


def test_an_empty_directory_does_not_withdraw_everything_by_accident(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    assert _sync_cli(db_url, _copy(VALID, tmp_path))[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = _sync_cli(db_url, empty)
    assert code != 0 and "would withdraw all 2 claims" in output
    result = runner.invoke(
        app, ["claims", "sync", str(empty), "--allow-empty"], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0 and "2 withdrawn" in result.output
    with Session(engine) as session:
        assert {c.lifecycle for c in session.exec(select(Claim)).all()} == {"withdrawn"}


# --- a synced claim is evaluated at once ---


def _evaluations(session: Session, slug: str) -> list[Evaluation]:
    claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
    return list(
        session.exec(
            select(Evaluation).where(Evaluation.claim_id == claim.id).order_by(col(Evaluation.id))
        ).all()
    )


def test_sync_cli_evaluates_what_it_created_changed_withdrew_and_reactivated(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    with Session(engine) as session:
        claims = {c.slug: c for c in session.exec(select(Claim)).all()}
        assert set(claims) == {"power-ratio", "judged-claim"}
        for slug, claim in claims.items():
            # was None ("not evaluated" on the dashboard) until the daily sweep
            assert claim.status_state is not None, slug
            [evaluation] = _evaluations(session, slug)
            assert claim.status_evaluation_id == evaluation.id
            assert evaluation.state == claim.status_state
            assert f"evaluated: {slug}: {claim.status_state} (" in output
    assert "evaluated 2 claim(s) that changed" in output

    code, output = _sync_cli(db_url, directory)  # nothing changed: nothing evaluated
    assert code == 0 and "evaluated" not in output

    (directory / "judged-claim.yaml").unlink()
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "evaluated: judged-claim: withdrawn (" in output
    assert "power-ratio" not in output.replace("power-ratio.yaml", "")
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert claim.status_state == "withdrawn"
        assert [e.state for e in _evaluations(session, "judged-claim")][-1] == "withdrawn"
        assert len(_evaluations(session, "power-ratio")) == 1

    shutil.copy(VALID / "judged-claim.yaml", directory / "judged-claim.yaml")
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "reactivated: judged-claim" in output and "evaluated: judged-claim:" in output
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "judged-claim")).one()
        assert claim.status_state not in (None, "withdrawn")


def test_a_refused_sync_evaluates_nothing(db_url: str, engine: Engine, tmp_path: Path) -> None:
    directory = _copy(VALID, tmp_path)
    text = (directory / "power-ratio.yaml").read_text("utf-8")
    (directory / "power-ratio.yaml").write_text(text.replace("kind: hard", "kind: [hard"))
    code, output = _sync_cli(db_url, directory)
    assert code == 1 and "nothing was changed" in output
    with Session(engine) as session:
        assert session.exec(select(Evaluation)).all() == []


# --- a synced indicator change re-evaluates the claims reading it ---

CHN = "owid.electricity_generation.chn"


def _edit_indicator(directory: Path, key: str, old: str, new: str) -> None:
    """Replace `old` by `new` within the catalogue entry of `key` only."""
    path = directory / "indicators.yaml"
    text = path.read_text("utf-8")
    start = text.index(f"key: {key}\n")
    end = text.find("- key:", start)
    end = len(text) if end == -1 else end
    entry = text[start:end]
    assert entry.count(old) == 1, (key, old)
    path.write_text(text[:start] + entry.replace(old, new) + text[end:], "utf-8")


def _history(engine: Engine) -> dict[str, list[Evaluation]]:
    with Session(engine) as session:
        return {slug: _evaluations(session, slug) for slug in session.exec(select(Claim.slug))}


def test_sync_of_an_indicator_lag_change_re_evaluates_the_claims_reading_it(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(SHIPPED, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    before = _history(engine)
    readers = {"china-power-3x-us-2026", "china-power-3x-us-2030"}
    assert all(len(rows) == 1 for rows in before.values())

    _edit_indicator(directory, CHN, "publication_lag_days: 180", "publication_lag_days: 200")
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert f"indicator {CHN} updated" in output
    assert "0 updated" in output and "14 unchanged" in output  # no claim file changed
    for slug in readers:
        assert f"re-evaluated: {slug}: " in output
    assert "re-evaluated 2 claim(s) reading changed indicators" in output
    assert "evaluated: " not in output.replace("re-evaluated: ", "")  # no claim changed

    after = _history(engine)
    with Session(engine) as session:
        indicator = session.exec(select(Indicator).where(Indicator.key == CHN)).one()
        assert indicator.publication_lag_days == 200
        for slug in readers:
            old, new = after[slug]
            assert old.id == before[slug][0].id
            claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
            assert claim.status_evaluation_id == new.id
            # the ratio's data comes when both series are out: the later, China's, now 20 days on
            assert old.data_expected_on is not None and new.data_expected_on is not None
            assert new.data_expected_on - old.data_expected_on == dt.timedelta(days=20), slug
            assert new.details["inputs_key"] != old.details["inputs_key"]
    for slug in set(after) - readers:
        assert [e.id for e in after[slug]] == [e.id for e in before[slug]], slug
        assert f"evaluated: {slug}:" not in output, slug  # re-evaluated: too


def test_an_indicator_change_that_alters_no_status_appends_no_evaluation(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    directory = _copy(VALID, tmp_path)
    assert _sync_cli(db_url, directory)[0] == 0
    before = _history(engine)
    assert {slug: len(rows) for slug, rows in before.items()} == {
        "power-ratio": 1,
        "judged-claim": 1,
    }

    # a new title is no input of an evaluation: nothing is even re-evaluated
    _edit_indicator(directory, CHN, "Electricity generation, China", "Power generation, China")
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert f"indicator {CHN} updated" in output and "evaluated" not in output
    assert _history(engine) == before

    # a revision window is an input, but without data it changes no status: power-ratio is
    # re-evaluated, and its fingerprint, equal to the latest's, appends nothing to the history
    _edit_indicator(directory, CHN, "revision_window_days: 365", "revision_window_days: 400")
    code, output = _sync_cli(db_url, directory)
    assert code == 0, output
    assert "re-evaluated: power-ratio: " in output and "judged-claim" not in output
    assert _history(engine) == before
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio")).one()
        assert claim.status_evaluation_id == before["power-ratio"][0].id


def test_serve_start_up_re_evaluates_the_claims_reading_a_changed_indicator(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """`tracker serve` syncs in one step and evaluates in a later one (a sweep): the sweep
    sees the readers' inputs changed."""
    from tracker.status import evaluate_step

    directory = _copy(VALID, tmp_path / "serve")
    on = settings.model_copy(update={"sync_claims_on_start": True, "claims_dir": directory})
    assert sync_claims_step(on, engine) is not None
    evaluate_step(on, engine)
    before = _history(engine)

    _edit_indicator(directory, CHN, "publication_lag_days: 180", "publication_lag_days: 200")
    assert "1 claimant/source/indicator changes" in (sync_claims_step(on, engine) or "")
    assert evaluate_step(on, engine) == "evaluated 1 claim(s) whose inputs changed"
    after = _history(engine)
    old, new = after["power-ratio"]
    assert old.data_expected_on is not None and new.data_expected_on is not None
    assert new.data_expected_on - old.data_expected_on == dt.timedelta(days=20)
    assert after["judged-claim"] == before["judged-claim"]
