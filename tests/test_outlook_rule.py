"""The outlook rule exists twice: in SQL (tracker.outlook.outlook_value, which the lists filter
by) and in Python (outlook_of, which tracker.status binds with the status it writes). Both
are evaluated here on the test database over every state and trend and a grid of bands that
hits each comparison's edges (a band end on the threshold, high exactly low × UNCERTAIN_RATIO,
a width exactly |value| × UNCERTAIN_WIDTH, missing ends), and over seeded random bands built on
those edges: they must give the same outlook on every row."""

from __future__ import annotations

import itertools
import random

import sqlalchemy as sa

from tracker.evaluation import UNCERTAIN_RATIO, UNCERTAIN_WIDTH, band_too_uncertain
from tracker.models import State, Trend
from tracker.outlook import Outlook, outlook_of, outlook_value

STATES = [s.value for s in State] + [None, ""]
TRENDS = [t.value for t in Trend] + [None, ""]
# band numbers: equal pairs make a band end sit on the threshold, 1 → 100 and 2 → 200 make high
# exactly low × UNCERTAIN_RATIO, 0 → 4 with value ±1 a width exactly |value| × UNCERTAIN_WIDTH;
# 1 is an int, as a criterion's threshold may be
GRID = [None, -1.0, 0.0, 0.5, 1, 2.0, 4.0, 100.0, 200.0]


def _cases() -> list[tuple[str | None, str | None, object, object, object, object]]:
    cases: list[tuple[str | None, str | None, object, object, object, object]] = []
    # every state and trend, a few bands each
    bands = [
        (None, None, None, None),
        (1.0, 3.0, 2.0, 2.5),  # clear of the threshold
        (1.0, 3.0, 2.0, 2.0),  # straddles it
        (1.0, 300.0, 2.0, 500.0),  # too wide
        (None, 3.0, 2.0, 2.5),
        (1.0, 3.0, None, 2.5),
    ]
    for state, trend, band in itertools.product(STATES, TRENDS, bands):
        cases.append((state, trend, *band))
    # the live states' band-dependent trends over the whole grid
    for trend in (Trend.on_track.value, Trend.off_track.value, Trend.insufficient_data.value):
        for low, high, value, threshold in itertools.product(GRID, repeat=4):
            cases.append((State.open.value, trend, low, high, value, threshold))
    # random bands on and around the edges, at any magnitude
    rng = random.Random(13)
    for _ in range(3000):
        value = rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-6, 12)
        low = rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-6, 12)
        high = rng.choice(
            [
                low * UNCERTAIN_RATIO,
                low + abs(value) * UNCERTAIN_WIDTH,
                low * UNCERTAIN_RATIO * (1 + rng.uniform(-1e-15, 1e-15)),
                low + abs(value) * UNCERTAIN_WIDTH * (1 + rng.uniform(-1e-15, 1e-15)),
                low + abs(low) * rng.uniform(0, 10),
            ]
        )
        threshold = rng.choice([low, high, value, (low + high) / 2, high * 1.5])
        state = rng.choice([State.open.value, State.upcoming.value, State.needs_review.value])
        trend = rng.choice([Trend.on_track.value, Trend.off_track.value, "insufficient_data"])
        cases.append((state, trend, low, high, value, threshold))
    return cases


def test_the_python_rule_agrees_with_the_sql_rule_on_every_case(engine) -> None:
    table = sa.Table(
        "outlook_case",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(20)),
        sa.Column("trend", sa.String(20)),
        # the evaluation table's type, so the numbers are stored and compared as there
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("value", sa.Float),
        sa.Column("threshold", sa.Float),
        prefixes=["TEMPORARY"],
    )
    cases = _cases()
    names = ("state", "trend", "low", "high", "value", "threshold")
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(
            sa.insert(table),
            [{"id": i, **dict(zip(names, case, strict=True))} for i, case in enumerate(cases)],
        )
        c = table.c
        rule = outlook_value(c.state, c.trend, c.low, c.high, c.value, c.threshold)
        by_sql = dict(conn.execute(sa.select(c.id, rule)).all())
        table.drop(conn)
    assert len(by_sql) == len(cases)
    differ = [
        (case, by_sql[i], outlook_of(*case))  # type: ignore[arg-type]
        for i, case in enumerate(cases)
        if by_sql[i] != outlook_of(*case)  # type: ignore[arg-type]
    ]
    assert not differ, differ[:20]
    # the cases reach every outlook, and the '' of a state no outlook covers
    assert set(by_sql.values()) == {o.value for o in Outlook} | {""}


def test_the_evaluators_too_uncertain_rule_is_the_outlooks_on_every_case() -> None:
    """The evaluator's `band_too_uncertain` (the trend badge's "too uncertain to call") and the
    outlook's too-wide clause are one rule: on every case above, an `insufficient_data` trend
    with a projection is "too uncertain" in the outlook exactly when the evaluator says so,
    including bands at the float edge of high = low × UNCERTAIN_RATIO, where high / low and
    low × 100 round apart (the first two below: high / low > 100 but high ≤ low × 100; the
    third the other way round)."""
    edges = [
        (763.774855201995, 76377.48552019951),
        (216.60018053121627, 21660.01805312163),
        (548.7992125893916, 54879.92125893916),
    ]
    assert [(h / lo > UNCERTAIN_RATIO) != (h > lo * UNCERTAIN_RATIO) for lo, h in edges] == [
        True,
        True,
        True,
    ]
    cases = [(None, None, lo, h, 1000.0, None) for lo, h in edges]
    cases += [(None, None, *case[2:]) for case in _cases()]
    checked = 0
    for _state, _trend, low, high, value, _threshold in cases:
        if value is None:
            continue
        outlook = outlook_of(State.open.value, Trend.insufficient_data.value, low, high, value, 0.0)
        wide = band_too_uncertain(value, low, high)  # type: ignore[arg-type]
        assert (outlook == Outlook.too_uncertain.value) == wide, (low, high, value)
        checked += 1
    assert checked > 3000
