"""Claim files: the shipped claims check clean, and broken input is rejected naming file/line/field
while the database stays exactly as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from typer.testing import CliRunner

from tracker.claims import (
    ClaimValidationError,
    check_claims_path,
    load_claim_document,
    parse_yaml,
)
from tracker.cli import app
from tracker.indicators import IndicatorCatalogue, IndicatorEntry

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "claims"
VALID = Path(__file__).resolve().parent / "fixtures" / "claims" / "valid"

CATALOGUE_SLUGS = {
    "agi-2026",
    "china-ai-compute-exceeds-world",
    "china-power-3x-us-2030",
    "ai-compute-demand-10x-per-year",
    "transformer-capacity-growth-10pct",
    "colossus2-grid-wait-one-year",
    "power-owners-run-ai-2026",
    "capital-rotation-to-power-infra-2026",
    "us-transmission-approval-10-years",
    "medical-boom-2026-2035",
    "population-collapse",
    "white-collar-class-disappears",
    "pensions-become-unnecessary",
}

runner = CliRunner()


# --- the shipped claims ---


def test_shipped_claims_check_passes() -> None:
    result = runner.invoke(app, ["claims", "check", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "14 claims" in result.output
    checked = check_claims_path(SHIPPED)
    assert checked.errors == []
    assert CATALOGUE_SLUGS <= {c.slug for c in checked.claims}


def test_shipped_claims_follow_the_catalogue() -> None:
    claims = {c.slug: c for c in check_claims_path(SHIPPED).claims}
    power = claims["china-power-3x-us-2030"]
    (criterion,) = [c for c in power.criteria if c.role == "resolves"]
    spec = criterion.model_dump(mode="json", exclude_none=True)
    assert spec["series"] == {
        "ratio": [
            {"indicator": "owid.electricity_generation.chn"},
            {"indicator": "owid.electricity_generation.usa"},
        ]
    }
    assert (spec["threshold"], spec["mode"], spec["period"]) == (3.0, "at_period", "2030")
    assert str(power.deadline) == "2030-12-31" and power.deadline_alternative
    variant = claims["china-power-3x-us-2026"]
    assert variant.variant_of == power.slug and variant.reporter == "netease-tech"
    # Musk's words vs the essay author's inferences
    assert claims["agi-2026"].claimant == "elon-musk"
    for slug in (
        "power-owners-run-ai-2026",
        "medical-boom-2026-2035",
        "pensions-become-unnecessary",
    ):
        assert claims[slug].claimant == "essay-author"
    assert str(claims["agi-2026"].stated.date) == "2026-01-06"
    assert "Moonshots" in (claims["agi-2026"].stated.note or "")
    medical = claims["medical-boom-2026-2035"].criteria[0].model_dump(mode="json")
    assert medical["type"] == "aggregate" and medical["threshold"]["factor"] == 1.5
    assert medical["threshold"]["baseline"]["start"] == "2014"
    for slug in ("transformer-capacity-growth-10pct", "pensions-become-unnecessary", "agi-2026"):
        assert claims[slug].kind == "judged"
    for claim in claims.values():
        if claim.kind == "hard":
            assert claim.operationalised_by == "tracker", claim.slug


def test_shipped_quotes_are_exact_words_of_the_archived_essay() -> None:
    essay = (SHIPPED / "archive" / "essay-musk-interview-2026.ja.txt").read_text("utf-8")
    checked = check_claims_path(SHIPPED)
    from_essay = [c for c in checked.claims if c.source == "essay-musk-interview-2026"]
    assert len(from_essay) == 13
    for claim in from_essay:
        assert claim.quote.original and claim.quote.original in essay, claim.slug
    (source,) = [s for s in checked.sources if s.slug == "essay-musk-interview-2026"]
    digest = hashlib.sha256((SHIPPED / (source.archive or "")).read_bytes()).hexdigest()
    assert digest == source.archived_sha256


def test_schema_command_prints_the_claim_json_schema() -> None:
    result = runner.invoke(app, ["claims", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"slug", "criteria", "quote", "stated", "deadline"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_check_reports_warnings_for_resolvability() -> None:
    warnings = check_claims_path(SHIPPED).warnings
    by_file = {(Path(w.file).name, w.field) for w in warnings}
    # data for 2030 only appears mid-2031, after the deadline
    assert ("china-power-3x-us-2030.yaml", "criteria[0].period") in by_file
    # open-ended claims have a vague deadline
    assert ("pensions-become-unnecessary.yaml", "review") in by_file


# --- broken input ---


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        path = directory / name
        text = path.read_text("utf-8")
        assert old in text, f"fixture changed: {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), "utf-8")

    return apply


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        (directory / name).write_bytes(content)

    return apply


def _duplicate_slug(directory: Path) -> None:
    shutil.copy(directory / "judged-claim.yaml", directory / "judged-claim-copy.yaml")


# (case, mutation, file, field, line, words in the message)
BROKEN: list[tuple[str, Callable[[Path], None], str, str, int | None, str]] = [
    (
        "invalid-yaml",
        _edit("power-ratio.yaml", "kind: hard\n", "kind: [hard\n"),
        "power-ratio.yaml",
        "(yaml)",
        None,
        "invalid YAML",
    ),
    (
        "unknown-field",
        _edit("power-ratio.yaml", "kind: hard\n", "kind: hard\ncolour: red\n"),
        "power-ratio.yaml",
        "colour",
        17,
        "unknown field",
    ),
    (
        "missing-slug",
        _edit("judged-claim.yaml", "slug: judged-claim\n", ""),
        "judged-claim.yaml",
        "slug",
        1,
        "required",
    ),
    (
        "duplicate-slug",
        _duplicate_slug,
        "judged-claim.yaml",
        "slug",
        1,
        "duplicate slug",
    ),
    (
        "slug-differs-from-file-name",
        _edit("judged-claim.yaml", "slug: judged-claim\n", "slug: other-name\n"),
        "judged-claim.yaml",
        "slug",
        1,
        "differs from the file name",
    ),
    (
        "unknown-indicator",
        _edit(
            "power-ratio.yaml",
            "{indicator: owid.electricity_generation.usa}",
            "{indicator: owid.nope}",
        ),
        "power-ratio.yaml",
        "criteria[0].series.ratio[1].indicator",
        24,
        "unknown indicator 'owid.nope'",
    ),
    (
        "unit-mismatch",
        _edit(
            "power-ratio.yaml",
            "ratio:\n        - {indicator: owid.electricity_generation.chn}\n"
            "        - {indicator: owid.electricity_generation.usa}",
            "difference:\n        - {indicator: owid.electricity_generation.chn}\n"
            "        - {indicator: owid.solar_share.usa}",
        ),
        "power-ratio.yaml",
        "criteria[0].series",
        21,
        "unit mismatch",
    ),
    (
        "threshold-unit-mismatch",
        _edit("power-ratio.yaml", 'unit: "1"', 'unit: "%"'),
        "power-ratio.yaml",
        "criteria[0].unit",
        27,
        "unit mismatch",
    ),
    (
        "deadline-before-stated-date",
        _edit("power-ratio.yaml", "deadline: 2031-12-31", "deadline: 2025-12-31"),
        "power-ratio.yaml",
        "deadline",
        14,
        "before the stated date",
    ),
    (
        "bad-date-precision",
        _edit("judged-claim.yaml", "precision: day", "precision: week"),
        "judged-claim.yaml",
        "stated.precision",
        11,
        "expected 'day', 'month' or 'year'",
    ),
    (
        "date-finer-than-precision",
        _edit("judged-claim.yaml", "precision: day", "precision: month"),
        "judged-claim.yaml",
        "stated.date",
        10,
        "expected the first day of the month",
    ),
    (
        "impossible-date",
        _edit("judged-claim.yaml", "deadline: 2026-12-31", "deadline: 2026-02-30"),
        "judged-claim.yaml",
        "deadline",
        12,
        "day value is outside expected range",
    ),
    (
        "non-utf8-bytes",
        _write("judged-claim.yaml", b"slug: judged-claim\ntitle: caf\xe9 \xff\n"),
        "judged-claim.yaml",
        "(encoding)",
        2,
        "not valid UTF-8",
    ),
    (
        "bad-period-string",
        _edit("power-ratio.yaml", 'period: "2030"', 'period: "2030-13"'),
        "power-ratio.yaml",
        "criteria[0].period",
        29,
        "not a real period",
    ),
    (
        "malformed-period",
        _edit("power-ratio.yaml", 'period: "2030"', 'period: "in 2030"'),
        "power-ratio.yaml",
        "criteria[0].period",
        29,
        'expected a period like "2030"',
    ),
    (
        "bad-series-expression",
        _edit(
            "power-ratio.yaml",
            "ratio:\n        - {indicator: owid.electricity_generation.chn}\n"
            "        - {indicator: owid.electricity_generation.usa}",
            "quotient: 3",
        ),
        "power-ratio.yaml",
        "criteria[0].series",
        21,
        "expected a series expression",
    ),
    (
        "unknown-claimant",
        _edit("judged-claim.yaml", "claimant: some-person", "claimant: nobody"),
        "judged-claim.yaml",
        "claimant",
        3,
        "unknown claimant 'nobody'",
    ),
    (
        "duplicate-key",
        _edit("judged-claim.yaml", "kind: judged\n", "kind: judged\nkind: hard\n"),
        "judged-claim.yaml",
        "kind",
        15,
        "duplicate key",
    ),
]


def _snapshot(db_url: str) -> dict[str, object]:
    """Row counts of every table plus a hash of every claim's and revision's content."""
    from tracker.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            counts = {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in SQLModel.metadata.sorted_tables
            }
            claims = conn.execute(
                sa.text(
                    "SELECT slug, version, criteria_version, lifecycle, content_hash, title "
                    "FROM claim ORDER BY slug"
                )
            ).all()
            revisions = conn.execute(
                sa.text("SELECT claim_id, version, content_hash FROM claimrevision ORDER BY id")
            ).all()
            indicators = conn.execute(
                sa.text("SELECT key, unit, source FROM indicator ORDER BY key")
            ).all()
    finally:
        engine.dispose()
    digest = hashlib.sha256(repr((claims, revisions, indicators)).encode("utf-8")).hexdigest()
    return {"counts": counts, "content": digest}


def _sync(db_url: str, path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["claims", "sync", str(path)], env={"TRACKER_DATABASE_URL": db_url})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("case", "mutate", "file", "field", "line", "words"),
    BROKEN,
    ids=[b[0] for b in BROKEN],
)
def test_broken_input_names_file_line_field_and_leaves_database_unchanged(
    db_url: str,
    tmp_path: Path,
    case: str,
    mutate: Callable[[Path], None],
    file: str,
    field: str,
    line: int | None,
    words: str,
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    code, output = _sync(db_url, directory)
    assert code == 0, output
    before = _snapshot(db_url)

    mutate(directory)
    checked = check_claims_path(directory)
    matching = [
        e
        for e in checked.errors
        if Path(e.file).name == file and e.field == field and words in e.message
    ]
    assert matching, f"{case}: no error for {file} {field} {words!r} in {checked.errors}"
    error = matching[0]
    if line is not None:
        assert error.line == line, f"{case}: {error}"
    else:
        assert error.line is not None and error.line > 0
    rendered = str(error)
    assert file in rendered and field in rendered

    check = runner.invoke(app, ["claims", "check", str(directory)])
    assert check.exit_code != 0
    assert f"{file}:{error.line}" in check.output and field in check.output

    code, output = _sync(db_url, directory)
    assert code != 0
    assert file in output and field in output and "nothing was changed" in output
    assert _snapshot(db_url) == before


@pytest.mark.parametrize("repeat_note", [False, True], ids=["no-note", "same-note-again"])
def test_criteria_change_without_a_new_note_is_refused_and_database_unchanged(
    db_url: str, tmp_path: Path, repeat_note: bool
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    target = directory / "power-ratio.yaml"
    assert _sync(db_url, directory)[0] == 0
    if repeat_note:
        text = target.read_text("utf-8").replace("threshold: 3.0", "threshold: 2.5")
        target.write_text(text + "revision_note: lower bar\n", "utf-8")
        assert _sync(db_url, directory)[0] == 0
    before = _snapshot(db_url)

    text = target.read_text("utf-8")
    text = text.replace("threshold: 3.0", "threshold: 2.0").replace(
        "threshold: 2.5", "threshold: 2.0"
    )
    target.write_text(text, "utf-8")
    code, output = _sync(db_url, directory)
    assert code != 0
    assert "power-ratio.yaml" in output and "revision_note" in output
    assert ("previous revision's note" if repeat_note else "expected a `revision_note:`") in output
    assert _snapshot(db_url) == before


def test_one_bad_file_blocks_the_whole_sync(db_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit("judged-claim.yaml", "kind: judged\n", "kind: judged\ncolour: red\n")(directory)
    before = _snapshot(db_url)
    code, output = _sync(db_url, directory)
    assert code != 0 and "judged-claim.yaml" in output
    after = _snapshot(db_url)
    assert after == before
    assert after["counts"]["claim"] == 0  # the good file was not written either


# --- library entry points (used by the API) ---


def _catalogue() -> IndicatorCatalogue:
    entry = IndicatorEntry(
        key="owid.electricity_generation.chn",
        title="t",
        source="owid",
        params={"chart": "c", "column": "x", "entity_code": "CHN"},
        unit="TWh",
    )
    return IndicatorCatalogue({entry.key: entry})


def test_load_claim_document_from_json_names_fields_without_lines() -> None:
    doc = parse_yaml((VALID / "power-ratio.yaml").read_text("utf-8"), source_label="x").data
    doc = json.loads(json.dumps(doc))
    doc["probability"] = 1.5
    with pytest.raises(ClaimValidationError) as info:
        load_claim_document(doc, source_label="POST /claims", catalogue=_catalogue())
    fields = {e.field: e for e in info.value.errors}
    assert "probability" in fields
    assert fields["probability"].file == "POST /claims" and fields["probability"].line is None

    doc["probability"] = 0.4
    with pytest.raises(ClaimValidationError) as info:
        load_claim_document(doc, source_label="POST /claims", catalogue=_catalogue())
    (error,) = info.value.errors
    assert error.field == "criteria[0].series.ratio[1].indicator"
    assert "unknown indicator" in error.message


def test_numbers_for_periods_are_read_as_period_strings() -> None:
    text = (VALID / "power-ratio.yaml").read_text("utf-8").replace('period: "2030"', "period: 2030")
    parsed = parse_yaml(text, source_label="f.yaml")
    catalogue = check_claims_path(VALID).catalogue
    claim = load_claim_document(parsed.data, source_label="f.yaml", catalogue=catalogue)
    assert claim.criteria[0].model_dump()["period"] == "2030"


def test_number_where_a_date_belongs_is_rejected_not_read_as_a_timestamp() -> None:
    text = (
        (VALID / "judged-claim.yaml")
        .read_text("utf-8")
        .replace("deadline: 2026-12-31", "deadline: 2026")
    )
    parsed = parse_yaml(text, source_label="f.yaml")
    with pytest.raises(ClaimValidationError) as info:
        load_claim_document(
            parsed.data, source_label="f.yaml", catalogue=IndicatorCatalogue(), lines=parsed.lines
        )
    (error,) = info.value.errors
    assert error.field == "deadline" and error.line == 12 and "YYYY-MM-DD" in error.message


def test_resolvability_warnings_do_not_fail_the_check(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit("indicators.yaml", "    source: owid\n", "")(directory)  # chn series loses its source
    _edit("indicators.yaml", "entity_code: USA}", "entity: USA}")(directory)
    _edit("power-ratio.yaml", "deadline: 2031-12-31", "deadline: 2030-12-31")(directory)
    judged = directory / "judged-claim.yaml"
    judged.write_text(
        judged.read_text("utf-8")
        .replace(
            "deadline: 2026-12-31\ndeadline_interpretation: During 2026.\n", "review: yearly\n"
        )
        .replace("kind: judged", "kind: hard")
        .replace("    type: judged\n", "    type: judged\n    role: context\n"),
        "utf-8",
    )
    checked = check_claims_path(directory)
    assert checked.errors == [], checked.errors
    found = {(Path(w.file).name, w.field): w.message for w in checked.warnings}
    assert "has no known source" in found[("power-ratio.yaml", "criteria[0].series")]
    assert "after the deadline 2030-12-31" in found[("power-ratio.yaml", "criteria[0].period")]
    assert "expects param entity_code" in found[("indicators.yaml", "indicators[1].params")]
    assert "no resolving measured criterion" in found[("judged-claim.yaml", "criteria")]
    assert "vague deadline" in found[("judged-claim.yaml", "review")]
    result = runner.invoke(app, ["claims", "check", str(directory)])
    assert result.exit_code == 0 and "warning" in result.output


def test_check_accepts_one_file_and_resolves_listings_beside_it() -> None:
    result = runner.invoke(app, ["claims", "check", str(SHIPPED / "agi-2026.yaml")])
    assert result.exit_code == 0, result.output
    assert "1 claims" in result.output
    missing = runner.invoke(app, ["claims", "check", str(SHIPPED / "nope.yaml")])
    assert missing.exit_code != 0 and "nope.yaml" in missing.output


def test_listing_errors_name_their_fields_and_do_not_cascade(tmp_path: Path) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit("indicators.yaml", "    unit: TWh\n", "    units: TWh\n")(directory)
    _edit("power-ratio.yaml", "  precision: day", "  precison: day")(directory)
    errors = check_claims_path(directory).errors
    rendered = [str(e) for e in errors]
    assert any(
        "indicators.yaml:6: error: indicators[0].units: unknown field: did you mean `unit`?" in r
        for r in rendered
    ), rendered
    assert any("power-ratio.yaml:12: error: stated.precison: unknown field" in r for r in rendered)
    # the misspelt fields are not also reported missing
    assert not any("indicators[0].unit:" in r or "stated.precision:" in r for r in rendered)
    assert not any("unknown indicator" in r for r in rendered)  # the cause is reported once


# --- a check that spans fields names the field to fix ---


def _checked_errors(directory: Path) -> dict[str, tuple[int | None, str]]:
    return {e.field: (e.line, e.message) for e in check_claims_path(directory).errors}


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "expected"),
    [
        # was `criteria[0].threshold: mode at_period needs `period`, got 3.0`
        # the line of the criterion: the field itself is missing
        ('    period: "2030"', "", "criteria[0].period", 19, 'expected a period like "2030"'),
        (
            '    mode: at_period\n    period: "2030"',
            "    mode: any_time_within",
            "criteria[0].window",
            19,
            "required with mode any_time_within: expected a window",
        ),
        (
            '    period: "2030"',
            '    period: "2030"\n    window: {start: "2030", end: "2029"}',
            "criteria[0].window.end",
            30,
            "expected an end on or after the start 2030, got '2029'",
        ),
        (
            "    type: threshold\n",
            "    type: signal\n    role: resolves\n",
            "criteria[0].role",
            21,
            "expected `role: context`, got 'resolves'",
        ),
    ],
    ids=["at_period-without-period", "any_time_within-without-window", "window-order", "signal"],
)
def test_criterion_checks_across_fields_name_the_field_and_what_is_expected(
    tmp_path: Path, old: str, new: str, field: str, line: int, expected: str
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit("power-ratio.yaml", old, new)(directory)
    if "signal" in new:  # a signal has no comparison: drop those fields too
        for gone in ('    comparator: ">="\n', "    threshold: 3.0\n", '    unit: "1"\n'):
            _edit("power-ratio.yaml", gone, "")(directory)
        _edit("power-ratio.yaml", '    mode: at_period\n    period: "2030"', "")(directory)
    errors = _checked_errors(directory)
    assert field in errors, errors
    at, message = errors[field]
    assert at == line and expected in message, errors[field]
    assert "criteria[0].threshold" not in errors  # was blamed for a missing period


def test_criterion_missing_period_over_the_api_names_the_period(tmp_path: Path) -> None:
    text = (VALID / "power-ratio.yaml").read_text("utf-8").replace('    period: "2030"\n', "")
    parsed = parse_yaml(text, source_label="request body")
    data = {**parsed.data, "criteria": [{**parsed.data["criteria"][0], "threshold": 1.3e9}]}
    with pytest.raises(ClaimValidationError) as caught:
        load_claim_document(data, source_label="request body", catalogue=IndicatorCatalogue())
    fields = {e.field: e.message for e in caught.value.errors}
    assert fields["criteria[0].period"].startswith("required with mode at_period: expected")
    assert "1300000000" not in " ".join(fields.values())


# --- a misspelt field: "did you mean", and no knock-on error for the field it meant ---


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "meant"),
    [
        ("deadline: 2031-12-31", "deadlin: 2031-12-31", "deadlin", 14, "deadline"),
        ("title: China", "titel: China", "titel", 2, "title"),
        ('    period: "2030"', '    perod: "2030"', "criteria[0].perod", 29, "period"),
        ("  precision: day", "  precison: day", "stated.precison", 12, "precision"),
    ],
)
def test_misspelt_field_suggests_the_known_one_and_is_the_only_error(
    tmp_path: Path, old: str, new: str, field: str, line: int, meant: str
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit("power-ratio.yaml", old, new)(directory)
    errors = check_claims_path(directory).errors
    rendered = [str(e) for e in errors]
    assert rendered == [
        f"{directory.as_posix()}/power-ratio.yaml:{line}: error: {field}: "
        f"unknown field: did you mean `{meant}`?"
    ]
    result = runner.invoke(app, ["claims", "check", str(directory / "power-ratio.yaml")])
    assert result.exit_code == 1 and f"did you mean `{meant}`?" in result.output


def test_misspelt_review_of_an_open_ended_claim_is_not_also_a_deadline_error(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(VALID, directory)
    _edit(
        "power-ratio.yaml",
        "deadline: 2031-12-31\ndeadline_interpretation: In 2030; annual data arrives in 2031.\n",
        "reveiw: yearly\n",
    )(directory)
    fields = _checked_errors(directory)
    assert set(fields) == {"reveiw"}, fields
    assert fields["reveiw"][1] == "unknown field: did you mean `review`?"


def test_an_unknown_field_unlike_any_known_one_lists_the_fields() -> None:
    text = (VALID / "power-ratio.yaml").read_text("utf-8") + "colour: red\n"
    parsed = parse_yaml(text, source_label="x.yaml")
    with pytest.raises(ClaimValidationError) as caught:
        load_claim_document(
            parsed.data, source_label="x.yaml", catalogue=IndicatorCatalogue(), lines=parsed.lines
        )
    [error] = [e for e in caught.value.errors if e.field == "colour"]
    assert error.message.startswith("unknown field; expected one of: slug, title,")
    assert "did you mean" not in error.message
