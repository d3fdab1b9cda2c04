"""Plain factory functions for dashboard tests: claims, indicators, observations, evaluations.

Rows are inserted directly (no pipeline), so each test states exactly what the page must show.
`seed_essay` builds a small essay-like database: a judged AGI claim with a market signal, the
China/US power ratio with a revised vintage and a projection, and a few claims in other states.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_api_support import following_columns

from tracker.models import (
    Claim,
    Claimant,
    ClaimRevision,
    Criterion,
    Evaluation,
    FetchRun,
    Indicator,
    Observation,
    Resolution,
    SourceDocument,
)
from tracker.outlook import refresh_outlooks
from tracker.sources.base import period_start

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
XSS_TITLE = "<script>alert(1)</script>"


def make_claimant(session: Session, slug: str = "elon-musk", name: str = "Elon Musk") -> Claimant:
    row = Claimant(slug=slug, name=name, created_at=NOW)
    session.add(row)
    session.flush()
    return row


def make_claim(
    session: Session,
    claimant: Claimant,
    slug: str,
    *,
    title: str | None = None,
    deadline: dt.date | None = None,
    kind: str = "hard",
    tags: list[str] | None = None,
    criteria: list[dict[str, Any]] | None = None,
    quote_original: str | None = None,
    quote_language: str | None = None,
    quote_en: str | None = None,
    **extra: Any,
) -> Claim:
    claim = Claim(
        slug=slug,
        title=title or slug.replace("-", " "),
        claimant_id=claimant.id,
        deadline=deadline,
        kind=kind,
        tags=tags or [],
        quote_original=quote_original,
        quote_language=quote_language,
        quote_en=quote_en,
        stated_on=dt.date(2026, 1, 6),
        content_hash=hashlib.sha256(slug.encode()).hexdigest(),
        created_at=NOW,
        updated_at=NOW,
        **extra,
    )
    session.add(claim)
    session.flush()
    for spec in criteria or []:
        session.add(
            Criterion(
                claim_id=claim.id,
                key=spec["key"],
                role=spec.get("role", "resolves"),
                kind=spec["type"],
                spec=spec,
                valid_from=NOW,
            )
        )
    session.add(
        ClaimRevision(
            claim_id=claim.id,
            version=1,
            change="created",
            content_hash=claim.content_hash,
            content={"slug": slug},
            created_at=NOW,
        )
    )
    session.flush()
    return claim


def make_indicator(
    session: Session, key: str, *, title: str, unit: str, source: str = "owid", **extra: Any
) -> Indicator:
    row = Indicator(key=key, source=source, title=title, unit=unit, **extra)
    session.add(row)
    session.flush()
    return row


def make_fetch_run(
    session: Session,
    indicator: Indicator,
    *,
    status: str = "ok",
    at: dt.datetime = NOW,
    **extra: Any,
) -> FetchRun:
    run = FetchRun(
        indicator_id=indicator.id,
        source=indicator.source,
        trigger="test",
        started_at=at,
        finished_at=at,
        status=status,
        **extra,
    )
    session.add(run)
    session.flush()
    indicator.last_fetch_run_id = run.id
    if status == "ok":
        indicator.last_success_at = at
    else:
        indicator.last_error_at = at
    session.add(indicator)
    session.flush()
    return run


def make_observation(
    session: Session,
    indicator: Indicator,
    period: str,
    value: float,
    *,
    known_from: dt.datetime = NOW - dt.timedelta(days=30),
    known_until: dt.datetime | None = None,
    run: FetchRun | None = None,
) -> Observation:
    row = Observation(
        indicator_id=indicator.id,
        period=period,
        period_start=period_start(period),
        value=value,
        known_from=known_from,
        known_until=known_until,
        fetch_run_id=run.id if run else None,
    )
    session.add(row)
    session.flush()
    return row


def make_evaluation(
    session: Session,
    claim: Claim,
    state: str,
    reason: str,
    *,
    at: dt.datetime = NOW,
    trend: str | None = None,
    **values: Any,
) -> Evaluation:
    ev = Evaluation(
        claim_id=claim.id,
        claim_version=claim.version,
        evaluated_at=at,
        as_of=at,
        state=state,
        trend=trend,
        reason=reason,
        fingerprint=hashlib.sha256(f"{claim.slug}{state}{at}".encode()).hexdigest(),
        evaluator_version="test",
        **following_columns(session, claim.id or 0, at, state, trend),
        **values,
    )
    session.add(ev)
    session.flush()
    claim.status_state = state
    claim.status_trend = trend
    claim.status_evaluation_id = ev.id
    claim.status_changed_at = at
    session.add(claim)
    session.flush()
    refresh_outlooks(session, [claim.id or 0])  # as tracker.status stores it
    return ev


def make_resolution(
    session: Session, claim: Claim, outcome: str, *, method: str = "auto", **extra: Any
) -> Resolution:
    row = Resolution(
        claim_id=claim.id,
        claim_version=claim.version,
        outcome=outcome,
        method=method,
        decided_at=extra.pop("decided_at", NOW),
        **extra,
    )
    session.add(row)
    session.flush()
    return row


def seed_essay(session: Session) -> dict[str, Any]:
    """The essay-like demo database; returns the main rows by name. Flushes, does not commit."""
    musk = make_claimant(session)
    essay = SourceDocument(
        slug="essay",
        title="イーロン・マスクが語る未来 (essay)",
        url="https://example.org/essay",
        language="ja",
        archived_sha256="ab" * 32,
    )
    session.add(essay)
    session.flush()

    china = make_indicator(
        session,
        "owid.electricity_generation.china",
        title="China electricity generation",
        unit="TWh",
    )
    usa = make_indicator(
        session,
        "owid.electricity_generation.usa",
        title="United States electricity generation",
        unit="TWh",
    )
    market = make_indicator(
        session,
        "manifold.agi-2026",
        title="Manifold: AGI in 2026?",
        unit="probability",
        source="manifold",
        frequency="point",
        refresh="every 6h",
    )
    broken = make_indicator(
        session, "fred.copper", title="Copper price (FRED)", unit="USD/t", source="fred"
    )
    first_run = make_fetch_run(
        session,
        china,
        at=NOW - dt.timedelta(days=60),
        url="https://ourworldindata.org/grapher/electricity-generation.csv",
        body_sha256="1" * 64,
    )
    run = make_fetch_run(
        session,
        china,
        at=NOW - dt.timedelta(hours=5),
        url="https://ourworldindata.org/grapher/electricity-generation.csv",
        body_sha256="c0ffee" + "0" * 58,
    )
    usa.last_fetch_run_id = run.id
    usa.last_success_at = run.started_at
    session.add(usa)
    china_values = {"2020": 7779.0, "2021": 8534.0, "2022": 8849.0, "2023": 9456.0, "2024": 10087.0}
    usa_values = {"2020": 4260.0, "2021": 4380.0, "2022": 4547.0, "2023": 4465.0, "2024": 4390.0}
    for period, value in china_values.items():
        make_observation(session, china, period, value, run=run)
        make_observation(session, usa, period, usa_values[period], run=run)
    # 2025: first published as 10,400 TWh, then revised to 10,583 (the faded point on the chart)
    make_observation(
        session,
        china,
        "2025",
        10400.0,
        known_from=NOW - dt.timedelta(days=60),
        known_until=NOW - dt.timedelta(hours=5),
        run=first_run,
    )
    make_observation(
        session, china, "2025", 10583.0, known_from=NOW - dt.timedelta(hours=5), run=run
    )
    make_observation(
        session, usa, "2025", 4520.0, known_from=NOW - dt.timedelta(days=60), run=first_run
    )
    market_run = make_fetch_run(session, market, at=NOW - dt.timedelta(hours=2))
    make_observation(
        session, market, "2026-11-01", 0.08, run=market_run, known_from=NOW - dt.timedelta(days=27)
    )
    make_observation(
        session, market, "2026-11-27", 0.06, run=market_run, known_from=NOW - dt.timedelta(hours=2)
    )
    make_fetch_run(
        session,
        broken,
        status="error",
        at=NOW - dt.timedelta(hours=1),
        error_kind="http",
        error="HTTP 503 from upstream",
        http_status=503,
    )

    power = make_claim(
        session,
        musk,
        "china-power-3x-us-2030",
        title="China's electricity production 3x the US's by 2030",
        deadline=dt.date(2030, 12, 31),
        tags=["energy", "china"],
        quote_original="2030年には中国の電力生産量が米国の3倍になる",
        quote_language="ja",
        quote_en="By 2030 China's electricity production will be three times that of the US.",
        source_document_id=essay.id,
        operationalised_by="tracker",
        criteria=[
            {
                "key": "ratio-2030",
                "type": "threshold",
                "series": {
                    "ratio": [
                        {"indicator": "owid.electricity_generation.china"},
                        {"indicator": "owid.electricity_generation.usa"},
                    ]
                },
                "period": "2030",
                "comparator": ">=",
                "threshold": 3.0,
            }
        ],
    )
    make_evaluation(
        session,
        power,
        "open",
        "Ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030.",
        at=NOW - dt.timedelta(days=60),
        trend="on_track",
        metric_value=2.30,
        metric_unit="1",
        metric_period="2024",
        threshold=3.0,
        comparator=">=",
    )
    make_evaluation(
        session,
        power,
        "open",
        "Ratio 2.34 in 2025; needs +5.08 %/yr to reach 3.0 by 2030; projected 2.9 (2.7–3.1).",
        at=NOW - dt.timedelta(hours=5),
        trend="off_track",
        metric_value=2.34,
        metric_unit="1",
        metric_period="2025",
        threshold=3.0,
        comparator=">=",
        projection_value=2.9,
        projection_low=2.7,
        projection_high=3.1,
        projection_at="2030",
        projection_model="log_linear",
        required_growth=0.0508,
        observed_growth=0.035,
        evidence={"fetch_runs": [run.id]},
    )

    agi = make_claim(
        session,
        musk,
        "agi-2026",
        title="AGI arrives in 2026",
        deadline=dt.date(2026, 12, 31),
        kind="judged",
        tags=["ai"],
        quote_original="AGIは2026年に到来する",
        quote_language="ja",
        quote_en="AGI will arrive in 2026.",
        source_document_id=essay.id,
        criteria=[
            {
                "key": "agi-verdict",
                "type": "judged",
                "rubric": "Do experts broadly agree an AI system matches humans at most tasks?",
            },
            {
                "key": "market",
                "type": "signal",
                "role": "context",
                "series": {"indicator": "manifold.agi-2026"},
            },
        ],
    )
    make_evaluation(
        session,
        agi,
        "open",
        "Judged at the deadline (2026-12-31); a reviewer decides.",
        trend="not_applicable",
    )

    review = make_claim(
        session,
        musk,
        "colossus2-grid-wait-one-year",
        title="Colossus 2 waited a year for the grid",
        deadline=dt.date(2026, 6, 30),
        kind="judged",
        criteria=[
            {"key": "fact", "type": "judged", "rubric": "Did connecting Colossus 2 take a year?"}
        ],
    )
    make_evaluation(session, review, "needs_review", "Deadline passed; a reviewer decides.")

    author = make_claimant(session, "essay-author", "The essay's author")
    awaiting = make_claim(
        session,
        author,
        "medical-boom-2025",
        title="Medical approvals boom in 2025",
        deadline=dt.date(2025, 12, 31),
        tags=["health"],
    )
    make_evaluation(
        session,
        awaiting,
        "awaiting_data",
        "2025 data is expected in early 2026.",
        data_expected_on=dt.date(2027, 2, 1),
    )

    resolved = make_claim(
        session,
        author,
        "old-claim-resolved",
        title="An old claim, resolved automatically",
        deadline=dt.date(2024, 12, 31),
        tags=["energy"],
    )
    make_evaluation(session, resolved, "resolved_true", "Threshold met in 2024.")
    make_resolution(
        session,
        resolved,
        "true",
        decided_by="tracker",
        rationale="The 2024 value met the threshold.",
        decided_at=NOW - dt.timedelta(days=200),
        provisional=False,
    )

    xss = make_claim(
        session,
        author,
        "xss-probe",
        title=XSS_TITLE,
        deadline=dt.date(2027, 3, 1),
        quote_en="<img src=x onerror=alert(2)>",
    )
    make_evaluation(session, xss, "open", "<b>not bold</b>", trend="insufficient_data")
    return {
        "power": power,
        "agi": agi,
        "review": review,
        "awaiting": awaiting,
        "resolved": resolved,
        "xss": xss,
        "run": run,
        "musk": musk,
    }


# --- the reviewer-session tests: a claim awaiting a verdict, an app on a fixed clock ---

REVIEW_SLUG = "colossus2-grid-wait-one-year"  # needs review: its deadline has passed


def clocked_app(settings: Any, engine: Engine, clock: dt.datetime = NOW) -> Any:
    """The app on `engine`, its clock fixed at `clock`."""
    from tracker.web.app import create_app

    app = create_app(settings, engine=engine)
    app.state.clock = lambda: clock
    return app


def verdicts_on(engine: Engine, slug: str = REVIEW_SLUG) -> list[Resolution]:
    """Every verdict recorded on the claim `slug`, oldest first."""
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(col(Claim.slug) == slug)).one()
        rows = session.exec(
            select(Resolution)
            .where(col(Resolution.claim_id) == claim.id)
            .order_by(col(Resolution.id))
        )
        return list(rows.all())
