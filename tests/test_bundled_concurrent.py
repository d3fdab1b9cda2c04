"""Two processes loading the bundled snapshot at the same moment: the one that finds the values
already stored says so instead of "loaded 3 indicator(s) (0 values)" (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from test_ingest_support import T0, count_rows, make_indicator, make_owid_indicator

from tracker.bundled import BundledSummary, load_bundled
from tracker.db import make_engine
from tracker.models import Observation


def test_the_process_that_lost_the_race_says_nothing_new_was_stored(
    db_url: str, engine: Engine
) -> None:
    make_owid_indicator(engine, "CHN")
    make_owid_indicator(engine, "USA")
    make_indicator(engine, "worldbank.population.chn", source="worldbank", unit="persons")
    late = make_engine(db_url)  # the second process
    first: list[BundledSummary] = []

    def other_process_loads_now(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # right after the late process looked for indicators without data, the other one loads
        if "EXISTS" in statement.upper() and not first:
            first.append(load_bundled(engine, now=T0))

    sa.event.listen(late, "after_cursor_execute", other_process_loads_now)
    try:
        summary = load_bundled(late, now=T0)
    finally:
        sa.event.remove(late, "after_cursor_execute", other_process_loads_now)
        late.dispose()

    assert first, "the other process never ran"
    stored = sum(s.rows_new for s in first[0].loaded)
    line = first[0].line()
    assert line.startswith(f"bundled data: loaded 3 indicator(s) ({stored} new values); "), line
    assert stored > 0 and "0 already had data;" in line
    # the late process ran its three ingests, but every value was already there
    assert len(summary.loaded) == 3 and all(s.ok and s.rows_new == 0 for s in summary.loaded)
    assert summary.line().startswith(
        "bundled data: 0 new values; 3 indicator(s) already had data "
        "(3 loaded by another process meanwhile)"
    ), summary.line()
    assert count_rows(engine, Observation) == stored  # nothing stored twice

    # a later start-up finds every indicator with data before loading anything
    again = load_bundled(engine, now=T0).line()
    assert again.startswith("bundled data: 0 new values; 3 indicator(s) already had data;")
