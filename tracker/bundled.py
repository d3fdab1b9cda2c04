"""The bundled real-data snapshot (tracker/data/bundled): loaded as the first vintage of each
indicator that has no observations yet, through the normal ingest path, so a fresh install shows
real statuses offline. Live fetches later supersede it with new vintages.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.ingest import FetchRunSummary, ingest_indicator
from tracker.models import Indicator, Observation
from tracker.sources.base import (
    IndicatorSpec,
    ParseError,
    Point,
    RecordedResponse,
    SourceResult,
)

log = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).parent / "data" / "bundled"
MANIFEST = BUNDLED_DIR / "manifest.json"


@cache
def manifest() -> dict[str, Any]:
    """The snapshot's manifest: file name, retrieval date, provenance per indicator."""
    data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True, slots=True)
class BundledProvenance:
    """Where one bundled indicator's values come from upstream (its manifest entry)."""

    indicator_key: str
    source_name: str
    upstream: str
    retrieved_on: str
    licence: str
    upstream_date: str | None = None
    commit: str | None = None
    url: str | None = None

    @property
    def sentence(self) -> str:
        """'bundled snapshot of OWID energy-data (...), retrieved 2026-11-28, licence ...'."""
        dated = f" (upstream dated {self.upstream_date})" if self.upstream_date else ""
        return (
            f"bundled snapshot of {self.source_name}, retrieved {self.retrieved_on}{dated}, "
            f"licence {self.licence}"
        )


def provenance(key: str, recorded: Mapping[str, Any] | None = None) -> BundledProvenance | None:
    """The upstream of bundled indicator `key`: the manifest entry a load recorded
    (FetchRun.meta["source_meta"]["bundled"]), completed from the shipped manifest for fields
    an older load did not record. None when the indicator is not bundled."""
    shipped = manifest()["indicators"].get(key)
    if shipped is None and not recorded:
        return None
    entry = {"retrieved_on": manifest()["retrieved_on"], **(shipped or {}), **(recorded or {})}

    def text(name: str) -> str | None:
        value = entry.get(name)
        return str(value) if value else None

    return BundledProvenance(
        indicator_key=key,
        source_name=text("source_name") or text("upstream") or key,
        upstream=text("upstream") or "unknown",
        retrieved_on=text("retrieved_on") or "unknown",
        licence=text("licence") or "unknown",
        upstream_date=text("upstream_date"),
        commit=text("commit"),
        url=text("url"),
    )


def snapshot_file() -> Path:
    return BUNDLED_DIR / str(manifest()["file"])


def bundled_keys() -> list[str]:
    return sorted(manifest()["indicators"])


def parse_snapshot(body: bytes, key: str) -> Iterator[Point]:
    """The rows of `key` in the long snapshot CSV (indicator_key,period,value)."""
    reader = csv.reader(io.StringIO(body.decode("utf-8")))
    header = next(reader, None)
    if header != ["indicator_key", "period", "value"]:
        raise ParseError(f"bundled snapshot: unexpected header {header!r}")
    for line_no, row in enumerate(reader, start=2):
        if len(row) != 3:
            raise ParseError(f"bundled snapshot line {line_no}: expected 3 fields, got {len(row)}")
        if row[0] != key:
            continue
        try:
            value = float(row[2]) if row[2] != "" else None
        except ValueError:
            raise ParseError(f"bundled snapshot line {line_no}: bad value {row[2]!r}") from None
        yield Point(period=row[1], value=value)


@dataclass
class BundledSource:
    """The snapshot as a source adapter, so loading it is an ordinary ingest with provenance."""

    name: str = "bundled"
    needs_key: bool = False

    def fetch(self, http: Any, spec: IndicatorSpec) -> SourceResult:
        path = snapshot_file()
        body = path.read_bytes()
        response = RecordedResponse(
            url=f"bundled:{path.name}",
            status=200,
            body=body,
            content_type="text/csv",
            elapsed_ms=0,
        )
        info = manifest()["indicators"].get(spec.key, {})
        meta = {"bundled": {"retrieved_on": manifest()["retrieved_on"], **info}}
        return SourceResult(points=self.parse(body, spec), responses=[response], meta=meta)

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        return parse_snapshot(body, spec.key)


@dataclass
class BundledSummary:
    loaded: list[FetchRunSummary] = field(default_factory=list)
    already_had_data: list[str] = field(default_factory=list)
    not_in_catalogue: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FetchRunSummary]:
        return [s for s in self.loaded if not s.ok]

    def line(self) -> str:
        """One start-up line saying what this process stored. An indicator found empty whose
        ingest stored nothing new (every value already there) was loaded by another process
        starting at the same time: it counts as already having data, not as loaded."""
        ok = [s for s in self.loaded if s.ok]
        stored = [s for s in ok if s.rows_new or s.rows_revised]
        concurrent = len(ok) - len(stored)
        had = len(self.already_had_data) + concurrent
        meanwhile = f" ({concurrent} loaded by another process meanwhile)" if concurrent else ""
        if stored:
            text = (
                f"bundled data: loaded {len(stored)} indicator(s) "
                f"({sum(s.rows_new for s in stored)} new values); "
                f"{had} already had data{meanwhile}"
            )
        else:
            text = f"bundled data: 0 new values; {had} indicator(s) already had data{meanwhile}"
        if self.failed:
            text += (
                f", {len(self.failed)} failed ({', '.join(s.indicator_key for s in self.failed)})"
            )
        if self.not_in_catalogue:
            text += f"; not in the catalogue: {', '.join(self.not_in_catalogue)}"
        return text


def retrieved_at(key: str, now: dt.datetime) -> dt.datetime:
    """Since when the snapshot's values of `key` were known: the start (UTC) of the retrieval
    date its manifest records (the indicator's own, else the snapshot's), never after `now`.
    So a replay on a fresh install reads them from that date, not from the day they were
    loaded."""
    info = manifest()["indicators"].get(key, {})
    raw = str(info.get("retrieved_on") or manifest()["retrieved_on"])
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return now
    return min(dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC), now)


def load_bundled(engine: Engine, *, now: dt.datetime | None = None) -> BundledSummary:
    """Load the snapshot for each catalogue indicator that has no observations at all, its
    values known from the snapshot's recorded retrieval date (`retrieved_at`).

    Idempotent: an indicator with any observation (bundled or live, current or closed) is left
    alone. Each indicator is its own ingest (one FetchRun, trigger "bundled", one transaction).
    """
    now = now or utcnow()
    summary = BundledSummary()
    indicators = Indicator.__table__.c  # type: ignore[attr-defined]
    observations = Observation.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        known = {
            row.key: row.has_data
            for row in conn.execute(
                sa.select(
                    indicators.key,
                    sa.exists().where(observations.indicator_id == indicators.id).label("has_data"),
                ).where(indicators.key.in_(bundled_keys()))
            )
        }
    source = BundledSource()
    for key in bundled_keys():
        if key not in known:
            summary.not_in_catalogue.append(key)
        elif known[key]:
            summary.already_had_data.append(key)
        else:
            summary.loaded.append(
                ingest_indicator(
                    engine,
                    None,
                    key,
                    trigger="bundled",
                    now=now,
                    source=source,
                    known_from=retrieved_at(key, now),
                )
            )
    for failed in summary.failed:
        log.error("loading bundled data for %s failed: %s", failed.indicator_key, failed.error)
    return summary


def load_bundled_step(settings: Settings, engine: Engine) -> str | None:
    """Start-up step (after claims sync): load the snapshot into indicators without data."""
    if not settings.load_bundled_on_start:
        return None
    return load_bundled(engine).line()
