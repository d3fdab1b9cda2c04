"""Plain factory functions for the API and query tests (no tests here).

They insert rows the way the claims/evaluation stages would, so the read side can be tested on
its own; write-side tests go through the real endpoints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlmodel import Session, col, select

from tracker.models import (
    Claim,
    Claimant,
    ClaimRevision,
    Criterion,
    Evaluation,
    Resolution,
    SourceDocument,
)
from tracker.outlook import refresh_outlooks
from tracker.status import status_change_columns

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


def make_claimant(session: Session, slug: str = "elon-musk", name: str = "Elon Musk") -> Claimant:
    existing = session.exec(select(Claimant).where(col(Claimant.slug) == slug)).first()
    if existing is not None:
        return existing
    claimant = Claimant(slug=slug, name=name, kind="person")
    session.add(claimant)
    session.flush()
    return claimant


def make_claim(
    session: Session,
    slug: str = "china-power-3x-us-2030",
    *,
    title: str | None = None,
    claimant: str = "elon-musk",
    deadline: dt.date | None = dt.date(2030, 12, 31),
    kind: str = "hard",
    tags: list[str] | None = None,
    lifecycle: str = "active",
    probability: float | None = None,
    criteria: list[dict[str, Any]] | None = None,
    state: str | None = None,
    trend: str | None = None,
    updated_at: dt.datetime = T0,
) -> Claim:
    person = make_claimant(session, claimant, claimant.replace("-", " ").title())
    source = session.exec(
        select(SourceDocument).where(col(SourceDocument.slug) == "moonshots-220")
    ).first()
    if source is None:
        source = SourceDocument(slug="moonshots-220", title="Moonshots podcast #220", language="en")
        session.add(source)
        session.flush()
    spec = {"slug": slug, "title": title or slug.replace("-", " "), "criteria": criteria or []}
    claim = Claim(
        slug=slug,
        title=title or slug.replace("-", " "),
        quote_original="2030年には中国の電力生産量が米国の3倍になる",
        quote_language="ja",
        quote_en="By 2030 China's electricity production will be 3x the US's",
        claimant_id=person.id or 0,
        source_document_id=source.id,
        stated_on=dt.date(2026, 1, 6),
        deadline=deadline,
        deadline_interpretation="during 2030",
        kind=kind,
        tags=tags or [],
        lifecycle=lifecycle,
        probability=probability,
        spec=spec,
        content_hash=hashlib.sha256(slug.encode()).hexdigest(),
        status_state=state,
        status_trend=trend,
        created_at=updated_at,
        updated_at=updated_at,
    )
    session.add(claim)
    session.flush()
    session.add(
        ClaimRevision(
            claim_id=claim.id or 0,
            version=1,
            change="created",
            content_hash=claim.content_hash,
            content=spec,
            created_at=updated_at,
        )
    )
    for item in criteria or []:
        session.add(
            Criterion(
                claim_id=claim.id or 0,
                key=item["key"],
                role=item.get("role", "resolves"),
                kind=item["type"],
                spec=item,
                valid_from=updated_at,
            )
        )
    session.flush()
    return claim


def following_columns(
    session: Session, claim_id: int, at: dt.datetime, state: str, trend: str | None
) -> dict[str, Any]:
    """The status-change columns of an evaluation of the claim appended at `at`: it follows the
    claim's latest one, as in the service, which appends in time order (and so must a test)."""
    latest = session.exec(
        select(Evaluation)
        .where(col(Evaluation.claim_id) == claim_id)
        .order_by(col(Evaluation.evaluated_at).desc(), col(Evaluation.id).desc())
    ).first()
    if latest is not None and latest.evaluated_at > at:
        raise ValueError(f"evaluation at {at} appended after one at {latest.evaluated_at}")
    previous = None if latest is None else (latest.state, latest.trend)
    return status_change_columns(previous, state, trend)


def make_evaluation(
    session: Session,
    claim: Claim,
    *,
    state: str = "open",
    trend: str | None = "on_track",
    at: dt.datetime = T0,
    metric_value: float | None = 2.34,
    metric_period: str | None = "2025",
    projection_value: float | None = 2.9,
    reason: str = "ratio 2.34 in 2025; projected 2.9 in 2030",
    current: bool = True,
) -> Evaluation:
    evaluation = Evaluation(
        claim_id=claim.id or 0,
        claim_version=claim.version,
        evaluated_at=at,
        as_of=at,
        state=state,
        trend=trend,
        reason=reason,
        metric_value=metric_value,
        metric_unit="1",
        metric_period=metric_period,
        threshold=3.0,
        comparator=">=",
        projection_value=projection_value,
        projection_low=None if projection_value is None else projection_value - 0.2,
        projection_high=None if projection_value is None else projection_value + 0.2,
        projection_at="2030" if projection_value is not None else None,
        projection_model="log_linear",
        data_expected_on=dt.date(2031, 6, 30),
        fingerprint=hashlib.sha256(
            f"{claim.slug}{state}{trend}{metric_value}".encode()
        ).hexdigest(),
        evaluator_version="test",
        **following_columns(session, claim.id or 0, at, state, trend),
    )
    session.add(evaluation)
    session.flush()
    if current:
        claim.status_state = state
        claim.status_trend = trend
        claim.status_evaluation_id = evaluation.id
        claim.status_changed_at = at
        claim.updated_at = max(claim.updated_at, at)
        session.add(claim)
        session.flush()
        refresh_outlooks(session, [claim.id or 0])  # as tracker.status stores it
    return evaluation


def make_resolution(
    session: Session,
    claim: Claim,
    outcome: str,
    *,
    decided_at: dt.datetime,
    method: str = "manual",
    supersedes: Resolution | None = None,
) -> Resolution:
    resolution = Resolution(
        claim_id=claim.id or 0,
        claim_version=claim.version,
        outcome=outcome,
        method=method,
        decided_by="tester",
        decided_at=decided_at,
        rationale="test verdict",
        evidence=["https://example.org/evidence"],
        supersedes_id=supersedes.id if supersedes else None,
    )
    session.add(resolution)
    session.flush()
    if supersedes is not None:
        supersedes.superseded_by_id = resolution.id
        session.add(supersedes)
        session.flush()
    return resolution
