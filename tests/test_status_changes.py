""" "Status changes" are changes of state or trend, not every appended evaluation (SQLite and
PostgreSQL): queries.recent_status_changes, the Atom feed and the overview's list read it.

They read columns written with each evaluation (previous state and trend, kind of change); the
oracle for those is the LAG over every evaluation the queries ran before (status_change_oracle).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import status_change_oracle as oracle
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_api_support import T0, make_claim, make_evaluation
from test_status_factories import at, count_statements, make_indicator, observe
from test_status_factories import make_claim as make_criteria_claim

from tracker import queries
from tracker.config import Settings
from tracker.models import Claim
from tracker.status import evaluate_claims, record_manual_resolution
from tracker.web.app import create_app

ATOM = {"a": "http://www.w3.org/2005/Atom"}


def hours(n: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


@pytest.fixture
def histories(engine: Engine) -> Engine:
    """Histories where most appended evaluations change neither state nor trend."""
    with Session(engine) as s:
        china = make_claim(s, "china-power-3x-us-2030")
        make_evaluation(s, china, state="open", trend="on_track", at=hours(0))
        make_evaluation(s, china, state="open", trend="on_track", at=hours(1), metric_value=2.4)
        make_evaluation(s, china, state="open", trend="off_track", at=hours(2), metric_value=2.5)
        make_evaluation(s, china, state="open", trend="off_track", at=hours(3), metric_value=2.6)
        make_evaluation(s, china, state="resolved_false", trend=None, at=hours(6))
        agi = make_claim(s, "agi-2026", deadline=dt.date(2026, 12, 31), kind="judged")
        make_evaluation(s, agi, state="open", trend=None, at=hours(1))
        # the audit's duplicates: identical rows appended by concurrent start-ups
        make_evaluation(s, agi, state="open", trend=None, at=hours(1))
        make_evaluation(s, agi, state="open", trend=None, at=hours(4), metric_value=None)
        make_evaluation(s, agi, state="open", trend="insufficient_data", at=hours(5))
        s.commit()
    return engine


def _summary(changes: list[queries.StatusChange]) -> list[tuple[str, str | None, str | None, str]]:
    return [
        (
            c.claim_slug,
            c.previous_state and f"{c.previous_state}/{c.previous_trend}",
            f"{c.evaluation.state}/{c.evaluation.trend}",
            ",".join(c.changed),
        )
        for c in changes
    ]


def test_only_changes_of_state_or_trend_newest_first(histories: Engine) -> None:
    with Session(histories) as s:
        changes = queries.recent_status_changes(s, limit=100)
        assert _summary(changes) == [
            ("china-power-3x-us-2030", "open/off_track", "resolved_false/None", "state,trend"),
            ("agi-2026", "open/None", "open/insufficient_data", "trend"),
            ("china-power-3x-us-2030", "open/on_track", "open/off_track", "trend"),
            ("agi-2026", None, "open/None", "state"),  # first: a change from nothing
            ("china-power-3x-us-2030", None, "open/on_track", "state"),
        ]
        later = queries.recent_status_changes(s, limit=100, first=False)
        assert _summary(later) == _summary(changes)[:3]
        firsts = queries.recent_status_changes(s, limit=100, first=True)
        assert _summary(firsts) == _summary(changes)[3:]
        # the limit counts changes, not the evaluations skipped between them
        assert _summary(queries.recent_status_changes(s, limit=2)) == _summary(changes)[:2]
        agi = queries.get_claim(s, "agi-2026")
        assert agi is not None and agi.claim.id is not None
        assert [
            c.evaluation.trend
            for c in queries.recent_status_changes(s, limit=100, claim_id=agi.claim.id)
        ] == ["insufficient_data", None]


@pytest.mark.parametrize(("n_changes", "n_firsts"), [(100, 100), (2, 1), (1, 2)])
def test_changes_and_firsts_in_one_pass_match_the_two_queries(
    histories: Engine, n_changes: int, n_firsts: int
) -> None:
    """The overview's one-pass split gives exactly what the two filtered queries give."""
    with Session(histories) as s:
        changes, firsts = queries.recent_changes_and_firsts(s, changes=n_changes, firsts=n_firsts)
        expected_changes = queries.recent_status_changes(s, limit=n_changes, first=False)
        expected_firsts = queries.recent_status_changes(s, limit=n_firsts, first=True)
        assert _summary(changes) == _summary(expected_changes)
        assert _summary(firsts) == _summary(expected_firsts)
        assert len(changes) == min(n_changes, 3) and len(firsts) == min(n_firsts, 2)


