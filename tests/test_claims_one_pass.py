"""One submission reports every independent problem of a claim file at once (schema, meaning,
references), each with its file, line and field, once, without knock-on errors or crashes."""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel
from typer.testing import CliRunner

from tracker.claims import (
    ClaimIssue,
    ClaimReferences,
    ClaimValidationError,
    check_claim_document,
    check_claims_path,
    load_claim_document,
    parse_yaml,
)
from tracker.cli import app
from tracker.indicators import IndicatorCatalogue

VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"
runner = CliRunner()

# power-ratio.yaml with six independent problems from every stage
BROKEN_EDITS = (
    ("claimant: some-person\n", "claimant: nobody\n"),  # reference
    ("  precision: day\n", "  precision: week\n"),  # schema
    ("deadline: 2031-12-31\n", "deadline: 2025-12-31\n"),  # meaning: before the stated date
    ("kind: hard\n", "kind: hard\ncolour: red\nvariant_of: no-such-claim\n"),  # schema, reference
    ("{indicator: owid.electricity_generation.usa}", "{indicator: owid.nope}"),  # reference
)


def _line(text: str, needle: str) -> int:
    (index,) = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return index


def _broken_dir(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    path = directory / "power-ratio.yaml"
    text = path.read_text("utf-8")
    for old, new in BROKEN_EDITS:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, "utf-8")
    return directory, text


def _where(issues: list[ClaimIssue]) -> set[tuple[str, int | None, str]]:
    return {(Path(i.file).name, i.line, i.field) for i in issues}


def _assert_no_repeats(issues: list[ClaimIssue]) -> None:
    said = Counter((i.file, i.field, i.message) for i in issues)
    assert [k for k, n in said.items() if n > 1] == []


def test_yaml_file_with_problems_in_every_stage_reports_them_all(tmp_path: Path) -> None:
    directory, text = _broken_dir(tmp_path)
    errors = check_claims_path(directory).errors
    name = "power-ratio.yaml"
    assert _where(errors) == {
        (name, _line(text, "claimant: nobody"), "claimant"),
        (name, _line(text, "precision: week"), "stated.precision"),
        (name, _line(text, "deadline: 2025"), "deadline"),
        (name, _line(text, "colour: red"), "colour"),
        (name, _line(text, "variant_of:"), "variant_of"),
        (name, _line(text, "owid.nope"), "criteria[0].series.ratio[1].indicator"),
    }
    by_field = {e.field: e.message for e in errors}
    assert "unknown claimant 'nobody'" in by_field["claimant"]
    assert "expected 'day', 'month' or 'year'" in by_field["stated.precision"]
    assert "before the stated date 2026-01-06" in by_field["deadline"]
    assert "unknown field" in by_field["colour"]
    assert "unknown claim 'no-such-claim'" in by_field["variant_of"]
    assert "unknown indicator 'owid.nope'" in by_field["criteria[0].series.ratio[1].indicator"]
    _assert_no_repeats(errors)

    check = runner.invoke(app, ["claims", "check", str(directory)])
    assert check.exit_code == 1
    for _file, line, fld in _where(errors):
        assert f"{name}:{line}: error: {fld}:" in check.output, (line, fld, check.output)
    assert "6 error(s)" in check.output


def test_sync_refuses_naming_every_problem_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    directory, text = _broken_dir(tmp_path)
    before = _table_digest(db_url)
    result = runner.invoke(
        app, ["claims", "sync", str(directory)], env={"TRACKER_DATABASE_URL": db_url}
    )
    assert result.exit_code == 1
    assert "6 error(s): nothing was changed in the database" in result.output
    for needle, fld in (
        ("claimant: nobody", "claimant"),
        ("precision: week", "stated.precision"),
        ("deadline: 2025", "deadline"),
        ("colour: red", "colour"),
        ("variant_of:", "variant_of"),
        ("owid.nope", "criteria[0].series.ratio[1].indicator"),
    ):
        assert f"power-ratio.yaml:{_line(text, needle)}: error: {fld}:" in result.output
    assert _table_digest(db_url) == before


