"""Ingest with provenance: one fetch of one indicator becomes one FetchRun, its raw bodies
(content-addressed, gzip, stored once) and one new vintage of observations — all or nothing.

Before the vintage is written, the plausibility gates check it (tracker.plausibility): one that
fails is written quarantined (tracker.quarantine), kept but not used until a later fetch brings
the same values again or a reviewer accepts it. A failure of any kind is recorded as data (a
FetchRun with status error) and never changes a stored observation; one indicator's failure
never touches another's transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.clock import utcnow
from tracker.db import session_scope
from tracker.indicators import gates_of
from tracker.models import FetchRun, FetchStatus, Indicator, RawBody
from tracker.observations import Counts, upsert_points
from tracker.plausibility import VintageCheck, check_vintage
from tracker.quarantine import (
    in_use_lookup,
    lock_indicator,
    pending_vintage,
    previous_rows_seen,
    quarantine_vintage,
    settle_pending,
)
from tracker.sources.base import (
    EmptyDataError,
    IndicatorSpec,
    Point,
    RecordedResponse,
    Source,
    SourceError,
    SourceResult,
)
from tracker.sources.parsing import PointStream

log = logging.getLogger(__name__)

REDACTED = "REDACTED"
# Query parameters whose values never reach the database (the HTTP layer already removes them;
# this is the second lock on the same door).
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:api_key|apikey|key|token|access_token|password|secret)=)[^&#\s]+"
)
MAX_ERROR_CHARS = 2_000


class UnknownIndicatorError(LookupError):
    """No indicator with that key in the database (run `tracker claims sync` first)."""


@dataclass(frozen=True, slots=True)
class FetchRunSummary:
    """What one ingest did, for CLIs, jobs and tests."""

    indicator_key: str
    fetch_run_id: int
    status: str  # ok | error
    rows_new: int = 0
    rows_revised: int = 0
    rows_unchanged: int = 0
    error_kind: str | None = None
    error: str | None = None
    duration_ms: int = 0
    # the vintage failed a plausibility gate: stored quarantined, not used (the fetch is ok)
    quarantined: bool = False
    quarantine_reason: str | None = None
    # what this fetch did to the vintage that was quarantined before it, e.g.
    # "confirmed the vintage of fetch run 12" (None: there was none)
    settled: str | None = None

    @property
    def ok(self) -> bool:
        """The fetch succeeded and its vintage is stored (in use, or quarantined)."""
        return self.status == FetchStatus.ok


def indicator_spec(indicator: Indicator) -> IndicatorSpec:
    """The adapter's view of a catalogue row."""
    return IndicatorSpec(
        key=indicator.key,
        source=indicator.source,
        params=dict(indicator.params or {}),
        unit=indicator.unit,
        frequency=indicator.frequency,
    )


def known_secrets(http: Any) -> list[str]:
    """Every API key configured on the fetcher's settings (scrubbed from anything stored)."""
    settings = getattr(http, "settings", None)
    if settings is None:
        return []
    from tracker.config import SOURCE_NAMES

    secrets = [settings.api_key(name) for name in SOURCE_NAMES]
    return [s for s in secrets if s]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without secret values or secret query parameters."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


def _scrub_body(body: bytes, secrets: Iterable[str]) -> bytes:
    for secret in secrets:
        if len(secret) >= 4:
            body = body.replace(secret.encode(), REDACTED.encode())
    return body


def store_raw_body(
    session: Session, body: bytes, content_type: str | None, now: dt.datetime
) -> str:
    """Store `body` gzip-compressed under its sha256 unless already there; return the sha256.

    Concurrent ingests of the same body are safe (INSERT … ON CONFLICT DO NOTHING).
    """
    sha256 = hashlib.sha256(body).hexdigest()
    values = {
        "sha256": sha256,
        "size": len(body),
        "content_type": (content_type or None) and content_type[:200],
        "compression": "gzip",
        "content": gzip.compress(body, compresslevel=6, mtime=0),
        "first_seen_at": now,
    }
    table = RawBody.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(table).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(table).values(values).on_conflict_do_nothing())
    elif session.get(RawBody, sha256) is None:
        session.execute(sa.insert(table).values(values))
    return sha256


def read_raw_body(session: Session, sha256: str) -> bytes | None:
    """The stored body with that sha256, decompressed (None if absent)."""
    row = session.get(RawBody, sha256)
    if row is None:
        return None
    return gzip.decompress(row.content) if row.compression == "gzip" else row.content


