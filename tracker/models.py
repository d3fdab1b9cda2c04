"""The data model: every table, with history built in.

Append-only tables (never UPDATEd except for the write-once closing columns named below):
ClaimRevision, IndicatorRevision, Criterion (closed by `valid_until`), Observation (closed by
`known_until`), FetchRun (finished once), RawBody, Evaluation, Resolution (closed by
`superseded_by_id`), QuarantineDecision.
Claim carries a copy of its current status for cheap reads; the truth is in Evaluation.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from tracker.clock import utcnow

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; tracker stores timezone-aware UTC only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def ts_column(*, nullable: bool = False, index: bool = False) -> Any:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def json_column(*, nullable: bool = False) -> Any:
    return sa.Column(sa.JSON(), nullable=nullable)


# --- enumerations (stored as plain strings so adding a value needs no migration) ---


class DatePrecision(StrEnum):
    day = "day"
    month = "month"
    year = "year"


class ClaimKind(StrEnum):
    hard = "hard"
    judged = "judged"


class Lifecycle(StrEnum):
    draft = "draft"
    active = "active"
    withdrawn = "withdrawn"


class Origin(StrEnum):
    file = "file"
    api = "api"


class State(StrEnum):
    upcoming = "upcoming"
    open = "open"
    awaiting_data = "awaiting_data"
    needs_review = "needs_review"
    resolved_true = "resolved_true"
    resolved_false = "resolved_false"
    resolved_partial = "resolved_partial"
    void = "void"
    ambiguous = "ambiguous"
    withdrawn = "withdrawn"
    error = "error"


class Trend(StrEnum):
    on_track = "on_track"
    off_track = "off_track"
    insufficient_data = "insufficient_data"
    not_applicable = "not_applicable"


class Outcome(StrEnum):
    true = "true"
    false = "false"
    partial = "partial"
    void = "void"
    ambiguous = "ambiguous"


class ResolutionMethod(StrEnum):
    auto = "auto"
    manual = "manual"


class ChangeKind(StrEnum):
    """What an appended Evaluation did to the claim's status (None: neither state nor trend
    moved, e.g. only the metric did: history, not a status change)."""

    first = "first"  # the claim's first evaluation: a state from nothing
    moved = "moved"  # the state or the trend differs from the evaluation it follows


class FetchStatus(StrEnum):
    running = "running"
    ok = "ok"
    error = "error"
    # a run whose process died (or froze) before it ended: closed by the next scheduler
    # lease holder (tracker.scheduler.close_abandoned); JobRun uses the same word
    abandoned = "abandoned"


class QuarantineAction(StrEnum):
    """What a QuarantineDecision did to a quarantined vintage (a fetch run whose status is ok
    but whose values failed a plausibility gate, tracker.plausibility)."""

    quarantined = "quarantined"  # held back at ingest: a gate failed
    confirmed = "confirmed"  # a later fetch brought the same values again: now used
    accepted = "accepted"  # a reviewer accepted it: now used
    rejected = "rejected"  # a reviewer rejected it: never used
    superseded = "superseded"  # a later fetch brought other values: never used


# --- who said it, and where ---


class Claimant(SQLModel, table=True):
    """A person or organisation that makes or reports claims."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True, index=True)
    name: str = Field(max_length=300)
    kind: str = Field(default="person", max_length=20)  # person | organisation
    description: str | None = None
    url: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SourceDocument(SQLModel, table=True):
    """Where a claim was stated or reported."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True, index=True)
    title: str = Field(max_length=500)
    url: str | None = None
    language: str | None = Field(default=None, max_length=20)
    published_on: dt.date | None = None
    published_precision: str | None = Field(default=None, max_length=10)
    archived_sha256: str | None = Field(default=None, max_length=64)
    note: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


# --- claims and their checks ---


# the deadline an undated claim sorts by (9999-12-31), as SQL text both databases read as a date
DEADLINE_KEY_DEFAULT = "'9999-12-31'"

# An active claim not yet resolved, awaiting data or in review (the overview's "upcoming"
# queue; tracker.queries._due_between): written once as SQL text, because a partial index
# (ix_claim_upcoming) serves a query only when the query repeats its condition word for word
UPCOMING_PREDICATE = (
    "lifecycle = 'active' AND (status_state IS NULL OR status_state NOT IN ("
    "'resolved_true', 'resolved_false', 'resolved_partial', 'void', 'ambiguous', "
    "'awaiting_data', 'needs_review'))"
)


class Claim(SQLModel, table=True):
    """A dated prediction. `spec` holds the whole normalised claim document of `version`."""

    __table_args__ = (
        # the deadline ranges; the deadline alone (migration 0012): an index holding a status
        # column is rewritten for every claim whose status an evaluation sets
        sa.Index("ix_claim_deadline", "deadline"),
        sa.Index("ix_claim_lifecycle_state", "lifecycle", "status_state"),
        # the claim lists' deadline order (undated last; tracker.queries._deadline_key) and the
        # first day on record: read from an index, not by sorting or scanning every claim
        sa.Index(
            "ix_claim_deadline_key",
            sa.text(f"coalesce(deadline, {DEADLINE_KEY_DEFAULT})"),
            "id",
        ),
        sa.Index("ix_claim_created_at", "created_at"),
        # the overview (tracker.queries.deadline_queues, overview_tally): each queue's first
        # claims read in order from an index, and its counts from one index-only aggregate,
        # instead of sorting or joining every claim
        sa.Index(
            "ix_claim_queue",
            "lifecycle",
            "status_state",
            sa.text(f"coalesce(deadline, {DEADLINE_KEY_DEFAULT})"),
            "id",
        ),
        sa.Index(
            "ix_claim_tally", "lifecycle", "status_state", "status_outlook", "status_review_reason"
        ),
        sa.Index(
            "ix_claim_upcoming",
            "deadline",
            "id",
            sqlite_where=sa.text(UPCOMING_PREDICATE),
            postgresql_where=sa.text(UPCOMING_PREDICATE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True, index=True)
    title: str = Field(max_length=500)
    quote_original: str | None = None
    quote_language: str | None = Field(default=None, max_length=20)
    quote_en: str | None = None
    claimant_id: int = Field(foreign_key="claimant.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="claimant.id")
    source_document_id: int | None = Field(default=None, foreign_key="sourcedocument.id")
    stated_on: dt.date | None = None
    stated_precision: str = Field(default=DatePrecision.day, max_length=10)
    stated_note: str | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    deadline: dt.date | None = Field(default=None)
    deadline_interpretation: str | None = None
    deadline_alternative: str | None = None
    kind: str = Field(default=ClaimKind.hard, max_length=10)
    tags: list[str] = Field(default_factory=list, sa_column=json_column())
    lifecycle: str = Field(default=Lifecycle.active, max_length=10)
    origin: str = Field(default=Origin.file, max_length=10)
    origin_path: str | None = None
    operationalised_by: str | None = Field(default=None, max_length=120)
    # the slug of the claim this one is another reading of (indexed: its page lists variants)
    variant_of: str | None = Field(default=None, max_length=120, index=True)
    probability: float | None = None  # stated probability, for Brier scores
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    content_hash: str = Field(max_length=64)
    version: int = Field(default=1)
    criteria_version: int = Field(default=1)
    # current status, copied from the latest Evaluation for cheap reads
    status_state: str | None = Field(default=None, max_length=20, index=True)
    status_trend: str | None = Field(default=None, max_length=20)
    status_evaluation_id: int | None = Field(default=None)
    status_changed_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    # what a reader asks of the status (tracker.outlook.Outlook; '' none), stored with it so
    # the overview counts it from ix_claim_tally; NULL until evaluated (no data yet)
    status_outlook: str | None = Field(default=None, max_length=20)
    # the status evaluation's review_reason (e.g. data_overdue), stored with the outlook so
    # the overview counts overdue claims without joining every claim to its evaluation
    status_review_reason: str | None = Field(default=None, max_length=20)
    # the last run that evaluated this claim, whether or not it appended an Evaluation (an
    # unchanged result appends nothing): when, on which inputs (tracker.status inputs key), up
    # to which observation row, and until when its answer holds. The sweep skips the claim
    # while these still match; NULL until a run evaluates it
    status_checked_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    status_inputs_key: str | None = Field(default=None, max_length=64)
    status_data_watermark: int | None = None
    status_stable_until: dt.date | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ClaimRevision(SQLModel, table=True):
    """Append-only: one row per change of a claim (creation, edit, withdrawal)."""

    __table_args__ = (sa.UniqueConstraint("claim_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    version: int
    change: str = Field(max_length=20)  # created | updated | withdrawn | reactivated
    note: str | None = None  # why (required when criteria of an active claim change)
    diff: str | None = None  # readable unified diff against the previous version
    criteria_changed: bool = False
    content_hash: str = Field(max_length=64)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    origin: str = Field(default=Origin.file, max_length=10)
    author: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Criterion(SQLModel, table=True):
    """A versioned check of a claim. Closed (valid_until set) when a revision replaces it."""

    __table_args__ = (sa.UniqueConstraint("claim_id", "key", "criteria_version"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    key: str = Field(max_length=120)
    role: str = Field(default="resolves", max_length=20)  # resolves | context
    kind: str = Field(max_length=40)  # the criterion type of tracker.criteria
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    criteria_version: int = Field(default=1)
    valid_from: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    valid_until: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


# --- indicators and their data ---


class Indicator(SQLModel, table=True):
    """One time series from one source (from the indicator catalogue)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True, index=True)
    source: str = Field(max_length=40, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    title: str | None = None
    unit: str = Field(max_length=40)
    frequency: str = Field(default="annual", max_length=20)  # annual | monthly | daily | point
    publication_lag_days: int = 0
    revision_window_days: int = 0
    refresh: str = Field(default="daily", max_length=60)  # e.g. "daily", "weekly", "every 6h"
    next_update_expected: dt.date | None = None  # e.g. OWID's nextUpdate
    last_updated_upstream: dt.date | None = None  # e.g. OWID's lastUpdated
    last_fetch_run_id: int | None = None
    last_success_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_error_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # file: from indicators.yaml (a sync updates it, and removes it once unlisted); api: declared
    # over the API or the dashboard form (a sync leaves it alone until a file lists it)
    origin: str = Field(
        default=Origin.file, max_length=10, sa_column_kwargs={"server_default": "file"}
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class IndicatorRevision(SQLModel, table=True):
    """Append-only: one row per declaration of an indicator over the API (its catalogue entry
    as declared, who declared it and when), as ClaimRevision is for claims."""

    __table_args__ = (sa.UniqueConstraint("indicator_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    version: int
    change: str = Field(max_length=20)  # created
    content: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    origin: str = Field(default=Origin.api, max_length=10)
    author: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class RawBody(SQLModel, table=True):
    """A fetched response body, content-addressed (sha256) and stored once."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    content_type: str | None = Field(default=None, max_length=200)
    compression: str = Field(default="gzip", max_length=10)
    content: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    first_seen_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())


class FetchRun(SQLModel, table=True):
    """Provenance of one fetch of one indicator (or one bundled-snapshot load)."""

    __table_args__ = (sa.Index("ix_fetchrun_indicator_started", "indicator_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int | None = Field(default=None, foreign_key="indicator.id")
    source: str = Field(max_length=40)
    trigger: str = Field(default="manual", max_length=20)  # scheduler | cli | bundled | api | test
    url: str | None = None  # secrets removed
    started_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column(index=True))
    finished_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    duration_ms: int | None = None
    status: str = Field(default=FetchStatus.running, max_length=10)
    http_status: int | None = None
    attempts: int = 0
    bytes: int | None = None
    body_sha256: str | None = Field(default=None, max_length=64)
    rows_seen: int = 0
    rows_new: int = 0
    rows_revised: int = 0
    rows_unchanged: int = 0
    error_kind: str | None = Field(default=None, max_length=40)
    error: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # an ok run whose vintage failed a plausibility gate: its values were stored quarantined
    # (the gates that failed: meta["quarantine"]; what happened next: QuarantineDecision)
    quarantined: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false()),
    )


class Observation(SQLModel, table=True):
    """Bitemporal value: `period` of an indicator as known from `known_from` until `known_until`.

    A revision closes the current row (sets known_until) and inserts a new one. A `quarantined`
    row is a value of a vintage that failed a plausibility gate: it is kept (append-only) but
    read by nothing that evaluates, and it does not close the row it would have revised. It is
    closed when its vintage is decided (QuarantineDecision); an accepted or confirmed vintage is
    then inserted again as ordinary rows known from the decision, so a replay before the
    decision never sees it.
    """

    __table_args__ = (
        # at most one current row per (indicator, period) and one pending quarantined one;
        # also the "latest observation in use" path (quarantined before period: one seek)
        sa.Index(
            "uq_observation_current",
            "indicator_id",
            "quarantined",
            "period",
            unique=True,
            sqlite_where=sa.text("known_until IS NULL"),
            postgresql_where=sa.text("known_until IS NULL"),
        ),
        sa.Index("ix_observation_asof", "indicator_id", "period", "known_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id")
    period: str = Field(max_length=20)  # "2025", "2025-03", "2025-03-01"
    period_start: dt.date
    value: float | None = None
    known_from: dt.datetime = Field(sa_column=ts_column())
    known_until: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    fetch_run_id: int | None = Field(default=None, foreign_key="fetchrun.id", index=True)
    quarantined: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false()),
    )


class QuarantineDecision(SQLModel, table=True):
    """Append-only: what happened to a quarantined vintage (the fetch run that brought it).

    One `quarantined` row when ingest holds the vintage back (the gates that failed are in
    `details`), then at most one deciding row: confirmed (by the later fetch `by_fetch_run_id`),
    accepted or rejected (by the reviewer `decided_by`, with `reason`), or superseded.
    """

    __table_args__ = (sa.Index("ix_quarantinedecision_run", "fetch_run_id", "decided_at"),)

    id: int | None = Field(default=None, primary_key=True)
    fetch_run_id: int = Field(foreign_key="fetchrun.id")
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    action: str = Field(max_length=12)  # QuarantineAction
    decided_at: dt.datetime = Field(sa_column=ts_column())
    decided_by: str | None = Field(default=None, max_length=200)
    reason: str
    by_fetch_run_id: int | None = Field(default=None, foreign_key="fetchrun.id")
    details: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())


# --- status over time ---


class Evaluation(SQLModel, table=True):
    """Append-only status history: one row per evaluation that changed anything.

    `previous_state`/`previous_trend` are those of the evaluation this one follows for the
    claim (the claim's status when it was appended; None for its first) and `status_change`
    says whether it changed the status (ChangeKind; None: it did not), all written with the
    row, so "recent status changes" read `ix_evaluation_change_at` newest first and stop.
    """

    __table_args__ = (
        sa.Index("ix_evaluation_claim_at", "claim_id", "evaluated_at"),
        sa.Index("ix_evaluation_change_at", "status_change", "evaluated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id")
    claim_version: int
    evaluated_at: dt.datetime = Field(sa_column=ts_column())
    as_of: dt.datetime = Field(sa_column=ts_column())
    state: str = Field(max_length=20)
    trend: str | None = Field(default=None, max_length=20)
    previous_state: str | None = Field(default=None, max_length=20)
    previous_trend: str | None = Field(default=None, max_length=20)
    status_change: str | None = Field(default=None, max_length=8)
    reason: str
    metric_value: float | None = None
    metric_unit: str | None = Field(default=None, max_length=40)
    metric_period: str | None = Field(default=None, max_length=20)
    threshold: float | None = None
    comparator: str | None = Field(default=None, max_length=4)
    margin: float | None = None
    progress: float | None = None
    projection_value: float | None = None
    projection_low: float | None = None
    projection_high: float | None = None
    projection_at: str | None = Field(default=None, max_length=20)
    projection_model: str | None = Field(default=None, max_length=40)
    required_growth: float | None = None
    observed_growth: float | None = None
    data_expected_on: dt.date | None = None
    # the chance the claim comes true (1 or 0 once resolved; NULL without a projection)
    probability: float | None = None
    fingerprint: str = Field(max_length=64)  # hash of everything but the timestamps
    details: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    evaluator_version: str = Field(max_length=20)
    # why a person is asked ("data_overdue"), and since when the data was due (nullable)
    review_reason: str | None = Field(default=None, max_length=20)
    overdue_since: dt.date | None = None


class ClaimChange(SQLModel, table=True):
    """PostgreSQL only: the id of each transaction that wrote to `claim`, one row each, written
    by a statement trigger (migration 0011) and committed with the write. The overview's counts
    (tracker.overview_counts) are reused until a transaction listed here becomes visible that
    their snapshot did not see. Unused on SQLite (PRAGMA data_version says the same there)."""

    __tablename__ = "claim_change"

    xid: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))


class WaitExtension(SQLModel, table=True):
    """Append-only: a reviewer's "wait longer" for a claim whose data is overdue.

    The latest row recorded (`recorded_at`) at the time evaluated holds the claim's data-overdue
    review off until `wait_until` has passed; a replay as of an earlier time ignores later rows.
    """

    __table_args__ = (sa.Index("ix_waitextension_claim_at", "claim_id", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id")
    wait_until: dt.date
    reason: str
    decided_by: str = Field(max_length=200)
    recorded_at: dt.datetime = Field(sa_column=ts_column())
    overdue_since: dt.date | None = None  # what was overdue when the wait was extended


class Resolution(SQLModel, table=True):
    """Append-only verdicts. A newer one names the one it supersedes; the old one is kept."""

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    claim_version: int
    outcome: str = Field(max_length=12)
    method: str = Field(max_length=10)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    rationale: str | None = None
    evidence: list[str] = Field(default_factory=list, sa_column=json_column())
    provisional: bool = True
    final_after: dt.date | None = None
    evaluation_id: int | None = Field(default=None, foreign_key="evaluation.id")
    supersedes_id: int | None = Field(default=None, foreign_key="resolution.id")
    superseded_by_id: int | None = Field(default=None)  # write-once pointer to the newer verdict


# --- access and coordination ---


class ApiToken(SQLModel, table=True):
    """A bearer token. Only a hash of the secret is stored; `prefix` finds the row."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, index=True)
    prefix: str = Field(max_length=16, unique=True)
    secret_hash: str = Field(max_length=128)
    scopes: list[str] = Field(default_factory=list, sa_column=json_column())
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    last_used_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class ServerSecret(SQLModel, table=True):
    """A random key the server makes on first use and every process on this database shares
    (the dashboard's session key). Never logged or served."""

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_column=ts_column())


class SchedulerLease(SQLModel, table=True):
    """Which process runs the scheduler: the lease row, taken over once expired (see
    tracker.scheduler.Lease); `epoch` fences every write of a holder whose lease has ended."""

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=200)
    acquired_at: dt.datetime = Field(sa_column=ts_column())
    heartbeat_at: dt.datetime = Field(sa_column=ts_column())
    expires_at: dt.datetime = Field(sa_column=ts_column())
    # the fencing token: +1 at every acquisition; scheduler writes commit only at their epoch
    epoch: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )


class JobRun(SQLModel, table=True):
    """One run of a scheduled job, so restarts know what was last done and nothing repeats."""

    __table_args__ = (sa.Index("ix_jobrun_job_started", "job_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=200)
    started_at: dt.datetime = Field(sa_column=ts_column())
    finished_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    status: str = Field(default="running", max_length=10)
    holder: str | None = Field(default=None, max_length=200)
    error: str | None = None


# --- webhooks (tracker.webhooks): subscriptions, the outbox of events, deliveries ---


class WebhookSubscription(SQLModel, table=True):
    """Where to send which events (tracker.webhooks). `secret` (whsec_<base64>) signs every
    delivery; it is shown once at creation or rotation and never served or logged again.
    `previous_secret` also signs until `previous_secret_until` (a rotation's grace period).
    Deleting sets `deleted_at` (its deliveries stay readable)."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=json_column())  # empty: every one
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    deadline_days: int = 7
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_until: dt.datetime | None = Field(
        default=None, sa_column=ts_column(nullable=True)
    )
    created_by: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=ts_column())
    failing_since: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    disabled_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    disabled_reason: str | None = None
    deleted_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class WebhookEvent(SQLModel, table=True):
    """The outbox: one row per event, written in the transaction of the change it describes
    (an evaluation, a verdict, a quarantine), so a rolled-back change leaves none. The
    delivery job fans it out (WebhookDelivery) once, then sets `dispatched_at`. `dedupe_key`
    (unique) keeps an event that must happen once (a deadline notice) from being written twice.
    """

    __table_args__ = (sa.Index("ix_webhookevent_pending", "dispatched_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=40, unique=True)  # the webhook-id of its deliveries
    type: str = Field(max_length=40)
    claim_id: int | None = Field(default=None, foreign_key="claim.id")
    evaluation_id: int | None = None
    resolution_id: int | None = None
    fetch_run_id: int | None = None
    subscription_id: int | None = Field(default=None, foreign_key="webhooksubscription.id")
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    payload: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    created_at: dt.datetime = Field(sa_column=ts_column())
    dispatched_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event to one subscription: pending -> sending (claimed: an attempt row is committed
    before the request goes out) -> delivered, or back to pending with `next_attempt_at`, or
    failed (gave up). A `sending` row whose claim expired was interrupted (a crash): it is sent
    again with the same webhook-id."""

    __table_args__ = (
        sa.UniqueConstraint("event_id", "subscription_id"),
        sa.Index("ix_webhookdelivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhookdelivery_subscription", "subscription_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhookevent.id")
    subscription_id: int = Field(foreign_key="webhooksubscription.id")
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_column=ts_column())
    claimed_until: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    created_at: dt.datetime = Field(sa_column=ts_column())
    delivered_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    last_error: str | None = None


class WebhookAttempt(SQLModel, table=True):
    """Append-only log of one try of a delivery (written before the request, finished after)."""

    __table_args__ = (sa.UniqueConstraint("delivery_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhookdelivery.id", index=True)
    number: int
    started_at: dt.datetime = Field(sa_column=ts_column())
    finished_at: dt.datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    outcome: str | None = Field(default=None, max_length=12)  # ok|retry|failed|refused|interrupted
    http_status: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    holder: str | None = Field(default=None, max_length=200)
    replay: bool = False
