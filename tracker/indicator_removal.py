"""An indicator taken out of `indicators.yaml` is never silently ignored by a sync: it is removed
when nothing was ever recorded about it (no observation, no fetch run, no claim criterion reads
it), and otherwise the sync is refused, saying what keeps it (its observations and fetch runs
are history, never deleted). An indicator declared over the API (origin `api`) is not the file's
to remove: a sync leaves it alone until a file lists it (`tracker claims export` writes it out)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.models import Criterion, FetchRun, Indicator, IndicatorRevision, Observation, Origin


@dataclass(slots=True)
class Removal:
    """Indicators stored but no longer listed: `removable` rows, `kept` key -> why."""

    removable: list[Indicator] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)


def _readers(session: Session, key: str) -> list[str]:
    """Keys of the stored criteria whose spec names the indicator (its key as a JSON string)."""
    pattern = "%" + json.dumps(key).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    spec_text = sa.cast(col(Criterion.spec), sa.Text())
    rows = session.exec(
        select(Criterion.key).where(spec_text.like(pattern + "%", escape="\\")).limit(5)
    ).all()
    return list(rows)


def unlisted_indicators(session: Session, listed: Collection[str]) -> Removal:
    """What to do with each stored indicator whose key is not in `listed`."""
    found = Removal()
    rows = session.exec(
        select(Indicator)
        .where(col(Indicator.key).not_in(list(listed)), col(Indicator.origin) != Origin.api)
        .order_by(col(Indicator.key))
    ).all()
    for row in rows:
        observations = session.exec(
            select(sa.func.count())
            .select_from(Observation)
            .where(Observation.indicator_id == row.id)
        ).one()
        runs = session.exec(
            select(sa.func.count()).select_from(FetchRun).where(FetchRun.indicator_id == row.id)
        ).one()
        readers = _readers(session, row.key)
        declared = session.exec(
            select(sa.func.count())
            .select_from(IndicatorRevision)
            .where(IndicatorRevision.indicator_id == row.id)
        ).one()
        if not (observations or runs or readers or declared):
            found.removable.append(row)
            continue
        held = []
        if observations:
            held.append(f"{observations} observation(s)")
        if runs:
            held.append(f"{runs} fetch run(s)")
        if readers:
            held.append("criteria reading it (" + ", ".join(readers) + ")")
        if declared:
            held.append(f"{declared} declaration(s) made over the API")
        found.kept[row.key] = (
            f"indicator {row.key!r} is stored but no longer listed: not removed, because tracker "
            f"holds {' and '.join(held)} for it (history is never deleted); put its entry back "
            "in indicators.yaml (`tracker claims export DIR` writes every stored indicator)"
        )
    return found