def _json_safe(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _store_responses(
    session: Session,
    run: FetchRun,
    responses: Sequence[RecordedResponse],
    secrets: Sequence[str],
    now: dt.datetime,
    points: Any = None,
) -> None:
    """Keep every body seen and describe the exchange(s) on the run: each page's URL, size,
    sha256 and, when `points` is the fetch's PointStream, the periods it gave."""
    described: list[dict[str, Any]] = []
    total = 0
    for response in responses:
        body = _scrub_body(response.body, secrets)
        sha256 = store_raw_body(session, body, response.content_type, now)
        total += len(body)
        page: dict[str, Any] = {
            "url": scrub(response.url, secrets),
            "status": response.status,
            "bytes": len(body),
            "sha256": sha256,
            "content_type": response.content_type,
            "attempts": response.attempts,
            "elapsed_ms": response.elapsed_ms,
        }
        if response.declared_bytes is not None:
            page["declared_bytes"] = response.declared_bytes
        coverage = points.coverage_of(response) if isinstance(points, PointStream) else None
        if coverage is not None and coverage.rows:
            page["periods"] = coverage.as_dict()
        described.append(page)
    if not described:
        return
    first = described[0]
    run.url = first["url"]
    run.body_sha256 = first["sha256"]
    run.http_status = described[-1]["status"]
    run.bytes = total
    run.attempts = len(described)  # HTTP requests answered (each retry is one)
    run.meta = {**(run.meta or {}), "responses": described}


def _error_text(exc: BaseException, secrets: Sequence[str]) -> tuple[str, str]:
    if isinstance(exc, SourceError):
        kind, message = exc.kind, str(exc)
    else:
        kind, message = "internal", f"{type(exc).__name__}: {exc}"
    message = scrub(message or type(exc).__name__, secrets)
    return kind[:40], message[:MAX_ERROR_CHARS]


def ingest_indicator(
    engine: Engine,
    http: Any,
    indicator_key: str,
    *,
    trigger: str,
    now: dt.datetime | None = None,
    source: Source | None = None,
    known_from: dt.datetime | None = None,
) -> FetchRunSummary:
    """Fetch one indicator and store a new vintage; an edge: commits its own transactions.

    1. a FetchRun (running) is committed on its own, so even a crash leaves a trace;
    2. fetch through the adapter (`source`, default: the registry entry of the indicator's
       source), then stream its points into the upsert — observations, raw bodies, the run's
       completion and the indicator's bookkeeping commit in ONE transaction;
    3. on any failure that transaction is rolled back and the run is recorded as an error
       (with the bodies seen, if any). Only a broken database makes this raise.

    `known_from` (default: the fetch time `now`) is when the new values count as known.
    """
    now = now or utcnow()
    known_from = known_from or now
    started = time.perf_counter()
    secrets = known_secrets(http)

    with session_scope(engine) as session:
        indicator = session.exec(select(Indicator).where(Indicator.key == indicator_key)).first()
        if indicator is None or indicator.id is None:
            raise UnknownIndicatorError(f"unknown indicator {indicator_key!r}")
        indicator_id = indicator.id
        spec = indicator_spec(indicator)
        run = FetchRun(
            indicator_id=indicator_id,
            source=indicator.source,
            trigger=trigger,
            started_at=now,
            status=FetchStatus.running,
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        run_id = run.id

    result: SourceResult | None = None
    received: list[Any] = []
    try:
        adapter = source
        if adapter is None:
            from tracker.sources import get_source

            adapter = get_source(spec.source)
        # one overall deadline for the whole fetch (tracker.sources.http), if the fetcher has one
        deadline = getattr(http, "fetch_deadline", None)
        with deadline() if callable(deadline) else contextlib.nullcontext([]) as seen:
            received = seen  # every response the fetcher got, kept if the fetch then fails
            result = adapter.fetch(http, spec)
            points: Iterable[Point] = result.points
            if iter(points) is points:  # a one-shot stream: kept, as the gates read it first
                points = list(points)
        with session_scope(engine) as session:
            # one ingest of an indicator at a time (PostgreSQL row lock; SQLite serialises writers)
            lock_indicator(session, indicator_id)
            check, settled = _gate(session, indicator_id, run_id, points, result, now)
            held_back = check.quarantine and not check.confirms
            counts = upsert_points(
                session,
                indicator_id,
                points,
                fetch_run_id=run_id,
                known_from=known_from,
                quarantined=held_back,
            )
            if held_back:
                quarantine_vintage(
                    session, indicator_id=indicator_id, fetch_run_id=run_id, check=check, now=now
                )
            duration_ms = int((time.perf_counter() - started) * 1000)
            _complete_run(
                session, run_id, indicator_id, result, counts, secrets, now, duration_ms, points
            )
            _record_gates(session, run_id, check, held_back)
        if held_back:
            log.warning("vintage of %s quarantined: %s", indicator_key, check.reason())
        elif not check.passed:
            log.warning(
                "fetch of %s failed a gate but changed nothing: %s", indicator_key, check.reason()
            )
        return FetchRunSummary(
            indicator_key=indicator_key,
            fetch_run_id=run_id,
            status=FetchStatus.ok,
            rows_new=counts.new,
            rows_revised=counts.revised,
            rows_unchanged=counts.unchanged,
            duration_ms=duration_ms,
            quarantined=held_back,
            quarantine_reason=check.reason() if held_back else None,
            settled=settled,
        )
    except Exception as exc:  # every failure becomes a recorded FetchRun, not a crash
        kind, message = _error_text(exc, secrets)
        log.warning("fetch of %s failed (%s): %s", indicator_key, kind, message)
        responses = list(getattr(exc, "responses", None) or [])
        if not responses and result is not None:
            responses = list(result.responses)
        if not responses:  # e.g. the adapter failed on a body: what arrived is kept
            responses = list(received)
        duration_ms = int((time.perf_counter() - started) * 1000)
        http_status = getattr(exc, "http_status", None)
        with session_scope(engine) as session:
            failed = session.get(FetchRun, run_id)
            assert failed is not None
            _store_responses(session, failed, responses, secrets, now)
            if http_status is not None:
                failed.http_status = http_status
            failed.status = FetchStatus.error
            failed.error_kind = kind
            failed.error = message
            failed.finished_at = now + dt.timedelta(milliseconds=duration_ms)
            failed.duration_ms = duration_ms
            if result is not None and result.meta:
                failed.meta = {**(failed.meta or {}), "source_meta": _json_safe(result.meta)}
            indicator = session.get(Indicator, indicator_id)
            assert indicator is not None
            indicator.last_fetch_run_id = run_id
            indicator.last_error_at = now
        return FetchRunSummary(
            indicator_key=indicator_key,
            fetch_run_id=run_id,
            status=FetchStatus.error,
            error_kind=kind,
            error=message,
            duration_ms=duration_ms,
        )


def _gate(
    session: Session,
    indicator_id: int,
    run_id: int,
    points: Iterable[Point],
    result: SourceResult,
    now: dt.datetime,
) -> tuple[VintageCheck, str | None]:
    """The plausibility gates on the new vintage, against the one in use (before any write);
    then what it does to the vintage quarantined before it, if any (confirm or supersede)."""
    indicator = session.get(Indicator, indicator_id)
    assert indicator is not None
    pending = pending_vintage(session, indicator_id)
    check = check_vintage(
        points,
        gates=gates_of(indicator),
        held=in_use_lookup(session, indicator_id),
        responses=result.responses,
        previous_rows=previous_rows_seen(session, indicator_id),
        pending=pending,
    )
    if check.rows_seen == 0:
        raise EmptyDataError(f"{indicator.source} returned no data points for {indicator.key}")
    if pending is None:
        return check, None
    decision = settle_pending(
        session, indicator_id, pending, check, by_fetch_run_id=run_id, now=now
    )
    return check, f"{decision.action} the quarantined vintage of fetch run {pending.fetch_run_id}"


def _record_gates(session: Session, run_id: int, check: VintageCheck, held_back: bool) -> None:
    """What the plausibility gates found in this run's vintage, on the run (every run: a
    failing gate that changed nothing, or whose vintage confirmed a pending one, is kept too)."""
    run = session.get(FetchRun, run_id)
    assert run is not None
    run.meta = {
        **(run.meta or {}),
        "gates": {
            "passed": check.passed,
            "held_back": held_back,
            "confirmed_pending": check.confirms,
            "findings": [f.to_json() for f in check.findings],
            "findings_total": check.findings_total,
        },
    }


def _complete_run(
    session: Session,
    run_id: int,
    indicator_id: int,
    result: SourceResult,
    counts: Counts,
    secrets: Sequence[str],
    now: dt.datetime,
    duration_ms: int,
    points: Iterable[Point],
) -> None:
    run = session.get(FetchRun, run_id)
    indicator = session.get(Indicator, indicator_id)
    assert run is not None and indicator is not None
    _store_responses(session, run, result.responses, secrets, now, points)
    run.status = FetchStatus.ok
    run.finished_at = now + dt.timedelta(milliseconds=duration_ms)
    run.duration_ms = duration_ms
    run.rows_seen = counts.seen
    run.rows_new = counts.new
    run.rows_revised = counts.revised
    run.rows_unchanged = counts.unchanged
    if result.meta:
        run.meta = {**(run.meta or {}), "source_meta": _json_safe(result.meta)}
    indicator.last_fetch_run_id = run_id
    if run.trigger != "bundled":  # loading the shipped snapshot fetched nothing from upstream
        indicator.last_success_at = now
    next_update = _as_date(result.meta.get("next_update"))
    last_updated = _as_date(result.meta.get("last_updated"))
    if next_update is not None:
        indicator.next_update_expected = next_update
    if last_updated is not None:
        indicator.last_updated_upstream = last_updated
