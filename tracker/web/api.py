"""The HTTP API under /api/v1: claims, status, history, deadlines, track records, exports, feeds.

Reads are public unless `require_token_for_reads`; writes need a bearer token with a scope.
Every error is a problem+json document (tracker.web.problems).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import icalendar
import sqlalchemy as sa
import yaml
from fastapi import APIRouter, Body, Depends, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from tracker import queries, verdict_marks
from tracker.auth import TokenError, has_scope, verify_token
from tracker.claims import ClaimFile
from tracker.clock import utcnow
from tracker.criteria import criterion_indicators
from tracker.dry_run import release_date as _release_date
from tracker.dry_run import target_periods as _target_periods
from tracker.i18n import Lang, current_lang, format_date, use_lang
from tracker.i18n.catalogs import _
from tracker.i18n.content import claim_text
from tracker.i18n.reasons import reason_text
from tracker.models import (
    ApiToken,
    Claim,
    Criterion,
    Indicator,
    Observation,
    Resolution,
)
from tracker.observations import known_as_of_clause
from tracker.sources.base import period_end
from tracker.web import schemas
from tracker.web.caching import CachedBody, StatusCache, conditional_response
from tracker.web.claim_query import ClaimQuery
from tracker.web.deps import (
    AsOfError,
    EngineDep,
    NowDep,
    SessionDep,
    as_of_problem,
    get_now,
    parse_as_of,
)
from tracker.web.feed_titles import change_title
from tracker.web.guard import GuardedRoute
from tracker.web.problems import ProblemError, validation_errors
from tracker.web.wording import (
    expected_on_text,
    parse_criterion,
    release_overdue,
    state_label,
    trend_uncertain,
)

API_PREFIX = schemas.API_PREFIX
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 422)
}

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A token from `tracker token create` (trk_<prefix>_<secret>).",
)
# an unknown value is a 422 naming the allowed ones (queries.SORT_KEYS, spelled out for typing)
SortKey = Literal["deadline", "-deadline", "slug", "-slug", "updated", "-updated"]
router = APIRouter(
    prefix=API_PREFIX, tags=["claims"], responses=PROBLEM_RESPONSES, route_class=GuardedRoute
)


# --- authentication ---


def _unauthorized(reason: str, *, error: str | None) -> ProblemError:
    challenge = 'Bearer realm="tracker"'
    if error:
        challenge += f', error="{error}"'
    return ProblemError(
        401,
        reason,
        code="unauthorized",
        title="Authentication required",
        headers={"WWW-Authenticate": challenge},
    )


def authenticate(request: Request, engine: Engine) -> ApiToken:
    """The token of this request, or 401 (missing, malformed, unknown or revoked)."""
    known: ApiToken | None = getattr(request.state, "api_token", None)
    if known is not None:  # checked already by guard.GuardedRoute, before the body was read
        return known
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("no bearer token was given", error=None)
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise _unauthorized(
            "the Authorization header must be 'Bearer <token>'", error="invalid_request"
        )
    try:
        # its own short transaction: last_used_at is recorded even if the request then fails
        with Session(engine, expire_on_commit=False) as session:
            token = verify_token(session, raw.strip(), now=utcnow())
            session.commit()
    except TokenError as exc:
        raise _unauthorized(exc.reason, error="invalid_token") from exc
    request.state.api_token = token
    return token


def require_scope(scope: str) -> Any:
    """A dependency: the request's token, which must carry `scope` (401 / 403 otherwise)."""

    def dependency(
        request: Request,
        engine: EngineDep,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> ApiToken:
        token = authenticate(request, engine)
        if not has_scope(token, scope):
            raise ProblemError(
                403,
                _("this token lacks the scope %(scope)r") % {"scope": scope},
                code="insufficient-scope",
                title="Forbidden",
                headers={
                    "WWW-Authenticate": (
                        f'Bearer realm="tracker", error="insufficient_scope", scope="{scope}"'
                    )
                },
            )
        return token

    return Depends(dependency)


WriteToken = Annotated[ApiToken, require_scope("claims:write")]
ResolveToken = Annotated[ApiToken, require_scope("resolve")]


# --- the claim dependency: load by slug or 404, written once ---


def not_found(slug: str) -> ProblemError:
    return ProblemError(
        404, _("no claim with slug %(slug)r") % {"slug": slug}, code="not-found", title="Not Found"
    )


def load_claim(session: Session, slug: str) -> queries.ClaimDetail:
    detail = queries.get_claim(session, slug)
    if detail is None:
        raise not_found(slug)
    return detail


def claim_dependency(slug: str, session: SessionDep) -> queries.ClaimDetail:
    return load_claim(session, slug)


ClaimDep = Annotated[queries.ClaimDetail, Depends(claim_dependency)]


# --- helpers ---


def json_bytes(model: Any) -> bytes:
    if hasattr(model, "model_dump_json"):
        return str(model.model_dump_json()).encode()
    return json.dumps(model, default=str, separators=(",", ":")).encode()


def public_base(request: Request) -> str:
    """The base of absolute links: settings.public_url when set, else the request's own base
    (the Host header, which TrustedHosts has checked against the allowed hosts)."""
    configured: str = request.app.state.settings.public_url
    return configured.rstrip("/") or str(request.base_url).rstrip("/")


def claim_modified(
    claim: Claim, evaluation: Any, resolution: Resolution | None = None
) -> dt.datetime:
    """When a claim's representation last changed: its own update, its status evaluation (a
    new status), its status change, and (when given) its latest verdict."""
    times = [claim.updated_at]
    if claim.status_changed_at is not None:
        times.append(claim.status_changed_at)
    if evaluation is not None:
        times.append(evaluation.evaluated_at)
    if resolution is not None:
        times.append(resolution.decided_at)
    return max(times)


def items_modified(
    session: Session, items: list[queries.ClaimItem], *, every_claim: bool = False
) -> dt.datetime | None:
    """Last-Modified of a list of claims: the newest claim_modified, and the newest verdict on
    any of them, in one query (`every_claim`: the items are all claims, so no id filter)."""
    if not items:
        return None
    newest = max(claim_modified(i.claim, i.evaluation) for i in items)
    stmt = select(sa.func.max(Resolution.decided_at))
    if not every_claim:
        stmt = stmt.where(col(Resolution.claim_id).in_([i.claim.id for i in items]))
    decided = session.exec(stmt).one()
    return max(newest, decided) if decided is not None else newest


def status_cache(request: Request) -> StatusCache:
    return app_status_cache(request.app.state)


def app_status_cache(state: Any) -> StatusCache:
    cache = getattr(state, "status_cache", None)
    if cache is None:
        cache = state.status_cache = StatusCache()
    return cache


# What a claim's cached body depends on: id, version, evaluation, updated_at, verdict, and its
# variant links (the claim it is a variant of, the claims that are its variants). The newest
# verdict too: a second verdict with the same state appends no evaluation. Variants: every write
# to a claim bumps its updated_at, so the count and the newest updated_at of the claims naming
# this one see a variant added, amended, withdrawn or re-pointed (indexed on variant_of); the
# parent's updated_at sees its title change.
_STAMP_SQL = (
    "SELECT c.slug, c.id, c.version, c.status_evaluation_id, c.updated_at, "
    "(SELECT max(r.id) FROM resolution r WHERE r.claim_id = c.id), "
    "(SELECT count(*) FROM claim v WHERE v.variant_of = c.slug), "
    "(SELECT max(v.updated_at) FROM claim v WHERE v.variant_of = c.slug), "
    "(SELECT p.updated_at FROM claim p WHERE p.slug = c.variant_of) "
    "FROM claim c WHERE c.slug "
)


def _claim_stamps(engine: Engine, slugs: list[str]) -> dict[str, tuple[Any, ...]]:
    """The stamps of these claims (unknown slugs are absent), in one indexed query.

    Raw DB-API on a pooled connection: measured ~10 µs against ~90 µs through SQLAlchemy Core,
    and this runs on every read of the hottest endpoint.
    """
    connection = engine.raw_connection()
    try:
        return _stamps_on(connection, engine.dialect.paramstyle, slugs)
    finally:
        connection.close()  # back to the pool, which ends the read transaction


def _session_stamp(session: Session, slug: str) -> tuple[Any, ...] | None:
    """The stamp of one claim, read in the session's transaction (after a write's commit)."""
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return _stamps_on(dbapi, connection.dialect.paramstyle, [slug]).get(slug)


def _stamps_on(connection: Any, paramstyle: str, slugs: list[str]) -> dict[str, tuple[Any, ...]]:
    mark = "?" if paramstyle == "qmark" else "%s"
    where = f"= {mark}" if len(slugs) == 1 else f"IN ({', '.join([mark] * len(slugs))})"
    cursor = connection.cursor()
    try:
        cursor.execute(_STAMP_SQL + where, tuple(slugs))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return {str(row[0]): tuple(row[1:]) for row in rows}


_STAMP_THREAD: list[ThreadPoolExecutor] = []


def _stamp_thread() -> ThreadPoolExecutor:
    """The one thread the stamp queries run on (made on first use): batches run one at a time
    anyway, and one thread that is always the same is cheaper to wake than anyio's pool, and
    never queued behind slow work there."""
    if not _STAMP_THREAD:
        _STAMP_THREAD.append(ThreadPoolExecutor(1, thread_name_prefix="claim-stamps"))
    return _STAMP_THREAD[0]


class ClaimStamps:
    """Reads claim stamps in the thread pool, the reads waiting at one moment in one query.

    A read that arrives while a query runs waits for the next one, which starts after it
    arrived: every read sees the database as of some moment after its request came (a write
    by any process before that is seen). Under load this is one thread hop and one pooled
    connection per batch rather than per request; alone, a read costs what it did. A pool
    timeout in the query reaches every read of its batch (each answers 503).
    """

    MAX_BATCH = 200

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._waiting: dict[str, list[asyncio.Future[tuple[Any, ...] | None]]] = {}
        self._draining = False

    async def stamp(self, slug: str) -> tuple[Any, ...] | None:
        future: asyncio.Future[tuple[Any, ...] | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(slug, []).append(future)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                slugs = list(self._waiting)[: self.MAX_BATCH]
                batch = {slug: self._waiting.pop(slug) for slug in slugs}
                try:
                    stamps = await asyncio.get_running_loop().run_in_executor(
                        _stamp_thread(), _claim_stamps, self.engine, slugs
                    )
                except BaseException as exc:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for slug, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(stamps.get(slug))
        finally:
            self._draining = False


def claim_stamps(state: Any) -> ClaimStamps:
    reader: ClaimStamps | None = getattr(state, "claim_stamps", None)
    if reader is None or reader.engine is not state.engine:
        reader = state.claim_stamps = ClaimStamps(state.engine)
    return reader


async def cached_claim(state: Any, slug: str, lang: Lang = "en") -> CachedBody | None:
    """The current body of a claim in `lang` (None: no such claim), from the cache when its
    stamp still matches; a batched stamp read, and on a miss one more hop to a worker thread to
    fill it. Nothing blocking runs on the event loop. Each language has its own entry (its
    reason texts differ); English is keyed by the slug alone."""
    stamp = await claim_stamps(state).stamp(slug)
    if stamp is None:
        return None
    cache = app_status_cache(state)
    key = slug if lang == "en" else f"{slug}\x00{lang}"
    entry = cache.get(key, stamp)
    if entry is None:
        entry = await run_in_threadpool(_fill_cache, cache, state.engine, slug, stamp, lang)
    return entry


# --- reads ---


@router.get(
    "/claims",
    response_model=schemas.ClaimPageOut,
    summary="List claims with filters, sorting and cursor pagination",
)
def list_claims(
    request: Request,
    session: SessionDep,
    params: Annotated[ClaimQuery, Query()],
) -> Response:
    """Filters combine with AND. Pages are keyset-paginated: pass `next_cursor` back as
    `?cursor=` (also given as a `Link: <…>; rel="next"` header) with the same filters and sort.
    Conditional GET: send the ETag back as If-None-Match for a 304.
    """
    # the one parser of the claim list's parameters (tracker.web.claim_query), shared with /claims
    try:
        page = queries.list_claims(
            session, params.filters(), params.sort, params.cursor, params.limit
        )
    except queries.InvalidCursor as exc:
        raise ProblemError(
            400,
            str(exc),
            code="bad-cursor",
            errors=[{"field": "cursor", "location": "query", "message": str(exc)}],
        ) from exc
    body = schemas.ClaimPageOut(
        items=[schemas.summary_out(i) for i in page.items], next_cursor=page.next_cursor
    )
    headers = language_headers()  # titles and reasons follow the reader's language
    if page.next_cursor:
        query = request.url.include_query_params(cursor=page.next_cursor).query
        next_url = f"{public_base(request)}{request.url.path}?{query}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    newest = items_modified(session, page.items)
    return conditional_response(
        request, json_bytes(body), "application/json", last_modified=newest, headers=headers
    )


@router.get(
    "/claims/{slug}",
    response_model=schemas.ClaimOut,
    summary="One claim: its words, criteria and current (or replayed) status",
    description=(
        "The current status is served from an in-process cache validated on every read by one "
        "indexed query, so a new evaluation shows at once. `?as_of=YYYY-MM-DD` answers as "
        "tracker knew the claim at the end of that UTC day: the version then (title, deadline, "
        "window, criteria), the verdict current then and the status replayed from the data "
        "known then; top-level `as_of` is set and `status.replay` is true. A date before the "
        'claim was first recorded answers 404 (problem type ending `not-known-then`, "claim not '
        'known to tracker on that date"); a malformed or future date answers 422 '
        "(`validation-error`, its `errors` naming the field `as_of`), as the dashboard does."
    ),
)
async def get_claim(
    request: Request,
    slug: str,
    as_of: Annotated[
        # read by parse_as_of (not pydantic's date) so the dashboard and the API agree; the
        # schema still says a date
        Annotated[str, WithJsonSchema({"type": "string", "format": "date"})] | None,
        Query(description="Replay the status as known on this date (YYYY-MM-DD, not after today)."),
    ] = None,
) -> Response:
    # The stamp lookup blocks (a pooled connection) and never runs on the event loop:
    # cached_claim reads it in the thread pool, batched with the reads waiting beside it. The
    # plain read (no as_of, public reads) is usually answered before FastAPI by
    # tracker.web.claim_reads, from the same cache; this route answers the rest.
    engine: Engine = request.app.state.engine
    if as_of:  # empty: now, as on the dashboard (deps.read_as_of)
        return await run_in_threadpool(_replayed_claim, request, engine, slug, as_of)
    entry = await cached_claim(request.app.state, slug, current_lang())
    if entry is None:
        raise not_found(slug)
    return claim_response(request, entry)


def language_headers(lang: Lang | None = None) -> dict[str, str]:
    """The headers of an answer whose text follows the reader's language (reasons)."""
    return {"Content-Language": lang or current_lang(), "Vary": "Accept-Language"}


def claim_response(request: HTTPConnection, entry: CachedBody) -> Response:
    return conditional_response(
        request,
        entry.body,
        "application/json",
        etag=entry.etag,
        last_modified=entry.last_modified,
        headers=language_headers(entry.language),  # type: ignore[arg-type]
    )


def _fill_cache(
    cache: StatusCache, engine: Engine, slug: str, stamp: tuple[Any, ...], lang: Lang = "en"
) -> CachedBody:
    with Session(engine, expire_on_commit=False) as session, use_lang(lang):
        detail = load_claim(session, slug)
        return _cache_claim(cache, slug, stamp, detail, schemas.claim_out(detail), lang)


def _cache_claim(
    cache: StatusCache,
    slug: str,
    stamp: tuple[Any, ...],
    detail: Any,
    out: schemas.ClaimOut,
    lang: Lang = "en",
) -> CachedBody:
    """Cache a claim's body in `lang` under `stamp`, which must have been read no later than
    `detail`: a body newer than its stamp only costs the next read a refill; an older one
    would be served as current."""
    modified = claim_modified(detail.claim, detail.evaluation, detail.resolution)
    linked = [detail.variant_parent, *detail.variants]
    modified = max([modified, *(r.updated_at for r in linked if r and r.updated_at)])
    key = slug if lang == "en" else f"{slug}\x00{lang}"
    return cache.put(key, stamp, json_bytes(out), modified, language=lang)


def _replayed_claim(request: Request, engine: Engine, slug: str, value: str) -> Response:
    now = get_now()  # the dashboard's clock, so both call the same day "the future"
    try:
        as_of = parse_as_of(value, now.date())
    except AsOfError as exc:  # the dashboard's reading and wording, as a validation problem
        raise as_of_problem(exc) from None
    with Session(engine, expire_on_commit=False) as session:
        detail = load_claim(session, slug)
        then = queries.claim_as_of(session, detail, as_of, now=now)
        if then is None:
            session.rollback()
            raise ProblemError(
                404,
                _("claim %(slug)r not known to tracker on %(day)s")
                % {"slug": slug, "day": as_of.isoformat()},
                code="not-known-then",
                title="Not Found",
                errors=[
                    {
                        "field": "as_of",
                        "location": "query",
                        "message": "claim not known to tracker on that date",
                    }
                ],
            )
        replayed = schemas.status_from_result(then.result, replay=True)
        body = json_bytes(schemas.claim_out(then.detail, status=replayed, as_of=then.as_of))
        session.rollback()  # a replay never writes
    return conditional_response(request, body, "application/json", headers=language_headers())


@router.get(
    "/claims/{slug}/history",
    response_model=schemas.HistoryOut,
    summary="The claim's status over time, with metric and projection at each point",
)
def claim_history(request: Request, claim: ClaimDep, session: SessionDep) -> Response:
    """One point per evaluation that changed anything (state, trend, metric, projection)."""
    points = queries.claim_history(session, claim.claim.id or 0)
    body = schemas.HistoryOut(
        slug=claim.claim.slug, points=[schemas.history_point(p) for p in points]
    )
    newest = max((p.evaluated_at for p in points), default=None)  # points are append-only
    return conditional_response(
        request,
        json_bytes(body),
        "application/json",
        last_modified=newest,
        headers=language_headers(),  # reasons in the reader's language
    )


@router.get(
    "/claims/{slug}/revisions",
    response_model=schemas.RevisionsOut,
    summary="Every version of the claim with its diff, note and content hash",
)
def claim_revisions(request: Request, claim: ClaimDep, session: SessionDep) -> Response:
    """Append-only: creation, each amendment (with its note and unified diff), withdrawal."""
    rows = queries.claim_revisions(session, claim.claim.id or 0)
    body = schemas.RevisionsOut(
        slug=claim.claim.slug, revisions=[schemas.revision_out(r) for r in rows]
    )
    newest = max((r.created_at for r in rows), default=None)  # revisions are append-only
    return conditional_response(request, json_bytes(body), "application/json", last_modified=newest)


@router.get(
    "/claims/{slug}/resolutions",
    response_model=schemas.ResolutionsOut,
    summary="Every verdict on the claim, superseded ones included",
)
def claim_resolutions(request: Request, claim: ClaimDep, session: SessionDep) -> Response:
    """Automatic and manual verdicts; a newer one names the one it supersedes."""
    rows = queries.claim_resolutions(session, claim.claim.id or 0)
    body = schemas.ResolutionsOut(
        slug=claim.claim.slug,
        resolutions=[schemas.resolution_out(r, claim.claim.deadline) for r in rows],
    )
    # a verdict is appended; the one it supersedes changes only then (superseded_by_id)
    newest = max((r.decided_at for r in rows), default=None)
    return conditional_response(request, json_bytes(body), "application/json", last_modified=newest)


@router.get(
    "/claims/{slug}/document",
    response_model=ClaimFile,
    summary="The claim as a claim document (the schema of claim files and of POST /claims)",
)
def claim_document(request: Request, claim: ClaimDep) -> Response:
    """The stored normalised document of the current version; `tracker claims export` writes
    the same documents out as YAML files."""
    from tracker.claims import claim_to_document

    body = json.dumps(claim_to_document(claim.claim), ensure_ascii=False).encode()
    return conditional_response(
        request, body, "application/json", last_modified=claim.claim.updated_at
    )


@router.get(
    "/deadlines",
    response_model=schemas.DeadlinesOut,
    summary="Upcoming deadlines, passed deadlines awaiting data, and claims needing review",
)
def deadlines(
    request: Request,
    session: SessionDep,
    now: NowDep,
    within_days: Annotated[int, Query(ge=0, le=36500, description="Horizon in days.")] = 90,
) -> Response:
    """For reviewers: what is due within `within_days`, and what already waits on them.
    Last-Modified: the newest change to any claim (one may enter or leave these lists), or the
    start of today (the lists are as of today)."""
    today = now.date()
    due = queries.upcoming_deadlines(session, today, within_days)
    body = schemas.DeadlinesOut(
        today=due.today,
        within_days=due.within_days,
        upcoming=[schemas.summary_out(i) for i in due.upcoming],
        awaiting_data=[schemas.summary_out(i) for i in due.awaiting_data],
        needs_review=[schemas.summary_out(i) for i in due.needs_review],
    )
    start_of_today = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    changed = queries.claims_last_changed(session)
    modified = max(changed, start_of_today) if changed is not None else start_of_today
    return conditional_response(
        request, json_bytes(body), "application/json", last_modified=modified
    )


@router.get(
    "/claimants/{slug}",
    response_model=schemas.TrackRecordOut,
    tags=["claimants"],
    summary="A claimant's track record and claims",
)
def claimant(request: Request, slug: str, session: SessionDep) -> Response:
    """Counts over the claimant's statements and their current verdicts: withdrawn claims and
    variant readings (another report's reading of a statement counted) are listed, not counted;
    share kept = true / (true + false + partial); lateness = verdict date − deadline in days;
    Brier score over true/false claims stating a probability.
    """
    record = queries.claimant_track_record(session, slug)
    if record is None:
        raise ProblemError(
            404, _("no claimant with slug %(slug)r") % {"slug": slug}, code="not-found"
        )
    body = schemas.track_record_out(record)
    return conditional_response(
        request, json_bytes(body), "application/json", headers=language_headers()
    )


EXPORT_COLUMNS = (
    "slug",
    "title",
    "claimant",
    "quote_original",
    "quote_language",
    "quote_en",
    "stated_on",
    "stated_precision",
    "kind",
    "lifecycle",
    "origin",
    "deadline",
    "tags",
    "state",
    "trend",
    "uncertain",
    "probability",
    "reason",
    "data_expected_on",
    "metric_value",
    "metric_unit",
    "metric_period",
    "threshold",
    "comparator",
    "projection_value",
    "projection_low",
    "projection_high",
    "projection_at",
    "evaluated_at",
    "version",
    "updated_at",
)


def _export_row(item: queries.ClaimItem) -> dict[str, Any]:
    claim, ev = item.claim, item.evaluation
    return {
        "slug": claim.slug,
        "title": claim.title,
        "claimant": item.claimant.slug,
        "quote_original": claim.quote_original,
        "quote_language": claim.quote_language,
        "quote_en": claim.quote_en,
        "stated_on": claim.stated_on.isoformat() if claim.stated_on else None,
        "stated_precision": claim.stated_precision,
        "kind": claim.kind,
        "lifecycle": claim.lifecycle,
        "origin": claim.origin,
        "deadline": claim.deadline.isoformat() if claim.deadline else None,
        "tags": ";".join(claim.tags or []),
        "state": ev.state if ev else claim.status_state,
        "trend": ev.trend if ev else claim.status_trend,
        # the dashboard's "(uncertain)": the projection's range includes the threshold
        "uncertain": (
            trend_uncertain(ev.trend, ev.projection_low, ev.projection_high, ev.threshold)
            if ev
            else False
        ),
        "probability": ev.probability if ev else None,
        "reason": ev.reason if ev else None,
        "data_expected_on": ev.data_expected_on.isoformat() if ev and ev.data_expected_on else None,
        "metric_value": ev.metric_value if ev else None,
        "metric_unit": ev.metric_unit if ev else None,
        "metric_period": ev.metric_period if ev else None,
        "threshold": ev.threshold if ev else None,
        "comparator": ev.comparator if ev else None,
        "projection_value": ev.projection_value if ev else None,
        "projection_low": ev.projection_low if ev else None,
        "projection_high": ev.projection_high if ev else None,
        "projection_at": ev.projection_at if ev else None,
        "evaluated_at": ev.evaluated_at.isoformat() if ev else None,
        "version": claim.version,
        "updated_at": claim.updated_at.isoformat(),
    }


# OWASP's rule against CSV injection: a cell a spreadsheet would read as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """`value` with a leading `'` when it is text a spreadsheet would run as a formula
    (numbers, including negative ones, are left as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@router.get(
    "/export.csv",
    tags=["export"],
    summary="Every claim with its current status, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(request: Request, session: SessionDep) -> Response:
    """One row per claim (RFC 4180 quoting via the csv module); tags joined with `;`. Text
    cells starting with =, +, -, @, tab or CR get a leading `'` so a spreadsheet shows them
    rather than running them as formulas (the JSON export keeps every value exact)."""
    items = queries.all_claims(session)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: spreadsheet_safe(v) for k, v in _export_row(item).items()})
    newest = items_modified(session, items, every_claim=True)
    return conditional_response(
        request,
        buffer.getvalue().encode(),
        "text/csv; charset=utf-8",
        last_modified=newest,
        headers={"Content-Disposition": 'attachment; filename="tracker-claims.csv"'},
    )


@router.get(
    "/export.json",
    tags=["export"],
    summary="Every claim with its current status, as JSON",
    response_model=list[schemas.ClaimSummary],
)
def export_json(request: Request, session: SessionDep) -> Response:
    """The same rows as the CSV, as the claim summaries of the list endpoint."""
    items = queries.all_claims(session)
    body = json.dumps(
        [json.loads(schemas.summary_out(i).model_dump_json()) for i in items],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    newest = items_modified(session, items, every_claim=True)
    return conditional_response(request, body, "application/json", last_modified=newest)


# --- calendar and feed ---


def _following_period(period: str, frequency: str) -> str | None:
    """The period after `period` (annual or monthly series; None for others)."""
    if frequency == "annual" and period.isdigit():
        return str(int(period) + 1)
    if frequency == "monthly" and len(period) == 7 and period[4] == "-":
        year, month = int(period[:4]), int(period[5:])
        return f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return None


def _latest_periods(session: Session, indicator_ids: list[int]) -> dict[int, str]:
    """Each indicator's latest period with a current value in use (not superseded, not
    quarantined)."""
    rows = session.exec(
        select(Observation.indicator_id, sa.func.max(Observation.period))
        .where(
            col(Observation.indicator_id).in_(indicator_ids),
            known_as_of_clause(None),
            col(Observation.value).is_not(None),
        )
        .group_by(col(Observation.indicator_id))
    ).all()
    return {indicator_id: period for indicator_id, period in rows if period}


@dataclass(slots=True)
class Release:
    """One expected data release: an indicator's period, and the claims that read it."""

    expected: dt.date
    indicator: Indicator
    slugs: list[str] = field(default_factory=list)
    deciding: bool = False  # the period decides a criterion (else: the next period after data)
    arrived: bool = False  # a value for this period (or a later one) is stored

    def overdue(self, today: dt.date) -> bool:
        """Expected before `today` and not arrived: the dashboard's "(overdue)"."""
        return not self.arrived and release_overdue(self.expected, today)


def _expected_releases(
    session: Session, claims: list[queries.ClaimItem]
) -> dict[tuple[str, str], Release]:
    """(indicator, period) → release, over current criteria: each period that decides a
    criterion, and once per indicator read the next period after its latest observation."""
    by_id = {i.claim.id: i.claim for i in claims}
    rows = session.exec(
        select(Criterion).where(
            col(Criterion.valid_until).is_(None), col(Criterion.claim_id).in_(list(by_id))
        )
    ).all()
    indicators = {i.key: i for i in session.exec(select(Indicator)).all()}
    releases: dict[tuple[str, str], Release] = {}
    readers: dict[str, list[str]] = {}  # indicator key → slugs of the claims reading it

    def add(key: str, period: str, slug: str, *, deciding: bool) -> None:
        indicator = indicators[key]
        release = releases.setdefault(
            (key, period), Release(_release_date(period, indicator), indicator)
        )
        release.deciding = release.deciding or deciding
        if slug not in release.slugs:
            release.slugs.append(slug)

    for row in rows:
        criterion = parse_criterion(row.spec)
        if criterion is None:
            continue  # a criterion that no longer parses has no release to announce
        keys = [k for k in criterion_indicators(criterion) if k in indicators]
        slug = by_id[row.claim_id].slug
        for key in keys:
            if slug not in readers.setdefault(key, []):
                readers[key].append(slug)
            for period in _target_periods(row.spec):
                add(key, period, slug, deciding=True)
    ids = [indicators[k].id for k in readers if indicators[k].id is not None]
    latest = _latest_periods(session, [i for i in ids if i is not None])
    for key, slugs in readers.items():
        indicator = indicators[key]
        observed = latest.get(indicator.id or 0)
        following = _following_period(observed, indicator.frequency) if observed else None
        if following is None:
            continue  # never observed, or a frequency without a next period
        for slug in slugs:
            add(key, following, slug, deciding=False)
    for (_key, period), release in releases.items():
        observed = latest.get(release.indicator.id or 0)
        release.arrived = observed is not None and period_end(observed) >= period_end(period)
    return releases


@router.get(
    "/calendar.ics",
    tags=["feeds"],
    summary="Every deadline, yearly review and expected data release, as an iCalendar feed",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar(request: Request, session: SessionDep, now: NowDep) -> Response:
    """All-day events with stable UIDs, each linking to the claim's dashboard page:
    `deadline-<slug>@tracker` for each deadline; `review-<slug>@tracker` for each open-ended
    claim (`review: yearly`), every 31 Dec (RRULE:FREQ=YEARLY); and
    `release-<indicator>-<period>@tracker` for each expected data release (period end plus
    the indicator's publication lag), once per indicator and period, listing the claims that
    read it: the periods that decide a criterion, and the next period after each read
    indicator's latest observation. A release whose expected date has passed without its data
    is overdue, as the dashboard says: its event moves to today, summarised "Overdue since
    <expected date>: …" (category `overdue`), until the data arrives.
    """
    items = [i for i in queries.all_claims(session) if i.claim.lifecycle != "withdrawn"]
    base = public_base(request)  # TRACKER_PUBLIC_URL when set
    today = now.date()
    start_of_today = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    stamp = max((i.claim.updated_at for i in items), default=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    cal = icalendar.Calendar()
    cal.add("prodid", "-//tracker//claims and data releases//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", _("tracker: deadlines and data releases"))
    lang = current_lang()  # `?lang=ja` in the calendar's URL (or the reader's cookie/headers)
    page_query = "" if lang == "en" else f"?lang={lang}"
    for item in items:
        claim = item.claim
        state = state_label(claim.status_state)
        event = icalendar.Event()
        if claim.deadline is not None:
            day = claim.deadline
            event.add("uid", f"deadline-{claim.slug}@tracker")
            event.add("summary", _("Deadline: %(title)s") % {"title": claim.title})
            event.add("categories", ["deadline"])
        elif (first_review := queries.first_review_date(claim)) is not None:
            day = first_review
            event.add("uid", f"review-{claim.slug}@tracker")
            event.add("summary", _("Yearly review: %(title)s") % {"title": claim.title})
            event.add("rrule", {"FREQ": "YEARLY"})
            event.add("categories", ["review"])
        else:
            continue
        event.add("dtstamp", claim.updated_at)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add(
            "description",
            _("Claim %(slug)s by %(who)s; status %(state)s.")
            % {"slug": claim.slug, "who": item.claimant.name, "state": state},
        )
        # the dashboard page, for people, in the calendar's language
        event.add("url", f"{base}/claims/{claim.slug}{page_query}")
        cal.add_component(event)
    releases = _expected_releases(session, items)
    # the releases follow the indicators (metadata, new data) and, once overdue, the date
    modified = [stamp]
    for release in releases.values():
        indicator = release.indicator
        modified += [t for t in (indicator.updated_at, indicator.last_success_at) if t is not None]
    for (key, period), release in sorted(releases.items()):
        indicator = release.indicator
        title = indicator.title or key
        details = _(
            "Period %(period)s ends %(end)s; publication lag %(lag)s days. Read by: %(slugs)s."
        ) % {
            "period": period,
            "end": format_date(period_end(period)),
            "lag": indicator.publication_lag_days,
            "slugs": ", ".join(release.slugs),
        }
        event = icalendar.Event()
        event.add("uid", f"release-{key}-{period}@tracker")
        if release.overdue(today):
            # a past event goes unnoticed in a calendar: an overdue release shows on today
            day = today
            what = _("Data") if release.deciding else _("Next data")
            expected = expected_on_text(release.expected, today)
            event.add("dtstamp", max(stamp, start_of_today))
            event.add(
                "summary",
                _("Overdue since %(day)s: %(title)s for %(period)s")
                % {"day": format_date(release.expected), "title": title, "period": period},
            )
            event.add(
                "description",
                _("%(what)s for %(period)s, %(expected)s: not published by %(today)s.")
                % {
                    "what": what,
                    "period": period,
                    "expected": expected,
                    "today": format_date(today),
                }
                + " "
                + details,
            )
            event.add("categories", ["data-release", "overdue"])
            modified.append(start_of_today)
        else:
            day = release.expected
            if release.deciding:
                summary = _("Data expected: %(title)s for %(period)s")
            else:
                summary = _("Next data expected: %(title)s for %(period)s")
            event.add("dtstamp", stamp)
            event.add("summary", summary % {"title": title, "period": period})
            event.add("description", details)
            event.add("categories", ["data-release"])
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        cal.add_component(event)
    return conditional_response(
        request,
        cal.to_ical(),
        "text/calendar; charset=utf-8",
        last_modified=max(modified) if items else None,
    )


ATOM_NS = "http://www.w3.org/2005/Atom"
VERDICT_STATES = frozenset(
    {"resolved_true", "resolved_false", "resolved_partial", "void", "ambiguous"}
)


def _atom_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@router.get(
    "/feed.atom",
    tags=["feeds"],
    summary="Status changes, newest first, as an Atom feed",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def feed(
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
) -> Response:
    """One entry per change of a claim's state or trend (a first evaluation is a change from
    nothing; evaluations that moved neither are history, not changes), newest first."""
    changes = queries.recent_status_changes(session, limit)
    base = public_base(request)
    updated = (
        changes[0].evaluation.evaluated_at if changes else dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    ET.register_namespace("", ATOM_NS)
    lang = current_lang()  # `?lang=ja` in the feed's URL (or the reader's cookie/headers)
    page_query = "" if lang == "en" else f"?lang={lang}"
    root = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": lang})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    sub(root, "id", "tag:tracker,2026:status-changes")
    sub(root, "title", _("tracker: claim status changes"))
    sub(root, "updated", _atom_time(updated))
    sub(root, "link", rel="self", href=f"{base}{API_PREFIX}/feed.atom{page_query}")
    sub(root, "link", rel="alternate", type="text/html", href=f"{base}/{page_query}")
    author = sub(root, "author")
    sub(author, "name", "tracker")
    # a change a verdict caused says when that verdict is early or overrides another
    marks = verdict_marks.marks_at(
        session,
        [(c.evaluation.claim_id, c.evaluation.evaluated_at, c.evaluation.id) for c in changes],
    )
    for change in changes:
        ev = change.evaluation
        entry = sub(root, "entry")
        sub(entry, "id", f"tag:tracker,2026:evaluation:{ev.id}")
        mark = marks.get(ev.id) if ev.state in VERDICT_STATES else None
        said = (
            _(" — verdict %(marks)s") % {"marks": _("; ").join(mark.words())}
            if mark and mark.any
            else ""
        )
        sub(entry, "title", f"{change_title(change)}{said}")
        for term in mark.terms() if mark else []:
            sub(entry, "category", term=term)
        sub(entry, "updated", _atom_time(ev.evaluated_at))
        slug = change.claim_slug  # slugs are URL-safe by the claim schema
        sub(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=f"{base}/claims/{slug}{page_query}",
        )
        sub(
            entry,
            "link",
            rel="related",
            type="application/json",
            href=f"{base}{API_PREFIX}/claims/{slug}",
        )
        title = claim_text(change.claim_words, "title")[0] or change.claim_title
        sub(entry, "summary", f"{title}. {reason_text(ev)}")
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return conditional_response(
        request, body, "application/atom+xml; charset=utf-8", last_modified=updated
    )


# --- writes ---

CLAIM_DOCUMENT_EXAMPLE: dict[str, Any] = {
    "slug": "china-population-below-1-35bn-2035",
    "title": "China's population falls below 1.35 billion by 2035",
    "claimant": "elon-musk",
    "quote": {
        "original": "China's population will be under 1.35 billion by 2035.",
        "language": "en",
        "en": "China's population will be under 1.35 billion by 2035.",
    },
    "stated": {"date": "2026-01-06", "precision": "day"},
    "deadline": "2035-12-31",
    "deadline_interpretation": "the 2035 annual value (World Bank, mid-year population)",
    "kind": "hard",
    "tags": ["population", "china"],
    "operationalised_by": "tracker",
    "criteria": [
        {
            "key": "population-2035",
            "type": "threshold",
            "series": {"indicator": "worldbank.population.chn"},
            "mode": "at_period",
            "period": "2035",
            "comparator": "<",
            "threshold": 1.35e9,
            "unit": "persons",
        }
    ],
}
CLAIM_JSON_TYPES = ("application/json",)  # and any application/*+json
CLAIM_YAML_TYPES = ("application/yaml", "application/x-yaml")
CLAIM_BODY_TYPES = (*CLAIM_JSON_TYPES, *CLAIM_YAML_TYPES)
CLAIM_YAML_EXAMPLE = yaml.safe_dump(
    CLAIM_DOCUMENT_EXAMPLE, sort_keys=False, allow_unicode=True, width=100
)
# The claim body is read by `posted_claim` (JSON or YAML), so it is documented here.
CLAIM_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "A claim document: the same schema as a claim file (claims/*.yaml), as JSON or as "
            "the YAML of a claim file (`Content-Type: application/yaml` or `application/x-yaml`; "
            "errors then name its line). `tracker claims schema` prints its JSON Schema. Any "
            "other Content-Type is a 415 naming the accepted ones."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "$ref": "#/components/schemas/ClaimFile",
                    "examples": [CLAIM_DOCUMENT_EXAMPLE],
                }
            },
            **{
                media: {
                    "schema": {
                        "type": "string",
                        "description": "A claim file's YAML (the ClaimFile schema).",
                    },
                    "example": CLAIM_YAML_EXAMPLE,
                }
                for media in CLAIM_YAML_TYPES
            },
        },
    }
}
CLAIM_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {
        "model": schemas.Problem,
        "content": {"application/problem+json": {}},
        "description": "The body is neither JSON nor YAML (the problem lists `accepted`).",
    }
}


@dataclass(frozen=True, slots=True)
class PostedClaim:
    """A posted claim document, parsed: the data and, for YAML, the line of every key."""

    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)