def test_stored_columns_and_queries_match_the_lag_formulation(histories: Engine) -> None:
    """State changes, trend-only changes, metric-only evaluations (no change), two rows at the
    same time, first evaluations, two claims interleaved in time."""
    with Session(histories) as s:
        assert oracle.stored_columns(s) == oracle.expected_columns(s)
        kinds = [kind for _, _, _, kind in oracle.stored_columns(s)]
        assert kinds.count("first") == 2 and kinds.count("moved") == 3 and kinds.count(None) == 4
        oracle.assert_queries_match(s)


def _threshold_claims(session: Session, n: int) -> list[Any]:
    """n claims, each reading its own rising series (on track for 140 by 2030)."""
    indicators = []
    for i in range(n):
        ind = make_indicator(session, f"ind.{i}")
        values = {str(y): 100.0 + i + 3 * (y - 2015) for y in range(2015, 2026)}
        observe(session, ind, values, at("2026-03-01"))
        criteria = [
            {
                "key": "k",
                "type": "threshold",
                "series": {"indicator": f"ind.{i}"},
                "threshold": 140.0,
                "period": "2030",
            }
        ]
        make_criteria_claim(session, f"claim-{i}", criteria, deadline=dt.date(2030, 12, 31))
        indicators.append(ind)
    return indicators


def test_the_evaluator_writes_what_the_lag_formulation_says(engine: Engine) -> None:
    """Evaluations appended by sweeps, by an indicator's revision and by a manual resolution
    carry the previous state and trend, and the kind of change, that the LAG gives."""
    with Session(engine) as s:
        inds = _threshold_claims(s, 3)
        s.commit()
        evaluate_claims(s, now=at("2026-06-01"))  # three first evaluations
        s.commit()
        observe(s, inds[0], {"2025": 131.0}, at("2026-06-10"))
        evaluate_claims(s, now=at("2026-06-11"))  # claim-0: only the metric moves
        s.commit()
        flat = {str(y): 101.0 + 0.5 * (y - 2015) for y in range(2015, 2026)}
        observe(s, inds[1], flat, at("2026-07-01"))
        evaluate_claims(s, now=at("2026-07-02"))  # claim-1: on track → off track
        s.commit()
        # all: open → needs review, their series silent since 2025 (data overdue)
        evaluate_claims(s, now=at("2031-01-01"))
        s.commit()
        claim_2 = s.exec(select(Claim).where(Claim.slug == "claim-2")).one()
        record_manual_resolution(
            s, claim_2, outcome="false", decided_by="reviewer", rationale="Not met.",
            evidence=[], now=at("2031-02-01"),
        )  # fmt: skip
        s.commit()

        stored = oracle.stored_columns(s)
        assert stored == oracle.expected_columns(s)
        assert [(state, trend, kind) for _, state, trend, kind in stored] == [
            (None, None, "first"),
            (None, None, "first"),
            (None, None, "first"),
            ("open", "on_track", None),
            ("open", "on_track", "moved"),
            ("open", "on_track", "moved"),
            ("open", "off_track", "moved"),
            ("open", "on_track", "moved"),
            ("needs_review", "on_track", "moved"),
        ]
        oracle.assert_queries_match(s)