def _table_digest(db_url: str) -> str:
    from tracker.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = [
                conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
                for table in SQLModel.metadata.sorted_tables
            ]
    finally:
        engine.dispose()
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()


HALF_VALID_CRITERIA = """\
criteria:
  - key: ratio-2030
    type: threshold
    series:
      ratio:
        - {indicator: owid.electricity_generation.chn}
        - {indicator: owid.electricity_generation.usa}
    comparator: ">="
    threshold: 3.0
    unit: "%"
    mode: at_period
    period: "2030"
  - key: broken-comparator
    type: threshold
    series:
      ratio:
        - {indicator: owid.missing.a}
        - {indicator: owid.electricity_generation.usa}
    comparator: "about"
    threshold: 2.0
    unit: "1"
    mode: at_period
    period: "2030-13"
  - just a string
  - key: unknown-type
    type: prophecy
    series: {indicator: owid.missing.b}
  - key: ratio-2030
    type: judged
    rubric: A reviewer decides.
  - 42
  - key: bad-series
    type: threshold
    series: {sum: [{indicator: owid.missing.c}, 7]}
    comparator: ">="
    threshold: 1
    unit: TWh
    mode: at_period
    period: 2030
"""


def test_half_valid_criteria_do_not_crash_and_each_problem_is_said_once(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    path = directory / "power-ratio.yaml"
    head = path.read_text("utf-8").split("criteria:\n")[0]
    text = head + HALF_VALID_CRITERIA
    path.write_text(text, "utf-8")

    errors = check_claims_path(directory).errors
    _assert_no_repeats(errors)
    found = {(e.field, e.line): e.message for e in errors}
    # the meaning checks of a criterion that parsed still run beside the others' errors
    assert "unit mismatch" in found[("criteria[0].unit", _line(text, 'unit: "%"'))]
    # the schema's findings
    assert "expected '>='" in found[("criteria[1].comparator", _line(text, '"about"'))]
    assert ("criteria[2]", _line(text, "just a string")) in found
    assert "`type:` one of" in found[("criteria[3]", _line(text, "key: unknown-type"))]
    assert "expected a series expression" in found[("criteria[6].series.sum[1]", _line(text, "7]"))]
    assert ("criteria[5]", _line(text, "- 42")) in found
    # indicators named inside criteria the schema rejected are still checked
    for index, key in ((1, "owid.missing.a"), (3, "owid.missing.b"), (6, "owid.missing.c")):
        matching = [e for e in errors if f"unknown indicator {key!r}" in e.message]
        assert len(matching) == 1, (key, errors)
        assert matching[0].field.startswith(f"criteria[{index}].series")
        assert matching[0].line == _line(text, key)
    # a well-formed but impossible period in a rejected criterion; a duplicate key
    assert "not a real period" in found[("criteria[1].period", _line(text, '"2030-13"'))]
    duplicate = [e for e in errors if "duplicate criterion key 'ratio-2030'" in e.message]
    second = [n for n, line in enumerate(text.splitlines(), 1) if "key: ratio-2030" in line][1]
    assert [(e.field, e.line) for e in duplicate] == [("criteria[4].key", second)]
    # a knock-on of the broken list is not reported: the list as a whole is unknown
    assert not any(e.field == "criteria" for e in errors)


def test_references_and_meaning_still_checked_when_the_stated_mapping_is_broken() -> None:
    text = (VALID / "judged-claim.yaml").read_text("utf-8")
    text = text.replace("  precision: day\n", "  precision: month\n  colour: red\n")
    text = text.replace("deadline: 2026-12-31", "deadline: 2025-12-31")
    text = text.replace("source: some-interview", "source: no-such-source")
    parsed = parse_yaml(text, source_label="judged-claim.yaml")
    references = ClaimReferences(
        claimants={"some-person"}, sources={"some-interview"}, claims=set()
    )
    checked = check_claim_document(
        parsed.data,
        source_label="judged-claim.yaml",
        catalogue=IndicatorCatalogue(),
        lines=parsed.lines,
        references=references,
    )
    assert checked.claim is None
    assert {(e.field, e.line) for e in checked.errors} == {
        ("stated.colour", _line(text, "colour: red")),
        ("stated.date", _line(text, "date: 2026-01-06")),  # precision month, but the 6th
        ("deadline", _line(text, "deadline: 2025")),
        ("source", _line(text, "no-such-source")),
    }
    assert checked.parts["slug"] == "judged-claim"


def test_a_broken_field_does_not_cause_knock_on_errors() -> None:
    text = (VALID / "judged-claim.yaml").read_text("utf-8")
    text = text.replace("deadline: 2026-12-31", "deadline: soon")  # not "no deadline: review"
    text = text.replace("claimant: some-person", "claimant: Not A Slug")  # not "unknown claimant"
    text = text.replace("kind: judged", "kind: maybe")  # not "a judged claim needs a rubric"
    parsed = parse_yaml(text, source_label="j.yaml")
    with_refs = ClaimReferences(claimants={"some-person"}, sources={"some-interview"}, claims=set())
    try:
        load_claim_document(
            parsed.data,
            source_label="j.yaml",
            catalogue=IndicatorCatalogue(),
            lines=parsed.lines,
            references=with_refs,
        )
    except ClaimValidationError as exc:
        errors = exc.errors
    else:
        raise AssertionError("the document was accepted")
    assert sorted(e.field for e in errors) == ["claimant", "deadline", "kind"]
    assert all(e.line == _line(text, e.field + ":") for e in errors)


def test_broken_claimants_listing_is_reported_once_not_as_every_claimant(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    listing = directory / "claimants.yaml"
    listing.write_text(listing.read_text("utf-8").replace("    name: Some Person\n", ""), "utf-8")
    errors = check_claims_path(directory).errors
    assert [(Path(e.file).name, e.field) for e in errors] == [
        ("claimants.yaml", "claimants[0].name")
    ]


def test_sync_names_a_missing_revision_note_beside_another_files_errors(
    db_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    sync = ["claims", "sync", str(directory)]
    env = {"TRACKER_DATABASE_URL": db_url}
    assert runner.invoke(app, sync, env=env).exit_code == 0
    before = _table_digest(db_url)
    power = directory / "power-ratio.yaml"
    power.write_text(power.read_text("utf-8").replace("threshold: 3.0", "threshold: 2.0"), "utf-8")
    judged = directory / "judged-claim.yaml"
    judged.write_text(judged.read_text("utf-8").replace("claimant: some-person", "claimant: x"))

    result = runner.invoke(app, sync, env=env)
    assert result.exit_code == 1
    assert "judged-claim.yaml:3: error: claimant: unknown claimant 'x'" in result.output
    power_text = power.read_text("utf-8")
    where = f"power-ratio.yaml:{_line(power_text, 'criteria:')}: error: revision_note:"
    assert where in result.output and "expected a `revision_note:`" in result.output, result.output
    assert "2 error(s): nothing was changed in the database" in result.output
    assert _table_digest(db_url) == before


# --- any half-valid document: no crash, each message once, rejected only with an error ---

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 3000)
    | st.sampled_from(["", "x", "2030", "2030-13"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["indicator", "ratio", "type", "key", "period"]), inner)
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(doc)
    target = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copied


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutated_document_is_checked_without_crash_or_repeats(data: st.DataObject) -> None:
    catalogue = check_claims_path(VALID).catalogue
    doc: Any = parse_yaml((VALID / "power-ratio.yaml").read_text("utf-8"), source_label="x").data
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(doc)))
        doc = _replace(doc, path, data.draw(_JSON))
    references = ClaimReferences(
        claimants={"some-person", "some-reporter"}, sources={"some-interview"}, claims=set()
    )
    checked = check_claim_document(
        doc, source_label="POST", catalogue=catalogue, references=references
    )
    _assert_no_repeats(checked.issues)
    assert (checked.claim is None) == bool(checked.errors)
    assert all(i.field and i.message and i.line is None for i in checked.issues)
