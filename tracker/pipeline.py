"""The one place the data flow is wired: refresh an indicator (ingest), then re-evaluate the
claims that read it. Each step is its own transaction; a failure in one never undoes another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.db import session_scope
from tracker.ingest import FetchRunSummary, ingest_indicator
from tracker.models import Indicator
from tracker.status import evaluate_claims

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    """A fetch and what followed it."""

    fetch: FetchRunSummary
    evaluated: int | None = None  # claims re-evaluated; None when the fetch or evaluation failed
    evaluation_error: str | None = None


@contextlib.contextmanager
def http_fetcher(settings: Settings) -> Iterator[Any]:
    """The shared HTTP client wrapped in the fetcher every adapter uses; closed on exit."""
    from tracker.sources.http import HttpFetcher, make_http_client

    client = make_http_client(settings)
    try:
        yield HttpFetcher(client, settings)
    finally:
        client.close()


def fetchable_indicators(
    engine: Engine, *, keys: Sequence[str] | None = None, source: str | None = None
) -> list[Indicator]:
    """Catalogue rows whose source has an adapter (optionally filtered), ordered by key."""
    from tracker.sources import REGISTRY

    with Session(engine, expire_on_commit=False) as session:
        stmt = select(Indicator).order_by(Indicator.key)  # type: ignore[arg-type]
        if keys:
            stmt = stmt.where(Indicator.key.in_(list(keys)))  # type: ignore[attr-defined]
        if source:
            stmt = stmt.where(Indicator.source == source)
        return [row for row in session.exec(stmt).all() if row.source in REGISTRY]


def evaluate(
    engine: Engine, *, now: dt.datetime, indicator_ids: Sequence[int] | None = None
) -> int:
    """Re-evaluate the claims reading `indicator_ids` (all claims if None) in one transaction.

    Returns the number of claims evaluated.
    """
    with session_scope(engine) as session:
        results = evaluate_claims(session, now=now, indicator_ids=indicator_ids)
    return len(results)


def refresh_indicator(
    engine: Engine, http: Any, key: str, *, trigger: str, now: dt.datetime | None = None
) -> RefreshResult:
    """Fetch `key` now; after a successful fetch, re-evaluate the claims that read it.

    Never raises for a failed fetch (it is a FetchRun with status error) nor for a failed
    evaluation (reported in `evaluation_error`).
    """
    now = now or utcnow()
    summary = ingest_indicator(engine, http, key, trigger=trigger, now=now)
    if not summary.ok:
        return RefreshResult(fetch=summary)
    with Session(engine) as session:
        indicator_id = session.exec(select(Indicator.id).where(Indicator.key == key)).one()
    assert indicator_id is not None
    try:
        evaluated = evaluate(engine, now=now, indicator_ids=[indicator_id])
    except Exception as exc:  # the data is stored; the evaluation error is reported, not raised
        log.exception("evaluation after fetching %s failed", key)
        return RefreshResult(fetch=summary, evaluation_error=f"{type(exc).__name__}: {exc}")
    return RefreshResult(fetch=summary, evaluated=evaluated)