def _malformed_json(exc: json.JSONDecodeError) -> ProblemError:
    message = f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    error = {
        "field": "body",
        "location": "body",
        "message": message,
        "line": exc.lineno,
        "column": exc.colno,
        "type": "json_invalid",
    }
    return ProblemError(
        422,
        _("the request is invalid: body: %(message)s") % {"message": message},
        code="validation-error",
        errors=[error],
    )


def _unreadable_body(reason: str) -> ProblemError:
    message = f"the body is {reason}"
    error = {"field": "body", "location": "body", "message": message, "type": "body_invalid"}
    return ProblemError(
        422,
        _("the request is invalid: body: %(message)s") % {"message": message},
        code="validation-error",
        errors=[error],
    )


async def posted_claim(request: Request) -> PostedClaim:
    """The posted claim: JSON (also without a Content-Type) or a claim file's YAML."""
    from tracker.claims import ClaimValidationError, parse_yaml

    content_type = request.headers.get("content-type")
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    is_json = media in CLAIM_JSON_TYPES or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not is_json and media not in CLAIM_YAML_TYPES:
        raise ProblemError(
            415,
            _("the body's Content-Type %(media)s is not accepted here; send one of: %(types)s")
            % {"media": ascii(media), "types": ", ".join(CLAIM_BODY_TYPES)},
            code="unsupported-media-type",
            title="Unsupported Media Type",
            headers={"Accept-Post": ", ".join(CLAIM_BODY_TYPES)},
            extra={"accepted": list(CLAIM_BODY_TYPES)},
        )
    raw = await request.body()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _unreadable_body("not valid UTF-8") from None
    if is_json:
        try:
            return PostedClaim(json.loads(text))
        except json.JSONDecodeError as exc:
            raise _malformed_json(exc) from exc
        except RecursionError:
            raise _unreadable_body("malformed JSON: nested too deeply") from None
    try:
        # pure-Python YAML is bounded (see claims.parse_yaml) but ~1 s for a 1 MiB body: off
        # the event loop, so the other requests (and /healthz) are answered meanwhile
        parsed = await run_in_threadpool(parse_yaml, text, source_label="request body")
    except ClaimValidationError as exc:
        raise _issues_problem(exc) from exc
    except RecursionError:
        raise _unreadable_body("malformed YAML: nested too deeply") from None
    return PostedClaim(parsed.data, parsed.lines)


