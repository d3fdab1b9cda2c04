"""Plain factories for the status tests: claims, criteria, indicators and observations as rows.

Built on tracker.models directly so the evaluation tests do not depend on the shipped claims/.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.models import (
    Claim,
    Claimant,
    Criterion,
    FetchRun,
    FetchStatus,
    Indicator,
    Observation,
)
from tracker.sources.base import period_start

FIXTURES = Path(__file__).parent / "fixtures"

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 10, tzinfo=UTC)


def at(day: str, hour: int = 12) -> dt.datetime:
    """A UTC datetime on an ISO day (noon by default)."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=UTC)


def claimant(session: Session, slug: str = "musk") -> Claimant:
    found = session.exec(select(Claimant).where(Claimant.slug == slug)).first()
    if found is not None:
        return found
    row = Claimant(slug=slug, name=slug.title(), created_at=T0)
    session.add(row)
    session.flush()
    return row


def make_claim(
    session: Session,
    slug: str,
    criteria: list[dict[str, Any]],
    *,
    kind: str = "hard",
    deadline: dt.date | None = None,
    window_start: dt.date | None = None,
    window_end: dt.date | None = None,
    lifecycle: str = "active",
    valid_from: dt.datetime = T0,
) -> Claim:
    """A claim row and its criteria rows (criteria version 1, valid from `valid_from`)."""
    who = claimant(session)
    assert who.id is not None
    spec = {"slug": slug, "criteria": criteria}
    claim = Claim(
        slug=slug,
        title=slug.replace("-", " "),
        claimant_id=who.id,
        stated_on=dt.date(2026, 1, 6),
        deadline=deadline,
        window_start=window_start,
        window_end=window_end,
        kind=kind,
        lifecycle=lifecycle,
        spec=spec,
        content_hash=hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest(),
        created_at=valid_from,
        updated_at=valid_from,
    )
    session.add(claim)
    session.flush()
    assert claim.id is not None
    for c in criteria:
        session.add(
            Criterion(
                claim_id=claim.id,
                key=c["key"],
                role=c.get("role", "context" if c["type"] == "signal" else "resolves"),
                kind=c["type"],
                spec=c,
                criteria_version=1,
                valid_from=valid_from,
            )
        )
    session.flush()
    return claim


def make_indicator(
    session: Session,
    key: str,
    *,
    unit: str = "TWh",
    frequency: str = "annual",
    lag: int = 180,
    revision: int = 365,
) -> Indicator:
    row = Indicator(
        key=key,
        source="owid",
        unit=unit,
        frequency=frequency,
        publication_lag_days=lag,
        revision_window_days=revision,
        created_at=T0,
        updated_at=T0,
    )
    session.add(row)
    session.flush()
    return row


def fetch_run(session: Session, indicator: Indicator, when: dt.datetime) -> FetchRun:
    run = FetchRun(
        indicator_id=indicator.id,
        source=indicator.source,
        trigger="test",
        started_at=when,
        finished_at=when,
        status=FetchStatus.ok,
    )
    session.add(run)
    session.flush()
    return run


def observe(
    session: Session, indicator: Indicator, values: Mapping[str, float], known_from: dt.datetime
) -> None:
    """Record values as known from `known_from`: new periods inserted, changed ones revised."""
    assert indicator.id is not None
    run = fetch_run(session, indicator, known_from)
    current = {
        o.period: o
        for o in session.exec(
            select(Observation).where(
                Observation.indicator_id == indicator.id,
                Observation.known_until.is_(None),  # type: ignore[union-attr]
            )
        )
    }
    for period, value in values.items():
        held = current.get(period)
        if held is not None:
            if held.value == value:
                continue
            held.known_until = known_from  # the write-once closing column
        session.add(
            Observation(
                indicator_id=indicator.id,
                period=period,
                period_start=period_start(period),
                value=value,
                known_from=known_from,
                fetch_run_id=run.id,
            )
        )
    session.flush()


def owid_generation() -> dict[str, dict[str, float]]:
    """CHN and USA electricity generation (TWh) by year, from the fixture copy of OWID."""
    path = FIXTURES / "evaluation" / "owid_electricity_generation_chn_usa_2000_2025.csv"
    out: dict[str, dict[str, float]] = {"CHN": {}, "USA": {}}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            out[row["iso_code"]][row["year"]] = float(row["electricity_generation_twh"])
    return out


def fda_novel_approvals() -> dict[str, float]:
    """CDER novel approvals (NDA + BLA) by year, 2000–2023, from the fixture."""
    path = FIXTURES / "evaluation" / "fda_cder_novel_approvals_2000_2023.csv"
    with path.open() as handle:
        return {
            r["year"]: float(r["cder_nda"]) + float(r["cder_bla"]) for r in csv.DictReader(handle)
        }


CHINA_CRITERIA: list[dict[str, Any]] = [
    {
        "key": "ratio-2030",
        "type": "threshold",
        "series": {"ratio": [{"indicator": "owid.gen.chn"}, {"indicator": "owid.gen.usa"}]},
        "comparator": ">=",
        "threshold": 3.0,
        "unit": "1",
        "mode": "at_period",
        "period": "2030",
    }
]


def china_claim(session: Session) -> tuple[Claim, Indicator, Indicator]:
    chn = make_indicator(session, "owid.gen.chn")
    usa = make_indicator(session, "owid.gen.usa")
    claim = make_claim(
        session, "china-power-3x-us-2030", CHINA_CRITERIA, deadline=dt.date(2030, 12, 31)
    )
    return claim, chn, usa


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine executes inside the block."""
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
