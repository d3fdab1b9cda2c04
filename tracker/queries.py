"""Read-side queries shared by the API and the dashboard: claim lists, details, history, records.

Every function takes a Session, only reads, and returns plain dataclasses or ORM rows (never
commits). Each list is one query (or a fixed small number), never one query per claim.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from tracker import bounds
from tracker.evaluation import EvaluationResult
from tracker.models import (
    DEADLINE_KEY_DEFAULT,
    ChangeKind,
    Claim,
    Claimant,
    ClaimRevision,
    Criterion,
    Evaluation,
    Lifecycle,
    Outcome,
    Resolution,
    SourceDocument,
    State,
    UTCDateTime,
)
from tracker.outlook import outlook_clause
from tracker.overview_counts import OverviewCounts, overview_counts, upcoming_select
from tracker.status import current_resolution, replay_claim_as_known, status_history

SortKey = Literal["deadline", "-deadline", "slug", "-slug", "updated", "-updated"]
SORT_KEYS: tuple[str, ...] = ("deadline", "-deadline", "slug", "-slug", "updated", "-updated")
MAX_LIMIT = 500
_FAR_FUTURE = dt.date(9999, 12, 31)


AWAITING_STATES = (State.awaiting_data.value,)
REVIEW_STATES = (State.needs_review.value,)
RESOLVED_STATES = (
    State.resolved_true.value,
    State.resolved_false.value,
    State.resolved_partial.value,
    State.void.value,
    State.ambiguous.value,
)


class InvalidCursor(ValueError):
    """A pagination cursor that was not made by `list_claims` (or for another sort)."""


@dataclass(frozen=True, slots=True)
class ClaimFilters:
    """Filters of the claim list; None means "any". `q` is the text search of `text_matches`
    (slug, title and both quotes), shared by the API and the dashboard."""

    state: str | None = None
    trend: str | None = None
    tag: str | None = None
    claimant: str | None = None  # claimant slug
    deadline_before: dt.date | None = None  # deadline < this date
    deadline_after: dt.date | None = None  # deadline > this date
    lifecycle: str | None = None
    kind: str | None = None
    q: str | None = None
    outlook: str | None = None  # tracker.outlook.Outlook: what a reader asks


@dataclass(slots=True)
class ClaimItem:
    """A claim with who made it and its current evaluation (None when never evaluated)."""

    claim: Claim
    claimant: Claimant
    evaluation: Evaluation | None


@dataclass(slots=True)
class ClaimPage:
    items: list[ClaimItem]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """Another claim linked from this one: enough to name and link it, with its status.

    `title` is None when the slug names no stored claim; `state`, `trend` and `evaluation`
    (the status evaluation, for the trend's uncertainty) are None on a replay (a linked claim's
    status then is not replayed).
    """

    slug: str
    title: str | None
    lifecycle: str | None
    state: str | None
    trend: str | None
    updated_at: dt.datetime | None
    evaluation: Evaluation | None = None


@dataclass(slots=True)
class ClaimDetail:
    """Everything shown for one claim: parties, source, current criteria, status, verdict, and
    its variant links: the claim it is a variant reading of, and the claims that are variant
    readings of it (another report's reading of the same statement, `variant_of`)."""

    claim: Claim
    claimant: Claimant
    reporter: Claimant | None
    source_document: SourceDocument | None
    criteria: list[Criterion]
    evaluation: Evaluation | None
    resolution: Resolution | None  # the current (not superseded) verdict, if any
    variant_parent: ClaimRef | None = None  # the claim named by claim.variant_of
    variants: list[ClaimRef] = field(default_factory=list)  # claims whose variant_of is this


@dataclass(slots=True)
class Deadlines:
    """The reviewer's view: what is coming, what waits for data, what waits for a verdict."""

    today: dt.date
    within_days: int
    upcoming: list[ClaimItem]
    awaiting_data: list[ClaimItem]
    needs_review: list[ClaimItem]


@dataclass(slots=True)
class TrackRecord:
    """A claimant's record over their resolved claims.

    `claims` lists every claim (total = statements + variant_readings + withdrawn), but the
    record counts statements only: a withdrawn claim is not counted at all (not even as not yet
    resolved), and a variant reading (variant_of naming another of the claimant's
    non-withdrawn claims: the same statement as another report renders it) is counted once,
    through the claim it reads. `not_counted` maps each claim left out to why: "withdrawn", or
    the slug of the statement it is a reading of. Over the statements:
    statements = true + false + partial + void + ambiguous + unresolved.

    share_kept = true / (true + false + partial); lateness = decision date − deadline (days) over
    judged (true/false/partial) claims decided after their deadline had passed, averaged into
    mean_lateness_days; those decided on or before their deadline are counted in
    early_verdicts instead (a negative lateness would hide late verdicts); Brier = mean
    (p − o)² over true/false claims stating a probability p (o = 1 for true, 0 for false;
    partial, void and ambiguous are left out).
    """

    claimant: Claimant
    claims: list[ClaimItem]
    total: int
    statements: int
    variant_readings: int
    withdrawn: int
    not_counted: dict[str, str]  # claim slug -> "withdrawn" or the statement's slug
    resolved_true: int
    resolved_false: int
    resolved_partial: int
    void: int
    ambiguous: int
    unresolved: int
    share_kept: float | None
    mean_lateness_days: float | None
    late_verdicts: int
    early_verdicts: int
    brier_score: float | None
    brier_count: int


@dataclass(slots=True)
class StatusChange:
    """One evaluation that changed a claim's state or trend, with the state and trend before
    it (None for a claim's first evaluation); `changed`: which of the two moved. `claim_spec`:
    the claim's stored document, for its title in other languages (tracker.i18n.content)."""

    evaluation: Evaluation
    claim_slug: str
    claim_title: str
    previous_state: str | None = None
    previous_trend: str | None = None
    changed: list[str] = field(default_factory=list)
    claim_spec: dict[str, Any] | None = None

    @property
    def claim_words(self) -> dict[str, Any]:
        """The claim's title and document, as tracker.i18n.content reads a claim."""
        return {"title": self.claim_title, "spec": self.claim_spec or {}}


# --- cursors ---


def encode_cursor(sort: str, key: Any, claim_id: int) -> str:
    """An opaque, URL-safe cursor: the last row's sort key and id."""
    if isinstance(key, dt.datetime | dt.date):
        key = key.isoformat()
    raw = json.dumps([sort, key, claim_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The (key, id) in a cursor; InvalidCursor when it is malformed or for another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, key, claim_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("cursor is not one this API produced") from exc
    if cursor_sort != sort:
        raise InvalidCursor("cursor belongs to another sort order; start again without it")
    # hand-made cursors are refused here, not by the database: an id within int64, a key of
    # the sort's type, text without NUL or lone surrogates, a date or instant within bounds
    if bounds.id_problem(claim_id):
        raise InvalidCursor("cursor is not one this API produced")
    try:
        if not isinstance(key, str) or bounds.text_problem(key):
            raise ValueError("key")
        elif sort.lstrip("-") == "deadline":
            key = dt.date.fromisoformat(key)
            if key != _FAR_FUTURE and bounds.date_problem(key):  # undated claims: _FAR_FUTURE
                raise ValueError("date")
        elif sort.lstrip("-") == "updated":
            key = dt.datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise ValueError("naive")
            if bounds.date_problem(key) or bounds.date_problem(key.astimezone(dt.UTC)):
                raise ValueError("instant")
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidCursor("cursor is not one this API produced") from exc
    return key, claim_id


def _deadline_key() -> sa.ColumnElement[Any]:
    """The deadline to sort by: undated claims sort after every dated one."""
    # written out, not bound: the expression is indexed (ix_claim_deadline_key, tracker.models),
    # and the planner matches an index only to the same literal; a page reads 51 index entries
    # instead of sorting every claim
    return sa.func.coalesce(col(Claim.deadline), sa.literal_column(DEADLINE_KEY_DEFAULT, sa.Date()))


def _like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', with the text's own wildcards escaped."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sort_column(sort: str) -> sa.ColumnElement[Any]:
    name = sort.lstrip("-")
    if name == "deadline":
        return _deadline_key()
    if name == "slug":
        return sa.type_coerce(col(Claim.slug), sa.String())
    return sa.type_coerce(col(Claim.updated_at), UTCDateTime())


def _sort_value(claim: Claim, sort: str) -> Any:
    name = sort.lstrip("-")
    if name == "deadline":
        return claim.deadline or _FAR_FUTURE
    if name == "slug":
        return claim.slug
    return claim.updated_at


def _filter_clauses(filters: ClaimFilters) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if filters.state:
        clauses.append(col(Claim.status_state) == filters.state)
    if filters.trend:
        clauses.append(col(Claim.status_trend) == filters.trend)
    if filters.lifecycle:
        clauses.append(col(Claim.lifecycle) == filters.lifecycle)
    if filters.kind:
        clauses.append(col(Claim.kind) == filters.kind)
    if filters.outlook:
        clauses.append(outlook_clause(filters.outlook))
    if filters.deadline_before:
        clauses.append(col(Claim.deadline) < filters.deadline_before)
    if filters.deadline_after:
        clauses.append(col(Claim.deadline) > filters.deadline_after)
    if filters.claimant:
        clauses.append(col(Claimant.slug) == filters.claimant)
    if filters.tag:
        # tags is a JSON list; its text holds each tag as a quoted JSON string on both backends
        pattern = _like_pattern(json.dumps(filters.tag))
        clauses.append(sa.cast(col(Claim.tags), sa.Text()).like(pattern, escape="\\"))
    text = (filters.q or "").strip()
    if text:
        clauses.append(text_matches(text))
    return clauses


# The claim columns the text search reads: the quote in the original language and in English
# too, so "電力" finds the claim quoted in Japanese.
SEARCHED_COLUMNS = ("slug", "title", "quote_original", "quote_en")


def text_matches(text: str) -> sa.ColumnElement[bool]:
    """The one claim search predicate (API `?q=` and dashboard search): the slug, title or
    either quote (original language or English) contains `text`, case-insensitively, with
    LIKE wildcards in `text` taken literally."""
    pattern = _like_pattern(text.lower())
    return sa.or_(
        *(
            sa.func.lower(sa.func.coalesce(col(getattr(Claim, name)), "")).like(
                pattern, escape="\\"
            )
            for name in SEARCHED_COLUMNS
        )
    )


def _item_select() -> Any:
    return (
        select(Claim, Claimant, Evaluation)
        .join(Claimant, col(Claimant.id) == col(Claim.claimant_id))
        .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
    )


def _items(rows: Sequence[Any]) -> list[ClaimItem]:
    """ClaimItems from the (claim, claimant, evaluation) rows of `_item_select`."""
    return [ClaimItem(claim=c, claimant=p, evaluation=e) for c, p, e in rows]


# --- public queries ---


def list_claims(
    session: Session,
    filters: ClaimFilters | None = None,
    sort: str = "deadline",
    cursor: str | None = None,
    limit: int = 50,
) -> ClaimPage:
    """One page of claims with claimant and current evaluation, keyset-paginated.

    `sort` is one of SORT_KEYS ("-" = descending; ties broken by id). Raises ValueError for an
    unknown sort and InvalidCursor for a bad cursor.
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORT_KEYS)}")
    stmt = _item_select().where(*_filter_clauses(filters or ClaimFilters()))
    return _page(session, stmt, sort, cursor, limit)


def _keyset(
    stmt: Any,
    sort: str,
    cursor: str | None,
    key_col: sa.ColumnElement[Any],
    id_col: Any,
) -> Any:
    """`stmt` narrowed to the rows after `cursor` and ordered by (`key_col`, `id_col`)."""
    descending = sort.startswith("-")
    if cursor:
        key, last_id = decode_cursor(cursor, sort)
        if descending:
            stmt = stmt.where(sa.or_(key_col < key, sa.and_(key_col == key, id_col < last_id)))
        else:
            stmt = stmt.where(sa.or_(key_col > key, sa.and_(key_col == key, id_col > last_id)))
    if descending:
        return stmt.order_by(key_col.desc(), id_col.desc())
    return stmt.order_by(key_col.asc(), id_col.asc())


def _claim_page(items: list[ClaimItem], sort: str, more: bool) -> ClaimPage:
    """The page of `items`, with a cursor after its last claim when `more` follow."""
    next_cursor = None
    if more:
        last = items[-1].claim
        assert last.id is not None
        next_cursor = encode_cursor(sort, _sort_value(last, sort), last.id)
    return ClaimPage(items=items, next_cursor=next_cursor)


def _page(session: Session, stmt: Any, sort: str, cursor: str | None, limit: int) -> ClaimPage:
    """One keyset page of `stmt` (an `_item_select` with its filters) in `sort` order."""
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = _keyset(stmt, sort, cursor, _sort_column(sort), col(Claim.id))
    rows = session.exec(stmt.limit(limit + 1)).all()
    return _claim_page(_items(rows[:limit]), sort, len(rows) > limit)


def all_claims(session: Session) -> list[ClaimItem]:
    """Every claim with claimant and current evaluation, by slug (exports, calendar)."""
    rows = session.exec(_item_select().order_by(col(Claim.slug))).all()
    return _items(rows)


def get_claim(session: Session, slug: str) -> ClaimDetail | None:
    """The claim with this slug and everything shown beside it, or None."""
    reporter = aliased(Claimant)
    stmt = (
        sa.select(Claim, Claimant, reporter, SourceDocument, Evaluation)
        .join(Claimant, col(Claimant.id) == col(Claim.claimant_id))
        .outerjoin(reporter, reporter.id == col(Claim.reporter_id))  # type: ignore[arg-type]
        .outerjoin(SourceDocument, col(SourceDocument.id) == col(Claim.source_document_id))
        .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
        .where(col(Claim.slug) == slug)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    claim, claimant, rep, source, evaluation = row
    assert claim.id is not None
    criteria = list(
        session.exec(
            select(Criterion)
            .where(col(Criterion.claim_id) == claim.id, col(Criterion.valid_until).is_(None))
            .order_by(col(Criterion.id))
        ).all()
    )
    parent, variants = variant_links(session, claim)
    return ClaimDetail(
        claim=claim,
        claimant=claimant,
        reporter=rep,
        source_document=source,
        criteria=criteria,
        evaluation=evaluation,
        resolution=current_resolution(session, claim.id),
        variant_parent=parent,
        variants=variants,
    )


def variant_links(session: Session, claim: Claim) -> tuple[ClaimRef | None, list[ClaimRef]]:
    """The claim `claim.variant_of` names and the claims naming `claim` as theirs, in one query
    (indexed on claim.variant_of). Withdrawn variants are included, marked by `lifecycle`."""
    linked = col(Claim.variant_of) == claim.slug
    if claim.variant_of:
        linked = sa.or_(linked, col(Claim.slug) == claim.variant_of)
    rows = session.execute(
        sa.select(
            col(Claim.slug),
            col(Claim.title),
            col(Claim.lifecycle),
            col(Claim.status_state),
            col(Claim.status_trend),
            col(Claim.updated_at),
            col(Claim.variant_of),
            Evaluation,
        )
        .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
        .where(linked)
        .order_by(_deadline_key(), col(Claim.slug))
    ).all()
    parent: ClaimRef | None = None
    variants: list[ClaimRef] = []
    for slug, title, lifecycle, state, trend, updated_at, variant_of, evaluation in rows:
        ref = ClaimRef(slug, title, lifecycle, state, trend, updated_at, evaluation)
        if claim.variant_of and slug == claim.variant_of:
            parent = ref
        if variant_of == claim.slug and slug != claim.slug:
            variants.append(ref)
    if claim.variant_of and parent is None:  # not stored (saving checks it; kept to link it)
        parent = ClaimRef(claim.variant_of, None, None, None, None, None)
    return parent, variants


def _variant_links_then(
    session: Session, claim: Claim, then: Claim, at: dt.datetime
) -> tuple[ClaimRef | None, list[ClaimRef]]:
    """variant_links as known at `at`: `then.variant_of` (the revision in force) and, of the
    claims naming `claim` now, those whose revision in force at `at` named it, with that
    revision's title and lifecycle. (A claim that named it then but has been re-pointed since
    is not found: variant_of is only indexed as it stands now.)"""
    parent: ClaimRef | None = None
    if then.variant_of:
        row = session.execute(
            sa.select(col(Claim.slug), col(Claim.title)).where(col(Claim.slug) == then.variant_of)
        ).first()
        parent = ClaimRef(then.variant_of, row.title if row else None, None, None, None, None)
    rev = ClaimRevision.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(col(Claim.slug), rev.version, rev.change, rev.content, rev.created_at)
        .join(Claim, col(Claim.id) == rev.claim_id)
        .where(col(Claim.variant_of) == claim.slug, rev.created_at <= at)
        .order_by(col(Claim.slug), rev.version)
    ).all()
    in_force = {row.slug: row for row in rows}  # the last version by `at` wins
    variants: list[ClaimRef] = []
    for slug, row in in_force.items():
        doc = row.content or {}
        if doc.get("variant_of") != claim.slug or slug == claim.slug:
            continue
        lifecycle = "withdrawn" if row.change == "withdrawn" else doc.get("lifecycle", "active")
        variants.append(ClaimRef(slug, doc.get("title"), lifecycle, None, None, row.created_at))
    return parent, variants


@dataclass(slots=True)
class ClaimAsOf:
    """A claim as tracker knew it at the end of a past UTC day (the API's and dashboard's replay).

    `detail` holds a detached copy of the claim with the fields of the revision in force then
    (title, deadline, window, kind, lifecycle, version, ...), the claimant, reporter and source
    that revision names (their rows are not versioned: today's names), the criteria rows valid
    then and the verdict current then.
    `evaluation` is None: the status is `result`, replayed from the data known then.
    """

    as_of: dt.datetime
    detail: ClaimDetail
    result: EvaluationResult
    revision: ClaimRevision


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def _claim_then(claim: Claim, revision: ClaimRevision, **party_ids: int | None) -> Claim:
    """A detached copy of `claim` showing what `revision` said (never added to a session);
    `party_ids` (claimant_id, reporter_id, source_document_id) of the parties it names."""
    doc = revision.content or {}
    quote = doc.get("quote") or {}
    stated = doc.get("stated") or {}
    window = doc.get("window") or {}
    lifecycle = "withdrawn" if revision.change == "withdrawn" else doc.get("lifecycle")
    then = claim.model_dump()
    then.update(
        title=doc.get("title", claim.title),
        quote_original=quote.get("original"),
        quote_language=quote.get("language"),
        quote_en=quote.get("en"),
        stated_on=_day(stated.get("date")),
        stated_precision=stated.get("precision"),
        stated_note=stated.get("note"),
        window_start=_day(window.get("start")),
        window_end=_day(window.get("end")),
        deadline=_day(doc.get("deadline")),
        deadline_interpretation=doc.get("deadline_interpretation"),
        deadline_alternative=doc.get("deadline_alternative"),
        kind=doc.get("kind", claim.kind),
        tags=list(doc.get("tags") or []),
        lifecycle=lifecycle or claim.lifecycle,
        operationalised_by=doc.get("operationalised_by"),
        variant_of=doc.get("variant_of"),
        probability=doc.get("probability"),
        spec=dict(doc),
        content_hash=revision.content_hash,
        version=revision.version,
        updated_at=revision.created_at,
        **party_ids,
    )
    return Claim(**then)


def _parties_then(
    session: Session, detail: ClaimDetail, doc: dict[str, Any]
) -> tuple[Claimant, Claimant | None, SourceDocument | None]:
    """The claimant, reporter and source a revision's document names by slug (no query when
    they are today's); today's claimant should its slug be gone (claimant is required)."""
    today = {
        "claimant": detail.claimant,
        "reporter": detail.reporter,
        "source": detail.source_document,
    }
    found: dict[str, Any] = {}
    for name, row in today.items():
        slug = doc.get(name)
        if slug is None:
            found[name] = None
        elif row is not None and row.slug == slug:
            found[name] = row
    people = {doc[n] for n in ("claimant", "reporter") if n not in found}
    if people:
        rows = session.exec(select(Claimant).where(col(Claimant.slug).in_(people))).all()
        by_slug = {row.slug: row for row in rows}
        for name in ("claimant", "reporter"):
            if name not in found:
                found[name] = by_slug.get(doc[name])
    if "source" not in found:
        found["source"] = session.exec(
            select(SourceDocument).where(col(SourceDocument.slug) == doc["source"])
        ).first()
    return found["claimant"] or detail.claimant, found["reporter"], found["source"]


def claim_as_of(
    session: Session, detail: ClaimDetail, day: dt.date, *, now: dt.datetime
) -> ClaimAsOf | None:
    """Everything shown for a claim as known at the end of `day` (UTC), or None when tracker
    did not know the claim then. The revision, criteria and verdict are the ones
    status.replay_claim_as_known picks; no writes."""
    replay = replay_claim_as_known(session, detail.claim, day, now=now)
    if replay is None:
        return None
    claim_id = detail.claim.id
    revision = session.exec(
        select(ClaimRevision).where(
            col(ClaimRevision.claim_id) == claim_id, col(ClaimRevision.version) == replay.version
        )
    ).one()
    criteria = (
        list(
            session.exec(
                select(Criterion)
                .where(col(Criterion.id).in_(replay.criteria_ids))
                .order_by(col(Criterion.id))
            ).all()
        )
        if replay.criteria_ids
        else []
    )
    resolution = (
        session.get(Resolution, replay.resolution_id) if replay.resolution_id is not None else None
    )
    claimant, reporter, source = _parties_then(session, detail, revision.content or {})
    claim_then = _claim_then(
        detail.claim,
        revision,
        claimant_id=claimant.id,
        reporter_id=reporter.id if reporter else None,
        source_document_id=source.id if source else None,
    )
    parent, variants = _variant_links_then(session, detail.claim, claim_then, replay.as_of)
    then = ClaimDetail(
        claim=claim_then,
        claimant=claimant,
        reporter=reporter,
        source_document=source,
        criteria=criteria,
        evaluation=None,
        resolution=resolution,
        variant_parent=parent,
        variants=variants,
    )
    return ClaimAsOf(as_of=replay.as_of, detail=then, result=replay.result, revision=revision)


def claim_exists(session: Session, slug: str) -> bool:
    return session.exec(select(Claim.id).where(col(Claim.slug) == slug)).first() is not None


def claim_history(session: Session, claim_id: int) -> list[Evaluation]:
    """Every recorded evaluation of a claim, oldest first (the status stage's own query)."""
    return status_history(session, claim_id)


def claim_revisions(session: Session, claim_id: int) -> list[ClaimRevision]:
    """Every revision of a claim, oldest (version 1) first."""
    return list(
        session.exec(
            select(ClaimRevision)
            .where(col(ClaimRevision.claim_id) == claim_id)
            .order_by(col(ClaimRevision.version))
        ).all()
    )


def claim_resolutions(session: Session, claim_id: int) -> list[Resolution]:
    """Every verdict on a claim, superseded ones included, oldest first."""
    return list(
        session.exec(
            select(Resolution)
            .where(col(Resolution.claim_id) == claim_id)
            .order_by(col(Resolution.decided_at), col(Resolution.id))
        ).all()
    )


def _due_between(today: dt.date, horizon: dt.date) -> list[sa.ColumnElement[bool]]:
    """Deadline in [today, horizon], and not yet resolved, awaiting data or in review."""
    return [
        col(Claim.deadline) >= today,
        col(Claim.deadline) <= horizon,
        sa.or_(
            col(Claim.status_state).is_(None),
            col(Claim.status_state).not_in(RESOLVED_STATES + AWAITING_STATES + REVIEW_STATES),
        ),
    ]


def upcoming_deadlines(session: Session, today: dt.date, within_days: int = 90) -> Deadlines:
    """Active claims due in [today, today + within_days], and those awaiting data or review."""
    horizon = today + dt.timedelta(days=within_days)
    base = _item_select().where(col(Claim.lifecycle) == Lifecycle.active.value)
    upcoming_rows = session.exec(
        base.where(*_due_between(today, horizon)).order_by(col(Claim.deadline), col(Claim.id))
    ).all()
    waiting_rows = session.exec(
        base.where(col(Claim.status_state).in_(AWAITING_STATES + REVIEW_STATES)).order_by(
            _deadline_key(),
            col(Claim.id),
        )
    ).all()
    waiting = _items(waiting_rows)
    return Deadlines(
        today=today,
        within_days=within_days,
        upcoming=_items(upcoming_rows),
        awaiting_data=[i for i in waiting if i.claim.status_state in AWAITING_STATES],
        needs_review=[i for i in waiting if i.claim.status_state in REVIEW_STATES],
    )


def current_resolutions(session: Session, claim_ids: Sequence[int]) -> dict[int, Resolution]:
    """The current (not superseded) verdict of each given claim that has one."""
    if not claim_ids:
        return {}
    rows = session.exec(
        select(Resolution)
        .where(
            col(Resolution.claim_id).in_(list(claim_ids)),
            col(Resolution.superseded_by_id).is_(None),
        )
        .order_by(col(Resolution.decided_at), col(Resolution.id))
    ).all()
    return {r.claim_id: r for r in rows}  # the newest wins if several are open


def _not_counted(items: Sequence[ClaimItem]) -> dict[str, str]:
    """The claims a track record leaves out (see TrackRecord): slug -> "withdrawn", or for a
    variant reading the slug of the statement it reads (followed along chains of variants; in
    a cycle of variants the smallest slug stands for the statement)."""
    withdrawn = {i.claim.slug for i in items if i.claim.lifecycle == Lifecycle.withdrawn}
    active = {i.claim.slug for i in items} - withdrawn
    reads = {
        i.claim.slug: i.claim.variant_of
        for i in items
        if i.claim.slug in active and i.claim.variant_of in active
        if i.claim.variant_of != i.claim.slug
    }
    out: dict[str, str] = dict.fromkeys(withdrawn, "withdrawn")
    for slug in reads:
        chain = [slug]
        while chain[-1] in reads and reads[chain[-1]] not in chain:
            chain.append(reads[chain[-1]])
        closes_at = reads.get(chain[-1])  # set only in a cycle: where it closes
        root = min(chain[chain.index(closes_at) :]) if closes_at is not None else chain[-1]
        if root != slug:
            out[slug] = root
    return {i.claim.slug: out[i.claim.slug] for i in items if i.claim.slug in out}


def claimant_track_record(session: Session, slug: str) -> TrackRecord | None:
    """The claimant's claims and their record (see TrackRecord), or None for an unknown slug."""
    claimant = session.exec(select(Claimant).where(col(Claimant.slug) == slug)).first()
    if claimant is None:
        return None
    rows = session.exec(
        _item_select()
        .where(col(Claim.claimant_id) == claimant.id)
        .order_by(
            _deadline_key(),
            col(Claim.id),
        )
    ).all()
    items = _items(rows)
    not_counted = _not_counted(items)
    statements = [i for i in items if i.claim.slug not in not_counted]
    verdicts = current_resolutions(
        session, [i.claim.id for i in statements if i.claim.id is not None]
    )
    counts: Counter[str] = Counter()
    lateness: list[int] = []
    early = 0
    brier_terms: list[float] = []
    for item in statements:
        resolution = verdicts.get(item.claim.id or -1)
        if resolution is None:
            continue
        counts[resolution.outcome] += 1
        if resolution.outcome in (Outcome.true, Outcome.false, Outcome.partial):
            if item.claim.deadline is not None:
                days = (resolution.decided_at.date() - item.claim.deadline).days
                if days > 0:
                    lateness.append(days)
                else:
                    early += 1
            if item.claim.probability is not None and resolution.outcome != Outcome.partial:
                observed = 1.0 if resolution.outcome == Outcome.true else 0.0
                brier_terms.append((item.claim.probability - observed) ** 2)
    judged = counts[Outcome.true] + counts[Outcome.false] + counts[Outcome.partial]
    return TrackRecord(
        claimant=claimant,
        claims=items,
        total=len(items),
        statements=len(statements),
        variant_readings=sum(1 for why in not_counted.values() if why != "withdrawn"),
        withdrawn=sum(1 for why in not_counted.values() if why == "withdrawn"),
        not_counted=not_counted,
        resolved_true=counts[Outcome.true],
        resolved_false=counts[Outcome.false],
        resolved_partial=counts[Outcome.partial],
        void=counts[Outcome.void],
        ambiguous=counts[Outcome.ambiguous],
        unresolved=len(statements) - sum(counts.values()),
        share_kept=counts[Outcome.true] / judged if judged else None,
        mean_lateness_days=sum(lateness) / len(lateness) if lateness else None,
        late_verdicts=len(lateness),
        early_verdicts=early,
        brier_score=sum(brier_terms) / len(brier_terms) if brier_terms else None,
        brier_count=len(brier_terms),
    )


def _newest_changes(kinds: Sequence[tuple[ChangeKind, int]], claim_id: int | None) -> Any:
    """The ids of the newest evaluations of each kind of status change (of one claim, or all),
    at most `limit` per kind: per kind one read of `ix_evaluation_change_at` (status_change,
    evaluated_at, id) backwards that stops after `limit` rows, whatever the history's size."""
    ev = Evaluation.__table__.c  # type: ignore[attr-defined]
    branches = []
    for kind, limit in kinds:
        newest = sa.select(ev.id).where(ev.status_change == kind.value)
        if claim_id is not None:
            newest = newest.where(ev.claim_id == claim_id)
        newest = newest.order_by(ev.evaluated_at.desc(), ev.id.desc()).limit(_clip(limit))
        branches.append(sa.select(newest.subquery().c.id))
    return (branches[0] if len(branches) == 1 else sa.union_all(*branches)).subquery("changes")


def _clip(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def _status_changes(session: Session, ids: Any, limit: int | None) -> list[StatusChange]:
    """The StatusChange of each evaluation in `ids` (a subquery of ids), newest first."""
    stmt = (
        sa.select(Evaluation, col(Claim.slug), col(Claim.title), col(Claim.spec))
        .join(ids, ids.c.id == col(Evaluation.id))
        .join(Claim, col(Claim.id) == col(Evaluation.claim_id))
        .order_by(col(Evaluation.evaluated_at).desc(), col(Evaluation.id).desc())
    )
    if limit is not None:
        stmt = stmt.limit(_clip(limit))
    changes: list[StatusChange] = []
    for evaluation, slug, title, spec in session.execute(stmt).all():
        previous_state, previous_trend = evaluation.previous_state, evaluation.previous_trend
        moves = (
            ("state", previous_state, evaluation.state),
            ("trend", previous_trend, evaluation.trend),
        )
        changed = (
            ["state"]
            if previous_state is None  # the first evaluation: a state from nothing
            else [name for name, before, after in moves if before != after]
        )
        changes.append(
            StatusChange(
                evaluation=evaluation,
                claim_slug=slug,
                claim_title=title,
                claim_spec=spec if isinstance(spec, dict) else None,
                previous_state=previous_state,
                previous_trend=previous_trend,
                changed=changed,
            )
        )
    return changes


def recent_status_changes(
    session: Session,
    limit: int = 50,
    *,
    claim_id: int | None = None,
    first: bool | None = None,
) -> list[StatusChange]:
    """The newest real status changes, newest first: evaluations whose state or trend differs
    from the claim's previous evaluation, with that previous state and trend.

    Evaluations are appended whenever anything in a result changes (a metric, a projection, the
    reason), which is right for a claim's history; an evaluation where neither state nor trend
    moved ("open → open") is not a status change and is left out. A claim's first evaluation
    is a change from nothing (previous state None). `first`: True keeps only those, False only
    the later changes, None both. The Atom feed reads this; the overview reads
    `recent_changes_and_firsts`.

    One statement over the columns written with each evaluation (`previous_state`,
    `previous_trend`, `status_change`; see `status.status_change_columns`): the newest `limit`
    of each wanted kind by index, then the newest `limit` of those.
    """
    kinds = {
        None: (ChangeKind.moved, ChangeKind.first),
        True: (ChangeKind.first,),
        False: (ChangeKind.moved,),
    }[first]
    ids = _newest_changes([(kind, limit) for kind in kinds], claim_id)
    return _status_changes(session, ids, limit)


def recent_changes_and_firsts(
    session: Session, changes: int, firsts: int
) -> tuple[list[StatusChange], list[StatusChange]]:
    """`recent_status_changes(limit=changes, first=False)` and `(limit=firsts, first=True)`
    in one statement (each kind read newest first by index, stopping at its limit)."""
    ids = _newest_changes([(ChangeKind.moved, changes), (ChangeKind.first, firsts)], None)
    rows = _status_changes(session, ids, None)
    first = ChangeKind.first.value
    return (
        [r for r in rows if r.evaluation.status_change != first],
        [r for r in rows if r.evaluation.status_change == first],
    )


def claims_last_changed(session: Session) -> dt.datetime | None:
    """The newest change to any claim: an update, a status evaluation or status change, or a
    verdict (None without claims). Last-Modified of views that any claim can enter or leave."""
    row = session.execute(
        sa.select(
            sa.func.max(col(Claim.updated_at)),
            sa.func.max(col(Claim.status_changed_at)),
            sa.func.max(col(Evaluation.evaluated_at)),
        )
        .select_from(Claim)
        .outerjoin(Evaluation, col(Evaluation.id) == col(Claim.status_evaluation_id))
    ).one()
    decided = session.execute(sa.select(sa.func.max(col(Resolution.decided_at)))).scalar()
    times = [t for t in (*row, decided) if t is not None]
    return max(times) if times else None


def counts_by_state(session: Session) -> dict[str, int]:
    """How many claims are in each state (never-evaluated claims count as "unevaluated")."""
    rows = session.exec(
        select(Claim.status_state, sa.func.count()).group_by(col(Claim.status_state))
    ).all()
    return {(state or "unevaluated"): int(n) for state, n in rows}


# --- dashboard additions (H7): bounded queues for the overview ---


@dataclass(slots=True)
class DeadlineQueues:
    """The overview's queues, each cut to `limit` claims, with the full size of each."""

    upcoming: list[ClaimItem]
    upcoming_total: int
    awaiting_data: list[ClaimItem]
    awaiting_total: int
    needs_review: list[ClaimItem]
    needs_review_total: int


def deadline_queues(
    session: Session,
    today: dt.date,
    *,
    within_days: int = 3660,
    limit: int = 12,
    counts: OverviewCounts | None = None,
) -> DeadlineQueues:
    """Like `upcoming_deadlines`, but bounded: each queue's first `limit` claims read in order
    from an index (ix_claim_upcoming, ix_claim_queue), their claimant and evaluation joined to
    those rows only; the sizes from `counts` (tracker.overview_counts, read if not given). Its
    cost does not grow with the claims."""
    horizon = today + dt.timedelta(days=within_days)
    if counts is None:
        counts = overview_counts(session, today, within_days=within_days)
    deadline_key = _deadline_key()
    dialect = session.get_bind().dialect.name
    queues: dict[str, tuple[Any, Any]] = {
        "upcoming": (
            upcoming_select(dialect, "id", today, horizon, limit=limit).columns(
                sa.column("id", sa.Integer())
            ),
            col(Claim.deadline),
        ),
        "awaiting": (_first_in(AWAITING_STATES, deadline_key, limit), deadline_key),
        "review": (_first_in(REVIEW_STATES, deadline_key, limit), deadline_key),
    }
    items: dict[str, list[ClaimItem]] = {}
    for name, (ids, order) in queues.items():
        first = ids.subquery()
        rows = session.exec(
            _item_select().join(first, first.c.id == col(Claim.id)).order_by(order, col(Claim.id))
        ).all()
        items[name] = _items(rows)
    return DeadlineQueues(
        upcoming=items["upcoming"],
        upcoming_total=counts.upcoming,
        awaiting_data=items["awaiting"],
        awaiting_total=counts.awaiting_data,
        needs_review=items["review"],
        needs_review_total=counts.needs_review,
    )


def _first_in(states: tuple[str, ...], order: Any, limit: int) -> Any:
    """The ids of the first `limit` active claims in one of `states` by `order` (then id): read
    in order from ix_claim_queue (`=` for one state, so the index gives that state's rows in
    deadline order)."""
    state = col(Claim.status_state)
    return (
        sa.select(col(Claim.id).label("id"))
        .where(
            col(Claim.lifecycle) == Lifecycle.active.value,
            state == states[0] if len(states) == 1 else state.in_(states),
        )
        .order_by(order, col(Claim.id))
        .limit(limit)
    )


# --- the overview as stored on a past day ---


def _latest_evaluation_as_of(at: dt.datetime) -> Any:
    """(claim_id, evaluation id) of each claim's latest evaluation stored by `at`."""
    ranked = (
        sa.select(
            col(Evaluation.id).label("id"),
            col(Evaluation.claim_id).label("claim_id"),
            sa.func.row_number()
            .over(
                partition_by=col(Evaluation.claim_id),
                order_by=(col(Evaluation.evaluated_at).desc(), col(Evaluation.id).desc()),
            )
            .label("rank"),
        )
        .where(col(Evaluation.evaluated_at) <= at)
        .subquery()
    )
    return sa.select(ranked.c.id, ranked.c.claim_id).where(ranked.c.rank == 1).subquery()


def _known_by(at: dt.datetime) -> sa.ColumnElement[bool]:
    """The claim had a revision recorded by `at` (what the claim page's replay requires)."""
    return (
        sa.select(sa.literal(1))
        .where(col(ClaimRevision.claim_id) == col(Claim.id), col(ClaimRevision.created_at) <= at)
        .exists()
    )


def _revision_in_force(at: dt.datetime) -> Any:
    """(claim_id, version) of each claim's latest revision recorded by `at`: the version
    status.replay_claim_as_known picks (a claim without one was not known then)."""
    return (
        sa.select(
            col(ClaimRevision.claim_id).label("claim_id"),
            sa.func.max(col(ClaimRevision.version)).label("version"),
        )
        .where(col(ClaimRevision.created_at) <= at)
        .group_by(col(ClaimRevision.claim_id))
        .subquery()
    )


def _as_stored_items(rows: Sequence[Any]) -> list[ClaimItem]:
    """ClaimItems from (claim, claimant now, claimant then, evaluation, revision) rows: the
    claim as its revision then read and the claimant that revision named (today's when that
    slug is gone)."""
    items = []
    for claim, now, then, evaluation, revision in rows:
        claimant = then or now
        copy = _claim_then(claim, revision, claimant_id=claimant.id)
        items.append(ClaimItem(claim=copy, claimant=claimant, evaluation=evaluation))
    return items


def claims_as_stored(
    session: Session, at: dt.datetime, *, cursor: str | None = None, limit: int = 50
) -> ClaimPage:
    """One page of the claims tracker knew at `at`, each as its revision in force then read
    (title, quote, stated date, deadline, claimant, ...; see `_claim_then`) with the evaluation
    stored latest by then (None: not evaluated yet then), by the deadline then: one query, no
    replay.

    The page is picked from the revisions alone (claim id, revision, deadline then: a narrow
    sort), then only its rows are joined to the claim, claimants and latest evaluation: sorting
    every wide joined row took seconds on PostgreSQL at 10,000 claims.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    in_force = _revision_in_force(at)
    content = col(ClaimRevision.content)
    deadline_then = sa.func.coalesce(
        # date(): the ISO text as a date on PostgreSQL, unchanged ISO text on SQLite
        sa.func.date(content["deadline"].as_string(), type_=sa.Date()),
        sa.literal(_FAR_FUTURE, sa.Date()),
    )
    picked: Any = sa.select(
        col(ClaimRevision.claim_id).label("claim_id"),
        col(ClaimRevision.id).label("revision_id"),
        deadline_then.label("deadline"),
    ).join(
        in_force,
        sa.and_(
            col(ClaimRevision.claim_id) == in_force.c.claim_id,
            col(ClaimRevision.version) == in_force.c.version,
        ),
    )
    picked = _keyset(picked, "deadline", cursor, deadline_then, col(ClaimRevision.claim_id))
    page = picked.limit(limit + 1).subquery()
    stored = aliased(Evaluation)
    latest_id = (
        sa.select(col(stored.id))
        .where(col(stored.claim_id) == col(Claim.id), col(stored.evaluated_at) <= at)
        .order_by(col(stored.evaluated_at).desc(), col(stored.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    claimant_then = aliased(Claimant)
    stmt = (
        sa.select(Claim, Claimant, claimant_then, Evaluation, ClaimRevision)
        .join(page, page.c.claim_id == col(Claim.id))
        .join(ClaimRevision, col(ClaimRevision.id) == page.c.revision_id)
        .join(Claimant, col(Claimant.id) == col(Claim.claimant_id))
        .outerjoin(claimant_then, claimant_then.slug == content["claimant"].as_string())
        .outerjoin(Evaluation, col(Evaluation.id) == latest_id)
        .order_by(page.c.deadline, col(Claim.id))
    )
    rows = session.execute(stmt).all()
    return _claim_page(_as_stored_items(rows[:limit]), "deadline", len(rows) > limit)


def counts_as_stored(session: Session, at: dt.datetime) -> dict[str, int]:
    """`counts_by_state` as stored at `at`: claims known then, by their latest state then."""
    latest = _latest_evaluation_as_of(at)
    state = sa.func.coalesce(col(Evaluation.state), "unevaluated")
    rows = session.execute(
        sa.select(state, sa.func.count())
        .select_from(Claim)
        .outerjoin(latest, latest.c.claim_id == col(Claim.id))
        .outerjoin(Evaluation, col(Evaluation.id) == latest.c.id)
        .where(_known_by(at))
        .group_by(state)
    ).all()
    return {str(s): int(n) for s, n in rows}


# --- yearly reviews of open-ended claims (the calendar feed and the dashboard) ---

REVIEW_GRACE_DAYS = 31  # a 31 Dec review shows as due through 31 Jan


def first_review_date(claim: Claim) -> dt.date | None:
    """The first yearly review of an open-ended claim (`review: yearly`, no deadline): 31 Dec
    of the year it was stated (or recorded); later reviews fall on every 31 Dec after it.
    None for every other claim."""
    if claim.deadline is not None or (claim.spec or {}).get("review") != "yearly":
        return None
    year = claim.stated_on.year if claim.stated_on else claim.created_at.year
    return dt.date(year, 12, 31)


def next_review_date(claim: Claim, today: dt.date) -> dt.date | None:
    """The claim's next yearly review on or after `today` (None: not reviewed yearly)."""
    first = first_review_date(claim)
    if first is None:
        return None
    return max(first, dt.date(today.year, 12, 31))


def review_due(claim: Claim, today: dt.date) -> dt.date | None:
    """The yearly review that is due on `today`: from its 31 Dec through REVIEW_GRACE_DAYS
    after it (None when none is)."""
    first = first_review_date(claim)
    if first is None:
        return None
    last = next_review_date(claim, today)
    if last != today:
        last = dt.date(today.year - 1, 12, 31)
    if last < first or (today - last).days > REVIEW_GRACE_DAYS:
        return None
    return last


def yearly_reviews_due(session: Session, today: dt.date) -> list[tuple[ClaimItem, dt.date]]:
    """Active open-ended claims whose yearly review is due on `today`, with its date.

    Empty outside 31 Dec – 31 Jan without a query; else one query over the undated claims.
    """
    if not (today.month == 1 or (today.month, today.day) == (12, 31)):
        return []
    rows = session.exec(
        _item_select()
        .where(col(Claim.deadline).is_(None), col(Claim.lifecycle) == Lifecycle.active.value)
        .order_by(col(Claim.slug))
    ).all()
    due = [(item, review_due(item.claim, today)) for item in _items(rows)]
    return [(item, day) for item, day in due if day is not None]
