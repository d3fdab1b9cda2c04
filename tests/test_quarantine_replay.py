"""Property: a replay as of T reads exactly what was in use (and what was held back) at T, whatever
fetches and quarantine decisions came after T. A vintage quarantined at T1 and accepted at T2 is
not used by a replay between T1 and T2.

Hypothesis draws sequences of fetches (whole bodies, revised values, bodies cut inside their last
value) and reviewer decisions at increasing times; each runs through the real HTTP layer, OWID
adapter, ingest and quarantine code on a real database (SQLite, or PostgreSQL with
TRACKER_TEST_DATABASE_URL). After each step the values in use and those held back are recorded;
afterwards, every as-of read at or after a step and before the next must give that record.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quarantine_support import cut_inside_last_value, filtered_csv
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_ingest_support import OWID_CSV, OWID_META, make_indicator, replace_value

from tracker.config import Settings
from tracker.ingest import ingest_indicator
from tracker.observations import observations_as_of, quarantined_as_of
from tracker.quarantine import pending_vintage, review_vintage
from tracker.sources.http import HttpFetcher

T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)
WHOLE = filtered_csv("CHN")
BODIES = {
    "whole": WHOLE,
    "revised a little": filtered_csv("CHN", replace_value(OWID_CSV, "CHN", 2025, "10700.5")),
    "2025 reads 10": filtered_csv("CHN", replace_value(OWID_CSV, "CHN", 2025, "10")),
    "cut to 10": cut_inside_last_value(WHOLE, keep=2),
    "cut to 105": cut_inside_last_value(WHOLE, keep=3),
}
_keys = itertools.count()

step = st.tuples(
    st.sampled_from([*(("fetch", b) for b in BODIES), ("review", "accept"), ("review", "reject")]),
    st.integers(min_value=1, max_value=72),  # hours after the step before
)


def _snapshot(engine: Engine, indicator: int, as_of: dt.datetime | None) -> tuple[Any, Any]:
    with Session(engine) as session:
        used = observations_as_of(session, [indicator], as_of).get(indicator, [])
        held = quarantined_as_of(session, [indicator], as_of).get(indicator, [])
        return (
            {(r.period, r.value, r.fetch_run_id) for r in used},
            {(r.period, r.value, r.fetch_run_id) for r in held},
        )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=7))
def test_replay_as_of_t_ignores_what_came_after_t(
    engine: Engine, settings: Settings, steps: list[tuple[tuple[str, str], int]]
) -> None:
    key = f"owid.prop_{next(_keys)}.chn"
    params = {"chart": "electricity-generation", "column": "total_generation__twh"}
    indicator = make_indicator(engine, key, params={**params, "entity_code": "CHN"})
    body = {"csv": WHOLE}

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".metadata.json"):
            return httpx.Response(200, content=OWID_META)
        return httpx.Response(200, content=body["csv"], headers={"content-type": "text/csv"})

    http = HttpFetcher(
        httpx.Client(transport=httpx.MockTransport(upstream)),
        settings.model_copy(update={"http_max_retries": 0}),
        sleep=lambda _s: None,
    )
    assert ingest_indicator(engine, http, key, trigger="test", now=T0).ok
    records = [(T0, _snapshot(engine, indicator, None))]
    now = T0
    for (kind, what), hours in steps:
        now += dt.timedelta(hours=hours)
        if kind == "fetch":
            body["csv"] = BODIES[what]
            assert ingest_indicator(engine, http, key, trigger="test", now=now).ok
        else:
            with Session(engine) as session:
                pending = pending_vintage(session, indicator)
                if pending is None:
                    continue  # nothing to decide: no step
                review_vintage(
                    session,
                    pending.fetch_run_id,
                    accept=what == "accept",
                    decided_by="reviewer",
                    reason="property",
                    now=now,
                )
                session.commit()
        records.append((now, _snapshot(engine, indicator, None)))

    assert _snapshot(engine, indicator, T0 - dt.timedelta(microseconds=1)) == (set(), set())
    ends = [moment for moment, _ in records[1:]] + [now + dt.timedelta(days=30)]
    for (moment, expected), end in zip(records, ends, strict=True):
        for probe in (moment, moment + (end - moment) / 2, end - dt.timedelta(microseconds=1)):
            assert _snapshot(engine, indicator, probe) == expected, (probe, steps)