ClaimDocument = Annotated[PostedClaim, Depends(posted_claim)]


def _issues_problem(exc: Any, *, where: str = "body") -> ProblemError:
    errors = [
        {
            "field": issue.field,
            "location": where,
            "message": issue.message,
            "line": issue.line,
            "type": "claim_error",
        }
        for issue in exc.errors
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ProblemError(
        422,
        _("the claim document is invalid: %(fields)s") % {"fields": fields},
        code="validation-error",
        errors=errors,
    )


def _validate_document(session: Session, payload: PostedClaim | dict[str, Any]) -> Any:
    """A ClaimFile from a posted document (422 naming each bad field, all in one answer)."""
    from tracker.claims import ClaimValidationError, load_claim_document, stored_references
    from tracker.indicators import load_catalogue_from_db

    if not isinstance(payload, PostedClaim):
        payload = PostedClaim(payload)
    try:
        return load_claim_document(
            payload.data,
            source_label="request body",
            catalogue=load_catalogue_from_db(session),
            lines=payload.lines,  # YAML: each error names its line
            references=stored_references(session),  # claimant, source, variant_of too
        )
    except ClaimValidationError as exc:
        raise _issues_problem(exc) from exc


def _conflict(slug: str) -> ProblemError:
    return ProblemError(
        409,
        _("a claim with slug %(slug)r already exists; amend it with POST %(path)s")
        % {"slug": slug, "path": f"{API_PREFIX}/claims/{slug}/revisions"},
        code="conflict",
        title="Conflict",
    )


def _lock_before_writing(session: Session, claim_id: int | None) -> None:
    """Take the claim's evaluation lock before writing a claim that is then evaluated in the
    same transaction: taken after the claim row is written, it could deadlock on PostgreSQL
    with a sweep that holds the lock and waits for that row. Only this claim's: writes to other
    claims go on meanwhile (tracker.status.lock_evaluation_runs). A new claim (`claim_id`
    None) has no id yet and no other transaction can see it: the lock shared with every
    per-claim write is taken now, its own when it is evaluated."""
    from tracker.status import lock_evaluation_runs

    lock_evaluation_runs(session, [] if claim_id is None else [claim_id])


def _evaluate_now(session: Session, claim_id: int) -> None:
    from tracker.status import evaluate_claims

    evaluate_claims(session, now=utcnow(), claim_ids=[claim_id])


WrittenClaim = tuple[tuple[Any, ...] | None, Any, schemas.ClaimOut]


def _read_written(session: Session, slug: str) -> WrittenClaim:
    """The claim as written (its stamp first, then the claim): read in the write's own
    transaction just before its commit, it is what the commit makes current, without the
    connection checkout and transaction of reading it afterwards."""
    stamp = _session_stamp(session, slug)
    detail = load_claim(session, slug)
    return stamp, detail, schemas.claim_out(detail)


def _written(
    request: Request,
    session: Session,
    slug: str,
    action: str,
    status_code: int,
    written: WrittenClaim | None = None,
) -> Response:
    """The answer to a committed write (`written`: the claim read before the commit, else now).
    The claim as written is also cached under its stamp: its next read answers it from there
    instead of loading and serialising it again."""
    cache = status_cache(request)
    cache.invalidate(slug)
    stamp, detail, out = written or _read_written(session, slug)
    if stamp is not None:
        _cache_claim(cache, slug, stamp, detail, out, current_lang())
    body = schemas.WriteResult(slug=slug, version=detail.claim.version, action=action, claim=out)
    return Response(
        content=json_bytes(body),
        status_code=status_code,
        media_type="application/json",
        headers={"Location": f"{API_PREFIX}/claims/{slug}", **language_headers()},
    )


@router.post(
    "/claims",
    status_code=201,
    response_model=schemas.WriteResult,
    summary="Add a claim (same schema as a claim file); it is evaluated at once",
    description=(
        "Needs a token with scope `claims:write`. The body is JSON, or the YAML of a claim "
        "file. Answers 201 with a Location header, 409 when the slug exists (also under "
        "concurrent posts: the unique constraint decides), 415 for a body that is neither, "
        "and 422 naming each bad field (dotted path, message, line)."
    ),
    openapi_extra=CLAIM_BODY_OPENAPI,
    responses=CLAIM_BODY_RESPONSES,
)
def create_claim(
    request: Request, token: WriteToken, payload: ClaimDocument, session: SessionDep
) -> Response:
    from tracker.claims import ClaimValidationError, apply_claim

    claim = _validate_document(session, payload)
    if queries.claim_exists(session, claim.slug):
        raise _conflict(claim.slug)
    try:
        _lock_before_writing(session, None)
        result = apply_claim(session, claim, origin="api", author=token.name, now=utcnow())
        if result.outcome != "created":  # created by a concurrent request after our check
            raise _conflict(claim.slug)
        assert result.claim.id is not None
        _evaluate_now(session, result.claim.id)
        written = _read_written(session, claim.slug)
        session.commit()
    except IntegrityError as exc:
        # the unique constraint on claim.slug settles races: the loser answers 409, never 5xx
        session.rollback()
        raise _conflict(claim.slug) from exc
    except ClaimValidationError as exc:
        session.rollback()
        raise _issues_problem(exc) from exc
    return _written(request, session, claim.slug, "created", 201, written)


@router.post(
    "/claims:dry-run",
    response_model=schemas.DryRunOut,
    summary="Validate and evaluate a claim against current data without saving it",
    description=(
        "Says which indicators the claim reads, their latest values, when the deciding "
        "period's data is expected and whether that is before the deadline, the status it "
        "would have now, and any warnings (e.g. a vague deadline). The body is JSON, or the "
        "YAML of a claim file (errors then name its line). Runs inside a transaction that is "
        "always rolled back; `tracker claims dry-run FILE` does the same for claim files."
    ),
    openapi_extra=CLAIM_BODY_OPENAPI,
    responses=CLAIM_BODY_RESPONSES,
)
def dry_run(_token: WriteToken, payload: ClaimDocument, session: SessionDep) -> schemas.DryRunOut:
    from tracker.claims import ClaimValidationError
    from tracker.dry_run import dry_run_claim

    claim = _validate_document(session, payload)
    try:
        preview = dry_run_claim(session, claim, now=utcnow(), origin="api", note="dry run")
    except ClaimValidationError as exc:
        raise _issues_problem(exc) from exc
    return schemas.DryRunOut(
        valid=True,
        slug=claim.slug,
        saved=False,
        indicators=[
            schemas.DryRunIndicator(**dataclasses.asdict(item)) for item in preview.indicators
        ],
        status=(
            schemas.status_from_result(preview.status, replay=False) if preview.status else None
        ),
        warnings=[f"{w.field}: {w.message}" for w in preview.warnings],
    )


@router.post(
    "/claims/{slug}/revisions",
    status_code=201,
    response_model=schemas.WriteResult,
    summary="Amend a claim with a new version of its document and a required note",
    description=(
        "Needs a bearer token with scope `claims:write` (401 without one, 403 without the "
        "scope). The body holds the whole claim document, as in a claim file, and a `note` "
        "saying why it changes; the slug cannot change. A new version is stored (the earlier "
        "ones and their evaluations stay) and the claim is re-evaluated at once. Answers 201 "
        "with the new version, or 200 with action `unchanged` when the document is the same. "
        "Errors are problem+json: 404 unknown claim, 422 naming each bad field, 409 when a "
        "concurrent amendment took the version number (retry). Not cached."
    ),
)
def amend_claim(
    request: Request,
    slug: str,
    amendment: schemas.AmendIn,
    session: SessionDep,
    token: WriteToken,
) -> Response:
    from tracker.claims import ClaimValidationError, apply_claim

    current = load_claim(session, slug)
    document = {**amendment.claim}
    document.setdefault("slug", slug)
    if document["slug"] != slug:
        raise ProblemError(
            422,
            _("the document's slug differs from the claim's; a slug cannot change"),
            code="validation-error",
            errors=[{"field": "claim.slug", "location": "body", "message": f"must equal {slug}"}],
        )
    claim = _validate_document(session, document)
    try:
        _lock_before_writing(session, current.claim.id)
        result = apply_claim(
            session, claim, origin="api", author=token.name, note=amendment.note, now=utcnow()
        )
        if result.outcome == "unchanged":
            session.rollback()
            return _written(request, session, slug, "unchanged", 200)
        assert result.claim.id is not None
        _evaluate_now(session, result.claim.id)
        written = _read_written(session, slug)
        session.commit()
    except ClaimValidationError as exc:
        session.rollback()
        raise _issues_problem(exc) from exc
    except IntegrityError as exc:  # a concurrent amendment took this version number
        session.rollback()
        raise ProblemError(
            409, _("the claim changed while amending it; retry"), code="conflict"
        ) from exc
    return _written(request, session, slug, result.outcome, 201, written)


VerdictDocument = Annotated[
    dict[str, Any],
    Body(
        json_schema_extra={"$ref": "#/components/schemas/ResolveIn"},
        description="The verdict: outcome, rationale, evidence URLs and (when required) a note.",
        examples=[
            {
                "outcome": "false",
                "rationale": "No system met the rubric by 2026-12-31.",
                "evidence": ["https://example.org/report"],
            }
        ],
    ),
]


def _verdict_or_422(
    session: Session, claim: Claim, payload: dict[str, Any], now: dt.datetime
) -> schemas.ResolveIn:
    """The posted verdict, or one 422 naming every problem at once: the schema's (including
    each evidence URL) and the note rules of tracker.status, checked before anything is
    written."""
    from pydantic import ValidationError

    from tracker.status import verdict_note_problem

    errors: list[dict[str, Any]] = []
    verdict: schemas.ResolveIn | None = None
    try:
        verdict = schemas.ResolveIn.model_validate(payload)
    except ValidationError as exc:
        errors = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
    outcome, note = payload.get("outcome"), payload.get("note")
    if isinstance(outcome, str) and (note is None or isinstance(note, str)):
        why = verdict_note_problem(session, claim, outcome=outcome, note=note, now=now)
        if why is not None:
            errors.append({"field": "note", "location": "body", "message": why, "type": "missing"})
    if errors or verdict is None:
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        detail = errors[0]["message"] if len(errors) == 1 else f"the verdict is invalid: {fields}"
        raise ProblemError(422, detail, code="validation-error", errors=errors)
    return verdict


@router.post(
    "/claims/{slug}/resolutions",
    status_code=201,
    response_model=schemas.WriteResult,
    summary="Record a verdict (outcome, rationale, evidence); earlier verdicts are kept",
    description=(
        "Needs scope `resolve`. Judged claims are resolved only this way. A `note` saying why "
        "is required to override any earlier verdict, to decide before the deadline has "
        "passed (e.g. the claimant conceded), and on a hard claim to contradict the outcome "
        "the data decide; without it the answer is 422 naming the field `note`. Every problem "
        "of the request (schema, each evidence URL, the note) is named in one 422, before "
        "anything is written."
    ),
)
def resolve_claim(
    request: Request,
    claim: ClaimDep,
    payload: VerdictDocument,
    session: SessionDep,
    token: ResolveToken,
) -> Response:
    """Every problem of the verdict is reported in one 422 before anything is written."""
    from tracker.status import InvalidResolution, ResolutionConflict, record_manual_resolution

    now = utcnow()
    verdict = _verdict_or_422(session, claim.claim, payload, now)
    try:
        record_manual_resolution(
            session,
            claim.claim,
            outcome=verdict.outcome,
            decided_by=token.name,
            rationale=verdict.rationale,
            evidence=verdict.evidence,
            note=verdict.note,
            now=now,
        )
        session.commit()
    except InvalidResolution as exc:
        session.rollback()
        field = [{"field": exc.field, "location": "body", "message": str(exc)}]
        raise ProblemError(
            422, str(exc), code="validation-error", errors=field if exc.field else []
        ) from exc
    except (ResolutionConflict, IntegrityError) as exc:
        session.rollback()
        raise ProblemError(409, _("another verdict was recorded at the same time; retry")) from exc
    return _written(request, session, claim.claim.slug, "resolved", 201)


@router.post(
    "/claims/{slug}/withdraw",
    response_model=schemas.WriteResult,
    summary="Withdraw a claim (its history stays); needs a note",
    description=(
        "Needs a bearer token with scope `claims:write` (401 without one, 403 without the "
        "scope). Marks the claim withdrawn with the `note` as the reason, records a revision "
        "and re-evaluates it; its evaluations, verdicts and revisions stay readable. Answers "
        "200 with the claim as it now stands. Errors are problem+json: "
        "404 unknown claim, 422 a missing or short note, 409 already withdrawn or changed "
        "meanwhile (retry). Not cached."
    ),
)
def withdraw(
    request: Request,
    claim: ClaimDep,
    body: schemas.WithdrawIn,
    session: SessionDep,
    token: WriteToken,
) -> Response:
    from tracker.claims import withdraw_claim

    if claim.claim.lifecycle == "withdrawn":
        raise ProblemError(
            409,
            _("claim %(slug)r is already withdrawn") % {"slug": claim.claim.slug},
            code="conflict",
        )
    try:
        _lock_before_writing(session, claim.claim.id)
        withdraw_claim(session, claim.claim, note=body.note, author=token.name, now=utcnow())
        assert claim.claim.id is not None
        _evaluate_now(session, claim.claim.id)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ProblemError(409, _("the claim changed while withdrawing it; retry")) from exc
    return _written(request, session, claim.claim.slug, "withdrawn", 200)