def test_a_run_following_earlier_evaluations_takes_the_statements_of_a_first(
    engine: Engine,
) -> None:
    """The previous state and trend come with the fingerprints already read: no statement
    per claim, and none more than a run with nothing to follow."""
    counts = []
    with Session(engine) as s:
        inds = _threshold_claims(s, 4)
        s.commit()
        with count_statements(engine) as statements:
            evaluate_claims(s, now=at("2026-06-01"))
        counts.append(len(statements))
        s.commit()
        for ind in inds:
            observe(s, ind, {"2025": 200.0}, at("2026-06-10"))
        with count_statements(engine) as statements:
            results = evaluate_claims(s, now=at("2026-06-11"))
        counts.append(len(statements))
        s.commit()
        assert len(results) == 4
        assert [kind for *_, kind in oracle.stored_columns(s)][4:] == [None] * 4
    assert counts[0] == counts[1], counts


def _plan(session: Session, statement: str, params: Any, backend: str) -> list[str]:
    """The query plan's lines; on SQLite each is indented under its parent, as PostgreSQL's."""
    conn = session.connection()
    if backend == "postgresql":
        return [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", params)]
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params):
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


def test_the_change_queries_read_the_index_newest_first(histories: Engine, backend: str) -> None:
    """Each kind is read from ix_evaluation_change_at backwards, in the order wanted (no sort
    under the limit of each kind), so a query stops after its limit whatever the history."""
    executed: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        executed.append((statement, params))

    with Session(histories) as s:
        sa.event.listen(histories, "before_cursor_execute", listener)
        try:
            queries.recent_status_changes(s, 2)
            queries.recent_changes_and_firsts(s, changes=2, firsts=2)
        finally:
            sa.event.remove(histories, "before_cursor_execute", listener)
        if backend == "postgresql":  # a table of ten rows: make it choose between the indexes
            s.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plans = ["\n".join(_plan(s, statement, params, backend)) for statement, params in executed]
    assert len(plans) == 2
    for plan in plans:
        if backend == "sqlite":  # each kind: materialised from the index alone, unsorted
            branches = re.findall(r"^( *)MATERIALIZE.*\n((?:\1 .*\n?)*)", plan, re.M)
            assert len(branches) == 2, plan
            for _, body in branches:
                assert "USING COVERING INDEX ix_evaluation_change_at" in body, plan
                assert "TEMP B-TREE" not in body, plan
        else:  # each kind: a Limit over a backward index scan; one Sort, of the few rows found
            assert (
                len(re.findall(r"Index Only Scan Backward using ix_evaluation_change_at", plan))
                == 2
            ), plan
            assert plan.count("Sort Key") == 1, plan


@pytest.fixture
def client(settings: Settings, histories: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=histories)
    app.state.clock = lambda: hours(7)
    with TestClient(app) as c:
        yield c


def test_atom_feed_has_one_entry_per_real_change(client: TestClient) -> None:
    root = ET.fromstring(client.get("/api/v1/feed.atom").content)
    titles = [e.findtext("a:title", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert titles == [  # the claim's title and the change in words
        "china power 3x us 2030: open → resolved: not kept",
        "agi 2026: now insufficient data (was no trend); still open",
        "china power 3x us 2030: now off track (was on track); still open",
        "agi 2026: first evaluated: open",
        "china power 3x us 2030: first evaluated: open, on track",
    ]


def test_overview_lists_real_changes_and_first_evaluations(client: TestClient) -> None:
    html = client.get("/").text
    start, end = html.index('id="changes-h"'), html.index('id="health-h"')
    section = html[start:end]
    first_evaluated = section.index('class="first-evaluated"')
    changes = re.findall(r"<li>.*?</li>", section[:first_evaluated], re.S)
    firsts = re.findall(r"<li>.*?</li>", section[first_evaluated:], re.S)
    assert [re.search(r'href="/claims/([^"]+)"', li).group(1) for li in changes] == [  # type: ignore[union-attr]
        "china-power-3x-us-2030",
        "agi-2026",
        "china-power-3x-us-2030",
    ]
    assert len(firsts) == 2 and all("first evaluated as" in li for li in firsts)
