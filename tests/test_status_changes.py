""" "Status changes" are changes of state or trend, not every appended evaluation (SQLite and
PostgreSQL): queries.recent_status_changes, the Atom feed and the overview's list read it."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_api_support import T0, make_claim, make_evaluation

from tracker import queries
from tracker.config import Settings
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


@pytest.fixture
def client(settings: Settings, histories: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=histories)
    app.state.clock = lambda: hours(7)
    with TestClient(app) as c:
        yield c


def test_atom_feed_has_one_entry_per_real_change(client: TestClient) -> None:
    root = ET.fromstring(client.get("/api/v1/feed.atom").content)
    titles = [e.findtext("a:title", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert titles == [
        "china-power-3x-us-2030: open → resolved_false",
        "agi-2026: open → open (insufficient_data)",
        "china-power-3x-us-2030: open → open (off_track)",
        "agi-2026: new → open",
        "china-power-3x-us-2030: new → open (on_track)",
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
