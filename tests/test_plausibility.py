"""Plausibility gates, table-driven: each gate passing and failing, its default, a declared
override, and when a new vintage confirms the one quarantined before it.

The values are China's real electricity generation (OWID, tests/fixtures/ingest); `held` is
the vintage in use as the gates see it. The gates are pure: no database here (the ingest tests
run them on a real one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tracker.config import Settings
from tracker.indicators import IndicatorEntry, PlausibilityGates
from tracker.plausibility import Held, Pending, body_findings, check_vintage, relative_revision
from tracker.sources.base import Point, RecordedResponse
from tracker.sources.http import HttpFetcher

STORED = dt.datetime(2026, 7, 1, 3, 0, tzinfo=dt.UTC)  # when the values in use were fetched
HELD = {
    "2023": Held(9467.66, STORED),
    "2024": Held(10086.88, STORED),
    "2025": Held(10583.36, STORED),
    "2026": Held(5100.0, STORED),  # this year so far: the period was still running
}
CSV_URL = "https://ourworldindata.org/grapher/electricity-generation.csv?country=CHN"
WHOLE = RecordedResponse(
    CSV_URL, 200, b"Entity,Code,Year,v\nChina,CHN,2025,10583.36\n", "text/csv", 1
)
CUT = RecordedResponse(CSV_URL, 200, b"Entity,Code,Year,v\nChina,CHN,2025,10", "text/csv", 1)


def points(**values: float | None) -> list[Point]:
    """Points from keyword periods: y2025=10.0 → Point("2025", 10.0)."""
    return [Point(period.removeprefix("y"), value) for period, value in values.items()]


SAME = dict(y2023=9467.66, y2024=10086.88, y2025=10583.36, y2026=5100.0)


@dataclass
class Case:
    name: str
    points: list[Point]
    gates: dict[str, Any] = field(default_factory=dict)  # declared; {} = the defaults
    responses: list[RecordedResponse] = field(default_factory=lambda: [WHOLE])
    previous_rows: int | None = 4
    failed: list[str] = field(default_factory=list)  # the gates that fail, in order
    changes: int = 0


CASES = [
    Case("the same values again pass", points(**SAME)),
    Case("a small revision passes", points(**{**SAME, "y2025": 10600.0}), changes=1),
    Case(
        "the damaged body's revision fails (defaults: 50 %)",
        points(**{**SAME, "y2025": 10.0}),
        failed=["revision"],
        changes=1,
    ),
    Case(
        "a period still running when stored may move freely",
        points(**{**SAME, "y2026": 9100.0}),
        changes=1,
    ),
    Case(
        "declared max_revision 1.0 lets +80 % through",
        points(**{**SAME, "y2024": 18000.0}),
        gates={"max_revision": 1.0},
        changes=1,
    ),
    Case(
        "declared max_revision 0.1 stops +12 %",
        points(**{**SAME, "y2025": 11900.0}),
        gates={"max_revision": 0.1},
        failed=["revision"],
        changes=1,
    ),
    Case(
        "max_revision null: no limit",
        points(**{**SAME, "y2025": 10.0}),
        gates={"max_revision": None},
        changes=1,
    ),
    Case(
        "a revision from 0 is infinite",
        points(**{**SAME, "y2023": 5.0}),
        failed=["revision"],
        changes=1,
    ),
    Case(
        "a value withdrawn is a 100 % revision",
        points(**{**SAME, "y2024": None}),
        failed=["revision"],
        changes=1,
    ),
    Case("a new period is not a revision", points(**SAME, y2022=8848.0), changes=1),
    Case("no range by default", points(**{**SAME, "y2022": -1.0}), changes=1),
    Case(
        "below a declared min fails",
        points(**{**SAME, "y2022": -1.0}),
        gates={"min": 0},
        failed=["range"],
        changes=1,
    ),
    Case(
        "above a declared max fails",
        points(**{**SAME, "y2022": 1.5e6}),
        gates={"min": 0, "max": 100000},
        failed=["range"],
        changes=1,
    ),
    Case("inside the declared range passes", points(**SAME), gates={"min": 0, "max": 100000}),
    Case(
        "rows: more than 10 % fewer fails (default)",
        points(y2024=10086.88, y2025=10583.36),
        previous_rows=4,
        failed=["rows"],
    ),
    Case(
        "rows: 10 % fewer or less passes",
        points(**SAME),
        previous_rows=4,
    ),
    Case(
        "rows: declared max_row_drop 0.5 lets half through",
        points(y2024=10086.88, y2025=10583.36),
        gates={"max_row_drop": 0.5},
        previous_rows=4,
    ),
    Case(
        "rows: max_row_drop null, no limit",
        points(y2025=10583.36),
        gates={"max_row_drop": None},
        previous_rows=4,
    ),
    Case(
        "rows: no previous vintage, nothing to compare", points(y2025=10583.36), previous_rows=None
    ),
    Case(
        "a CSV cut inside its last value fails (defaults)",
        points(**{**SAME, "y2025": 10.0}),
        responses=[CUT],
        failed=["body", "revision"],
        changes=1,
    ),
    Case(
        "complete_body false: the cut body alone passes",
        points(**{**SAME, "y2025": 10583.4}),
        gates={"complete_body": False},
        responses=[CUT],
        changes=1,
    ),
    Case(
        "fewer bytes than Content-Length fail",
        points(**SAME),
        responses=[
            RecordedResponse(
                "https://api.worldbank.org/v2/x", 200, b"[]", "application/json", 1, 1, 4096, 2
            )
        ],
        failed=["body"],
    ),
    Case(
        "a JSON body (no final line break needed) passes",
        points(**SAME),
        responses=[RecordedResponse("https://x/y", 200, b"[1]", "application/json", 1)],
    ),
    Case(
        "an error page is not a data body",
        points(**SAME),
        responses=[WHOLE, RecordedResponse(CSV_URL, 404, b"gone", "text/csv", 1)],
    ),
    Case(
        "an unreadable period counts as ended: its revision is checked",
        [Point("2025-W03", 10.0)],
        previous_rows=None,
        failed=["revision"],
        changes=1,
    ),
]
HELD["2025-W03"] = Held(100.0, STORED)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gate(case: Case) -> None:
    check = check_vintage(
        case.points,
        gates=PlausibilityGates.model_validate(case.gates),
        held=lambda periods: {p: HELD[p] for p in periods if p in HELD},
        responses=case.responses,
        previous_rows=case.previous_rows,
    )
    assert [f.gate for f in check.findings] == case.failed, check.reason()
    assert check.passed == (not case.failed)
    assert check.changes == case.changes
    assert check.quarantine == (bool(case.failed) and case.changes > 0)
    assert check.rows_seen == len(case.points)
    for finding in check.findings:  # every reason names what failed, in words
        assert finding.message and (finding.period is None or finding.period in finding.message)


def test_the_damaged_body_reason_says_what_and_why() -> None:
    check = check_vintage(
        points(**{**SAME, "y2025": 10.0}),
        gates=PlausibilityGates(),
        held=lambda periods: {p: HELD[p] for p in periods if p in HELD},
        responses=[CUT],
        previous_rows=4,
    )
    assert check.reason() == (
        "electricity-generation.csv: the CSV ends inside its last row 'China,CHN,2025,10' "
        "(no final line break: cut short); 2025: 10,583.36 revised to 10 (99.9 %), more than "
        "the 50 % a period that had ended may move"
    )


def test_nothing_in_use_means_nothing_to_revise() -> None:
    check = check_vintage(points(y2025=10.0), gates=PlausibilityGates(), held=None)
    assert check.passed and check.changes == 1


def test_an_older_vintage_than_the_value_in_use_is_history() -> None:
    """FRED/ALFRED: a vintage published before the one in use is not a revision of it."""
    old = Point("2025", 10.0, known_from=dt.date(2026, 2, 1))
    check = check_vintage([old], gates=PlausibilityGates(), held=lambda p: {"2025": HELD["2025"]})
    assert check.passed and check.changes == 0


def test_findings_kept_are_capped_but_counted() -> None:
    many = [Point(f"{1000 + i}", -1.0) for i in range(120)]
    check = check_vintage(many, gates=PlausibilityGates(min=0), held=None)
    assert check.findings_total == 120 and len(check.findings) == 50
    assert check.reason().endswith("; and 117 more")


@pytest.mark.parametrize(
    ("old", "new", "share"),
    [
        (100.0, 150.0, 0.5),
        (100.0, 50.0, 0.5),
        (-4.0, -2.0, 0.5),
        (0.0, 0.0, 0.0),
        (None, 1.0, None),
    ],
)
def test_relative_revision(old: float | None, new: float | None, share: float | None) -> None:
    assert relative_revision(old, new) == share


# --- confirmation: a later fetch bringing the quarantined values again ---

PENDING = Pending(fetch_run_id=7, values={"2025": 10.0}, rows_seen=4)


@pytest.mark.parametrize(
    ("name", "new", "responses", "pending", "confirms"),
    [
        ("same values from a whole body", {**SAME, "y2025": 10.0}, [WHOLE], PENDING, True),
        ("other values", {**SAME, "y2025": 11.0}, [WHOLE], PENDING, False),
        ("same values, body cut again", {**SAME, "y2025": 10.0}, [CUT], PENDING, False),
        (
            "same values, and another implausible one",
            {**SAME, "y2025": 10.0, "y2024": 1.0},
            [WHOLE],
            PENDING,
            False,
        ),
        (
            "a pending period missing",
            {"y2023": 9467.66, "y2024": 10086.88, "y2026": 5100.0, "y2027": 1.0},
            [WHOLE],
            PENDING,
            False,
        ),
        ("nothing pending", {**SAME, "y2025": 10.0}, [WHOLE], None, False),
        (
            "the same short payload again (rows gate)",
            {"y2025": 10.0},
            [WHOLE],
            Pending(7, {"2025": 10.0}, rows_seen=1),
            True,
        ),
        (
            "a shorter payload than the pending one",
            {"y2025": 10.0},
            [WHOLE],
            Pending(7, {"2025": 10.0}, rows_seen=2),
            False,
        ),
    ],
)
def test_confirmation(
    name: str,
    new: dict[str, float],
    responses: list[RecordedResponse],
    pending: Pending | None,
    confirms: bool,
) -> None:
    check = check_vintage(
        points(**new),
        gates=PlausibilityGates(),
        held=lambda periods: {p: HELD[p] for p in periods if p in HELD},
        responses=responses,
        previous_rows=4,
        pending=pending,
    )
    assert check.confirms is confirms, check.reason()


# --- the declaration in the catalogue ---


def test_catalogue_entry_defaults_and_override() -> None:
    base = {"key": "owid.x", "title": "X", "source": "owid", "unit": "TWh"}
    assert IndicatorEntry.model_validate(base).gates == PlausibilityGates()
    declared = IndicatorEntry.model_validate({**base, "plausibility": {"min": 0, "max": 10}})
    assert (declared.gates.min, declared.gates.max) == (0, 10)
    assert declared.gates.max_revision == 0.5 and declared.gates.max_row_drop == 0.1


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"min": 5, "max": 1}, "min 5.0 is above max 1.0"),
        ({"max_revision": 0}, "greater than 0"),
        ({"max_row_drop": 1.5}, "less than or equal to 1"),
        ({"max_revison": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_declarations_are_refused(declared: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlausibilityGates.model_validate(declared)


# --- Content-Length vs bytes received, through the real HTTP layer ---


def test_the_http_layer_records_declared_and_received_bytes(tmp_path) -> None:
    whole = b"Entity,Code,Year,v\nChina,CHN,2025,10583.36\n"
    short = whole[:30]

    def handler(request: httpx.Request) -> httpx.Response:
        # a proxy that announced the whole body and delivered part of it
        return httpx.Response(
            200,
            content=short,
            headers={"content-length": str(len(whole)), "content-type": "text/csv"},
        )

    client = httpx.Client(transport=httpx.MockTransport(handler))
    fetcher = HttpFetcher(client, Settings(data_dir=tmp_path), sleep=lambda _s: None)
    response = fetcher.get("https://ourworldindata.org/grapher/x.csv")
    assert (response.declared_bytes, response.received_bytes) == (len(whole), 30)
    [finding] = body_findings([response])
    assert finding.message == (
        f"x.csv: 30 of the {len(whole)} bytes its Content-Length announced arrived (cut short)"
    )
