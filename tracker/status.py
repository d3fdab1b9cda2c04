"""Status over time: load what the evaluator needs, append changed evaluations, resolve, replay.

Every function takes a Session and never commits (the caller is the edge). Loading is a fixed
number of queries whatever the number of claims: claims, criteria, indicators, the latest
period of each indicator, the observations the evaluation can use, and resolutions.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.clock import utcnow
from tracker.config import Settings
from tracker.criteria import Criterion as CriterionSpec
from tracker.criteria import criterion_indicators
from tracker.db import lock_until_end_of_transaction
from tracker.evaluation import (
    EVALUATOR_VERSION,
    ClaimFacts,
    EvaluationResult,
    Evidence,
    Memo,
    ResolutionFacts,
    Serialised,
    SeriesData,
    SeriesPoint,
    compact_json,
    evaluate,
    fast_frozen_init,
    fingerprint_of,
    json_once,
    lookback_start,
    needed_since,
    remember_since,
    serialise,
)
from tracker.evaluation.text import referring
from tracker.models import (
    ChangeKind,
    Claim,
    ClaimKind,
    ClaimRevision,
    Criterion,
    Evaluation,
    Indicator,
    Lifecycle,
    Observation,
    Outcome,
    Resolution,
    ResolutionMethod,
    State,
    WaitExtension,
)
from tracker.observations import known_as_of_clause
from tracker.outlook import outlook_of
from tracker.sources.base import period_start
from tracker.webhooks import events as webhook_events

_CRITERION = TypeAdapter(CriterionSpec)
AUTO_DECIDER = "tracker"
# pg_advisory_xact_lock key serialising evaluation runs per database (b"trk-eval"); distinct
# from the scheduler's lease key, which shares PostgreSQL's advisory-lock key space
EVALUATION_LOCK_KEY = 0x7472_6B2D_6576_616C
# the first half of the two-int4 advisory-lock key of one claim's evaluation (b"trkc"; that key
# space is separate from the one-bigint space above), the claim id the second
CLAIM_LOCK_CLASS = 0x7472_6B63
# a run over more claims than this takes the whole-run lock instead of one lock per claim
# (PostgreSQL's lock table holds ~64 locks per connection)
MAX_CLAIM_LOCKS = 16


class InvalidResolution(ValueError):
    """A manual resolution breaks a rule; `field` names the input at fault (for a 422)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ResolutionConflict(RuntimeError):
    """Another resolution of the claim was recorded at the same time; retry."""


@fast_frozen_init
@dataclass(frozen=True)
class ClaimInputs:
    """Everything `evaluate` needs for one claim, plus the row ids status.py writes against."""

    claim_id: int
    claim_version: int
    facts: ClaimFacts
    criteria: tuple[CriterionSpec, ...]
    series: Mapping[str, SeriesData]
    criteria_error: str | None
    resolution_id: int | None
    status_evaluation_id: int | None
    status_state: str | None
    status_trend: str | None


def end_of_day(day: dt.date) -> dt.datetime:
    """The last microsecond of a UTC day: a replay "as of" a date sees that whole day."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


# --- loading ---


def _parse_criterion(row: Any, decoded: Mapping[str, Any] | None = None) -> CriterionSpec:
    """`decoded`: spec text -> its JSON value, for texts this run already decoded (not copied:
    read only)."""
    raw = row["spec"]
    if type(raw) is str:
        value = decoded.get(raw) if decoded is not None else None
        raw = json.loads(raw) if value is None else value
    spec = dict(raw or {})
    spec.setdefault("type", row["kind"])
    spec.setdefault("key", row["key"])
    spec.setdefault("role", row["role"])
    return _CRITERION.validate_python(spec)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, Mapping):
        return _date(value.get("date") or value.get("value") or value.get("end"))
    text = str(value)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _facts_from_revision(facts: ClaimFacts, revision: Mapping[str, Any]) -> ClaimFacts:
    """The claim as a past revision described it (deadline, window, lifecycle)."""
    content = revision["content"] or {}
    window = content.get("window") if isinstance(content.get("window"), Mapping) else {}
    deadline = content.get("deadline", facts.deadline)
    lifecycle = content.get("lifecycle") or facts.lifecycle
    if revision["change"] == "withdrawn":
        lifecycle = Lifecycle.withdrawn
    return ClaimFacts(
        slug=facts.slug,
        kind=content.get("kind") or facts.kind,
        deadline=_date(deadline),
        window_start=_date(content.get("window_start", (window or {}).get("start")))
        if ("window_start" in content or window)
        else facts.window_start,
        window_end=_date(content.get("window_end", (window or {}).get("end")))
        if ("window_end" in content or window)
        else facts.window_end,
        lifecycle=str(lifecycle),
        stated_on=facts.stated_on,
        resolution=facts.resolution,
        wait_until=facts.wait_until,
    )


def _pick_criteria(rows: list[Mapping[str, Any]], as_of: dt.datetime | None) -> list[Any]:
    """The rows of one claim's criteria version valid at `as_of` (else its earliest version)."""
    if as_of is None:
        return [r for r in rows if r["valid_until"] is None]
    valid = [
        r
        for r in rows
        if r["valid_from"] <= as_of and (r["valid_until"] is None or r["valid_until"] > as_of)
    ]
    if valid:
        return valid
    first = min((r["criteria_version"] for r in rows), default=None)
    return [r for r in rows if r["criteria_version"] == first]


@dataclass
class _Meta:
    """Everything about a set of claims except their observations (a fixed number of queries)."""

    as_of: dt.datetime | None
    claims: list[Any]
    criteria_rows: dict[int, list[Any]]  # claim id -> the criteria rows in force
    indicators: dict[str, Any]  # key -> indicator row
    resolutions: dict[int, Any]  # claim id -> current resolution row
    revisions: dict[int, Any]  # claim id -> revision in force (replays only)
    # claim id -> indicator keys its criteria read (claims with one spec text share the tuple)
    indicator_keys: dict[int, tuple[str, ...]]
    material: dict[str, str] = field(default_factory=dict)  # see `_indicator_material`
    decoded: dict[str, Any] = field(default_factory=dict)  # see `_criterion_keys`
    # `_inputs_key`'s parts shared by claims: per tuple of indicator keys, and per claim shape
    used_material: dict[tuple[str, ...], str] = field(default_factory=dict)
    claim_material: dict[tuple[Any, ...], str] = field(default_factory=dict)
    waits: dict[int, Any] = field(default_factory=dict)  # claim id -> latest WaitExtension row


_CONTAINERS = (dict, list, tuple)


def _spec_indicator_keys(spec: Any) -> list[str]:
    """Indicator keys named anywhere in a raw criterion spec (series and baseline series)."""
    if type(spec) is dict and "indicator" not in spec:  # the usual flat shape, in one pass
        keys: list[str] = []
        for node in spec.values():
            kind = type(node)
            if kind is dict:
                key = node.get("indicator")
                if type(key) is str and len(node) == 1:  # {"indicator": key}
                    if key not in keys:
                        keys.append(key)
                    continue
                if key is None and not any(type(v) in _CONTAINERS for v in node.values()):
                    continue  # a window or the like
                break
            if kind is list or kind is tuple:
                break
        else:
            return keys
    found: list[str] = []
    # iteratively (a recursive closure would be a reference cycle per call), depth
    # first in document order; only containers are visited
    stack: list[Any] = [spec]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            key = node.get("indicator")
            if type(key) is str and key not in found:
                found.append(key)
            stack.extend(reversed([v for v in node.values() if type(v) in _CONTAINERS]))
        elif kind is list or kind is tuple:
            stack.extend(reversed([v for v in node if type(v) in _CONTAINERS]))
    return found


# spec text -> the indicator keys it names (`_spec_indicator_keys`), kept across runs in this
# process: a sweep reads every claim's criteria, and the daily one finds the same texts
_SPEC_KEYS: dict[str, tuple[str, ...]] = {}
_SPEC_KEYS_MAX = 200_000


def clear_caches() -> None:
    """Forget what runs in this process cached (the next run starts cold, as after a restart)."""
    _SPEC_KEYS.clear()


def _criterion_keys(raw: Any, decoded: dict[str, Any]) -> tuple[str, ...] | list[str]:
    """`_spec_indicator_keys` of a criterion spec as the driver returned it (JSON text or value).

    A text not seen before is decoded, and its value kept in `decoded` (of this run) for
    `_parse_criterion`, which would decode it again."""
    if type(raw) is not str:
        return _spec_indicator_keys(raw)
    keys = _SPEC_KEYS.get(raw)
    if keys is None:
        if len(_SPEC_KEYS) >= _SPEC_KEYS_MAX:
            _SPEC_KEYS.clear()
        value = decoded[raw] = json.loads(raw)
        keys = _SPEC_KEYS[raw] = tuple(_spec_indicator_keys(value))
    return keys


def _load_meta(
    session: Session, claim_ids: Sequence[int] | None, as_of: dt.datetime | None
) -> _Meta | None:
    claim_t = Claim.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(
        claim_t.id,
        claim_t.slug,
        claim_t.kind,
        claim_t.deadline,
        claim_t.window_start,
        claim_t.window_end,
        claim_t.lifecycle,
        claim_t.stated_on,
        claim_t.version,
        claim_t.status_evaluation_id,
        claim_t.status_state,
        claim_t.status_trend,
        sa.type_coerce(claim_t.status_checked_at, _Raw()).label("status_checked_at"),
        claim_t.status_inputs_key,
        claim_t.status_data_watermark,
        sa.type_coerce(claim_t.status_stable_until, _Raw()).label("status_stable_until"),
    ).order_by(claim_t.slug)
    if claim_ids is not None:
        if not claim_ids:
            return None
        stmt = stmt.where(claim_t.id.in_(sa.bindparam("claim_ids", expanding=True)))
    # .all(): one fetchall, where iterating a result fetches row by row
    claims = list(session.execute(stmt, {"claim_ids": list(claim_ids or [])}).mappings().all())
    if not claims:
        return None
    ids = [c["id"] for c in claims]
    scope = claim_ids is not None

    def in_claims(column: Any) -> Any:
        return column.in_(sa.bindparam("claim_ids", expanding=True)) if scope else sa.true()

    crit_t = Criterion.__table__.c  # type: ignore[attr-defined]
    # the spec as its JSON text, decoded only for the claims evaluated (`_parse_criterion`);
    # its indicator keys come from `_criterion_keys`, which knows the texts of earlier runs
    spec = sa.cast(crit_t.spec, sa.Text()).label("spec")
    columns = [crit_t.id, crit_t.claim_id, crit_t.key, crit_t.role, crit_t.kind, spec]
    if as_of is None:  # the rows in force: those not closed (no version or validity to pick)
        crit_stmt = sa.select(*columns).where(
            in_claims(crit_t.claim_id), crit_t.valid_until.is_(None)
        )
    else:
        crit_stmt = sa.select(
            *columns, crit_t.criteria_version, crit_t.valid_from, crit_t.valid_until
        ).where(in_claims(crit_t.claim_id))
    all_rows: dict[int, list[Any]] = defaultdict(list)
    for row in (
        session.execute(crit_stmt.order_by(crit_t.claim_id, crit_t.id), {"claim_ids": ids})
        .mappings()
        .all()
    ):
        all_rows[row["claim_id"]].append(row)
    if as_of is None:
        criteria_rows = {cid: all_rows.get(cid, []) for cid in ids}
    else:
        criteria_rows = {cid: _pick_criteria(all_rows.get(cid, []), as_of) for cid in ids}

    decoded: dict[str, Any] = {}
    indicator_keys = {
        cid: tuple(_criterion_keys(rows[0]["spec"], decoded))  # each call's keys are distinct
        if len(rows) == 1
        else tuple(dict.fromkeys(k for r in rows for k in _criterion_keys(r["spec"], decoded)))
        for cid, rows in criteria_rows.items()
    }
    keys = sorted({k for ks in indicator_keys.values() for k in ks})
    ind_t = Indicator.__table__.c  # type: ignore[attr-defined]
    indicators: dict[str, Any] = {}
    if keys:
        for row in (
            session.execute(
                sa.select(
                    ind_t.id,
                    ind_t.key,
                    ind_t.unit,
                    ind_t.frequency,
                    ind_t.publication_lag_days,
                    ind_t.revision_window_days,
                    ind_t.spec,
                ).where(ind_t.key.in_(sa.bindparam("keys", expanding=True))),
                {"keys": keys},
            )
            .mappings()
            .all()
        ):
            indicators[row["key"]] = row

    res_t = Resolution.__table__.c  # type: ignore[attr-defined]
    res_stmt = sa.select(Resolution.__table__).where(in_claims(res_t.claim_id))  # type: ignore[attr-defined]
    if as_of is None:
        res_stmt = res_stmt.where(res_t.superseded_by_id.is_(None))
    else:
        res_stmt = res_stmt.where(res_t.decided_at <= as_of)
    resolutions: dict[int, Any] = {}
    for row in (
        session.execute(res_stmt.order_by(res_t.decided_at, res_t.id), {"claim_ids": ids})
        .mappings()
        .all()
    ):
        resolutions[row["claim_id"]] = row  # the latest wins

    revisions: dict[int, Any] = {}
    if as_of is not None:
        rev_t = ClaimRevision.__table__.c  # type: ignore[attr-defined]
        rev_stmt = (
            sa.select(rev_t.claim_id, rev_t.version, rev_t.change, rev_t.content)
            .where(in_claims(rev_t.claim_id), rev_t.created_at <= as_of)
            .order_by(rev_t.claim_id, rev_t.version)
        )
        for row in session.execute(rev_stmt, {"claim_ids": ids}).mappings().all():
            revisions[row["claim_id"]] = row
    meta = _Meta(as_of, claims, criteria_rows, indicators, resolutions, revisions, indicator_keys)
    meta.decoded = decoded
    meta.waits = _latest_waits(session, ids if scope else None, as_of)
    return meta


def _latest_waits(
    session: Session, claim_ids: Sequence[int] | None, as_of: dt.datetime | None
) -> dict[int, Any]:
    """Per claim, the latest wait extension recorded by `as_of` (a replay ignores later ones)."""
    wait_t = WaitExtension.__table__.c  # type: ignore[attr-defined]
    stmt = sa.select(wait_t.id, wait_t.claim_id, wait_t.wait_until)
    if claim_ids is not None:
        stmt = stmt.where(wait_t.claim_id.in_(sa.bindparam("claim_ids", expanding=True)))
    if as_of is not None:
        stmt = stmt.where(wait_t.recorded_at <= as_of)
    waits: dict[int, Any] = {}
    rows = session.execute(
        stmt.order_by(wait_t.recorded_at, wait_t.id), {"claim_ids": list(claim_ids or [])}
    )
    for row in rows.mappings().all():
        waits[row["claim_id"]] = row  # the latest wins
    return waits


def _indicator_material(meta: _Meta, key: str) -> str:
    """The part of `_inputs_key` for one indicator (computed once per indicator per run)."""
    cache = meta.material
    text = cache.get(key)
    if text is None:
        ind = meta.indicators.get(key)
        if ind is None:
            used = None
        else:
            used = [
                ind["id"],
                ind["unit"],
                ind["frequency"],
                ind["publication_lag_days"],
                ind["revision_window_days"],
                (ind["spec"] or {}).get("projection_model"),
                (ind["spec"] or {}).get("grace_days"),
                (ind["spec"] or {}).get("gaps"),
            ]
        text = cache[key] = f"{key!r}: {used!r}"
    return text


def _inputs_key(meta: _Meta, claim: Any) -> str:
    """A hash of everything a claim's evaluation reads except the clock.

    Equal keys mean equal inputs apart from observations (checked separately, by row id
    watermark): the same claim version and dates, criteria rows, current resolution and
    indicator metadata.
    """
    claim_id = claim["id"]
    resolution = meta.resolutions.get(claim_id)
    wait = meta.waits.get(claim_id)
    keys = meta.indicator_keys.get(claim_id, ())
    used = meta.used_material.get(keys)
    if used is None:
        used = meta.used_material[keys] = ", ".join(_indicator_material(meta, k) for k in keys)
    # the repr of the list [EVALUATOR_VERSION, version, kind, lifecycle, str(deadline),
    # str(window_start), str(window_end), criteria row ids, resolution id, wait id], written
    # out (the same text: the keys stored by earlier runs stay valid); its head is the same
    # for claims alike, written once per run
    shape = (
        claim["version"],
        claim["kind"],
        claim["lifecycle"],
        claim["deadline"],
        claim["window_start"],
        claim["window_end"],
    )
    head = meta.claim_material.get(shape)
    if head is None:
        version, kind, lifecycle, deadline, window_start, window_end = shape
        head = meta.claim_material[shape] = (
            f"[{EVALUATOR_VERSION!r}, {version!r}, {kind!r}, {lifecycle!r}, {str(deadline)!r}, "
            f"{str(window_start)!r}, {str(window_end)!r}, "
        )
    rows = meta.criteria_rows.get(claim_id, ())
    row_ids = f"[{rows[0]['id']!r}]" if len(rows) == 1 else repr([row["id"] for row in rows])
    material = (
        f"{head}{row_ids}, {resolution['id'] if resolution is not None else None!r}, "
        f"{wait['id'] if wait is not None else None!r}]{{{used}}}"
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _parse_all(
    meta: _Meta, claim_ids: Iterable[int]
) -> dict[int, tuple[tuple[CriterionSpec, ...], str | None]]:
    """Each claim's criteria (the rows in force, parsed) and the error of the last that does not
    parse. Rows alike (the same spec text, type, key and role) are parsed once per run and
    share one (frozen) criterion, whose result the evaluation shares among the claims holding
    it over the same series and deadline (`evaluate_criterion`). Claims
    whose rows are alike share one tuple of criteria, so that what is derived from a claim's
    criteria (`_build_inputs`) is derived once per distinct tuple."""
    parsed: dict[int, tuple[tuple[CriterionSpec, ...], str | None]] = {}
    seen: dict[tuple[Any, ...], CriterionSpec | str] = {}  # row content -> criterion or error
    claims_alike: dict[tuple[Any, ...], tuple[tuple[CriterionSpec, ...], str | None]] = {}
    no_rows: list[Any] = []
    for claim_id in claim_ids:
        rows = meta.criteria_rows.get(claim_id, no_rows)
        contents = tuple([(row["spec"], row["kind"], row["key"], row["role"]) for row in rows])
        claim_parsed = claims_alike.get(contents)
        if claim_parsed is None:
            specs: list[CriterionSpec] = []
            error = None
            for content, row in zip(contents, rows, strict=True):
                done = seen.get(content)
                if done is None:
                    try:
                        done = _parse_criterion(row, meta.decoded)
                    except ValidationError as exc:
                        first = exc.errors()[0]
                        where = ".".join(str(p) for p in first["loc"])
                        done = f"criterion {row['key']!r} is invalid at {where}: {first['msg']}"
                    seen[content] = done
                if isinstance(done, str):
                    error = done
                else:
                    specs.append(done)
            claim_parsed = claims_alike[contents] = (tuple(specs), error)
        parsed[claim_id] = claim_parsed
    return parsed


def _build_inputs(
    session: Session, meta: _Meta, claims: Sequence[Any], memo: Memo | None = None
) -> list[ClaimInputs]:
    """Parse the criteria of `claims`, read the observations they can use, assemble inputs.

    `memo`: the one the inputs will be evaluated with; it keeps what the loading already
    worked out of each claim's criteria (`remember_since`), for the evaluation to reuse.
    """
    parsed = _parse_all(meta, (c["id"] for c in claims))
    # per distinct tuple of criteria (`_parse_all` shares them): the windows they name and the
    # indicator keys they read, in order, once each
    distinct = {id(criteria): criteria for criteria, _ in parsed.values()}
    since_of = {
        of: needed_since(criteria) if memo is None else remember_since(memo, criteria)
        for of, criteria in distinct.items()
    }
    reads = {
        of: list(dict.fromkeys(k for c in criteria for k in criterion_indicators(c)))
        for of, criteria in distinct.items()
    }
    wanted_keys = {k for keys in reads.values() for k in keys}
    indicators = [meta.indicators[k] for k in sorted(wanted_keys) if k in meta.indicators]
    points = _load_points(session, indicators, since_of.values(), meta.as_of)
    shared = {  # one SeriesData per indicator, shared by every claim that reads it
        row["key"]: SeriesData(
            key=row["key"],
            unit=row["unit"],
            frequency=row["frequency"],
            publication_lag_days=row["publication_lag_days"],
            revision_window_days=row["revision_window_days"],
            points=points.get(row["id"], ()),
            projection_model=(row["spec"] or {}).get("projection_model"),
            grace_days=(row["spec"] or {}).get("grace_days"),
            gaps=(row["spec"] or {}).get("gaps") or "unknown",
        )
        for row in indicators
    }
    # and one series mapping per distinct tuple of criteria (nothing writes to it)
    series_of = {
        of: {key: shared[key] for key in keys if key in shared} for of, keys in reads.items()
    }
    resolutions, waits, revisions = meta.resolutions, meta.waits, meta.revisions
    inputs: list[ClaimInputs] = []
    for claim in claims:
        claim_id = claim["id"]
        criteria, error = parsed[claim_id]
        res = resolutions.get(claim_id)
        wait = waits.get(claim_id)
        facts = ClaimFacts(
            slug=claim["slug"],
            kind=claim["kind"],
            deadline=claim["deadline"],
            window_start=claim["window_start"],
            window_end=claim["window_end"],
            lifecycle=claim["lifecycle"],
            stated_on=claim["stated_on"],
            resolution=_resolution_facts(res) if res is not None else None,
            wait_until=wait["wait_until"] if wait is not None else None,
        )
        version = claim["version"]
        revision = revisions.get(claim_id) if revisions else None
        if revision is not None and revision["version"] != version:
            facts = _facts_from_revision(facts, revision)
            version = revision["version"]
        inputs.append(
            ClaimInputs(
                claim_id=claim_id,
                claim_version=version,
                facts=facts,
                criteria=criteria,
                series=series_of[id(criteria)],
                criteria_error=error,
                resolution_id=res["id"] if res is not None else None,
                status_evaluation_id=claim["status_evaluation_id"],
                status_state=claim["status_state"],
                status_trend=claim["status_trend"],
            )
        )
    return inputs


def load_claim_inputs(
    session: Session, claim_ids: Sequence[int] | None = None, *, as_of: dt.datetime | None = None
) -> list[ClaimInputs]:
    """Claims with their criteria, series (as known at `as_of`) and current resolution.

    `as_of` None: the current criteria, observations and resolutions. Otherwise: the criteria
    version valid then, observations known then, resolutions decided by then and (from the
    claim revisions) the deadline, window and lifecycle of the version current then.
    A fixed number of queries (six, seven for a replay), whatever the number of claims.
    """
    meta = _load_meta(session, claim_ids, as_of)
    if meta is None:
        return []
    return _build_inputs(session, meta, meta.claims)


def _resolution_facts(row: Mapping[str, Any]) -> ResolutionFacts:
    return ResolutionFacts(
        outcome=row["outcome"],
        method=row["method"],
        provisional=bool(row["provisional"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        final_after=row["final_after"],
        id=row["id"],
    )


def _load_points(
    session: Session,
    indicators: Sequence[Any],
    needed: Iterable[Mapping[str, dt.date]],  # each claim's `needed_since`
    as_of: dt.datetime | None,
) -> dict[int, tuple[SeriesPoint, ...]]:
    """Observations known at `as_of` that an evaluation can use (two queries).

    The evaluator fits the last points within `LOOKBACK_DAYS` of a series' latest point and reads
    the windows its criteria name (`needed_since`); older rows cannot change any result, so they
    are not read.
    """
    if not indicators:
        return {}
    obs = Observation.__table__.c  # type: ignore[attr-defined]
    ind = Indicator.__table__.c  # type: ignore[attr-defined]
    # max(period) rather than max(period_start): ISO period strings sort in time order, and
    # (indicator_id, period) is indexed (partially, on the current rows). One correlated
    # subquery per indicator: an index seek each, where a GROUP BY would read every row.
    latest_period = (
        sa.select(sa.func.max(obs.period))
        .where(obs.indicator_id == ind.id, known_as_of_clause(as_of))
        .scalar_subquery()
    )
    latest = {
        row[0]: row[1]
        for row in session.execute(
            sa.select(ind.id, latest_period).where(ind.id.in_(sa.bindparam("ids", expanding=True))),
            {"ids": [row["id"] for row in indicators]},
        )
        if row[1] is not None
    }
    since: dict[str, dt.date] = {}
    for claim_since in needed:
        for key, day in claim_since.items():
            if key not in since or day < since[key]:
                since[key] = day
    groups: dict[dt.date | None, list[int]] = defaultdict(list)
    for row in indicators:
        last = latest.get(row["id"])
        if last is None:
            continue
        bound = lookback_start(period_start(last), row["frequency"])
        if bound is not None and row["key"] in since:
            bound = min(bound, since[row["key"]])
        groups[bound].append(row["id"])
    if not groups:
        return {}
    clauses = []
    params: dict[str, Any] = {}
    for n, (bound, members) in enumerate(sorted(groups.items(), key=lambda g: str(g[0]))):
        member_clause = obs.indicator_id.in_(sa.bindparam(f"ids{n}", expanding=True))
        params[f"ids{n}"] = members
        if bound is None:
            clauses.append(member_clause)
        else:
            # the year prefix lets the (indicator_id, period) index narrow the range first
            clauses.append(
                sa.and_(
                    member_clause,
                    obs.period >= sa.bindparam(f"year{n}", str(bound.year)),
                    obs.period_start >= sa.bindparam(f"since{n}", bound),
                )
            )
    stmt = (
        sa.select(
            obs.id,
            obs.indicator_id,
            obs.period,
            sa.type_coerce(obs.period_start, _Raw()),
            obs.value,
            sa.type_coerce(obs.known_from, _Raw()),
            obs.fetch_run_id,
        )
        .where(sa.or_(*clauses), known_as_of_clause(as_of))
        .order_by(obs.indicator_id, obs.period)
    )
    result: dict[int, list[SeriesPoint]] = defaultdict(list)
    # a run reads few distinct dates and vintages: convert each once, not once per row
    starts: dict[Any, dt.date] = {}
    vintages: dict[Any, dt.datetime] = {}
    for obs_id, indicator_id, period, start, value, known_from, fetch_run_id in session.execute(
        stmt, params
    ).all():
        begins = starts.get(start)
        if begins is None:
            begins = starts[start] = _as_date(start)
        vintage = vintages.get(known_from)
        if vintage is None:
            vintage = vintages[known_from] = _as_utc(known_from)
        result[indicator_id].append(
            SeriesPoint(period, begins, value, obs_id, fetch_run_id, vintage)
        )
    return {k: tuple(v) for k, v in result.items()}


class _Raw(sa.types.TypeDecorator[Any]):
    """A column read as the driver returns it (no per-row conversion; see `_load_points`)."""

    impl = sa.String()
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


def _as_date(raw: Any) -> dt.date:
    """A DATE as the driver returned it (SQLite: ISO text) to a date."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    return dt.date.fromisoformat(str(raw)[:10])


def _as_utc(raw: Any) -> dt.datetime:
    """A timestamp as the driver returned it to an aware UTC datetime (as `UTCDateTime` reads)."""
    value = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# --- evaluating ---


def error_result(
    facts: ClaimFacts, message: str, *, now: dt.datetime, as_of: dt.datetime | None = None
) -> EvaluationResult:
    """An evaluation in state `error` (e.g. a stored criterion no longer parses)."""
    return EvaluationResult(
        slug=facts.slug,
        state=State.error,
        trend=None,
        reason=message,
        metric=None,
        threshold=None,
        comparator=None,
        margin=None,
        progress=None,
        projection=None,
        required_growth=None,
        observed_growth=None,
        data_expected_on=None,
        outcome=None,
        provisional=None,
        final_after=None,
        criteria=(),
        evidence=Evidence(),
        evaluated_at=now,
        as_of=as_of,
        replay=as_of is not None,
    )


def evaluate_inputs(
    inputs: ClaimInputs,
    *,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
    memo: Memo | None = None,
) -> EvaluationResult:
    """Evaluate loaded inputs (pure). Share one `memo` across inputs from one load (same as_of)."""
    if inputs.criteria_error is not None:
        return error_result(inputs.facts, inputs.criteria_error, now=now, as_of=as_of)
    return evaluate(inputs.facts, inputs.criteria, inputs.series, now=now, as_of=as_of, memo=memo)


def claims_using_indicators(session: Session, indicator_ids: Iterable[int]) -> list[int]:
    """Ids of claims whose current criteria read any of these indicators (two queries)."""
    wanted = list(indicator_ids)
    if not wanted:
        return []
    ind_t = Indicator.__table__.c  # type: ignore[attr-defined]
    keys = set(
        session.execute(
            sa.select(ind_t.key).where(ind_t.id.in_(sa.bindparam("ids", expanding=True))),
            {"ids": wanted},
        ).scalars()
    )
    crit_t = Criterion.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(crit_t.claim_id, crit_t.key, crit_t.role, crit_t.kind, crit_t.spec).where(
            crit_t.valid_until.is_(None)
        )
    ).mappings()
    found: set[int] = set()
    for row in rows:
        if row["claim_id"] in found:
            continue
        try:
            spec = _parse_criterion(row)
        except ValidationError:
            continue
        if keys.intersection(criterion_indicators(spec)):
            found.add(row["claim_id"])
    return sorted(found)


def _finite(value: Any) -> Any:
    """A float column's value as `to_dict()` gives it (non-finite floats as None)."""
    if type(value) is float and not math.isfinite(value):
        return None
    return value


# the float columns of an Evaluation row that `_row_parts` copies from a result
_FLOAT_COLUMNS = (
    "metric_value",
    "threshold",
    "margin",
    "progress",
    "projection_value",
    "projection_low",
    "projection_high",
    "required_growth",
    "observed_growth",
    "probability",
)


def _row_parts(
    result: EvaluationResult,
    *,
    claim_id: int,
    claim_version: int,
    inputs_key: str | None,
    data_watermark: int | None,
    memo: Memo | None = None,
) -> tuple[dict[str, Any], dict[str, Any], Serialised]:
    """The scalar columns of a result's Evaluation row, its `details` but the criteria, and the
    result serialised (each result is encoded once; see `serialise`)."""
    ser = serialise(result, memo)
    metric, projection = result.metric, result.projection
    trend = result.trend
    values = {
        "claim_id": claim_id,
        "claim_version": claim_version,
        "evaluated_at": result.evaluated_at,
        "as_of": result.as_of or result.evaluated_at,
        "state": result.state.value,
        "trend": trend.value if trend is not None else None,
        "reason": result.reason,
        "metric_value": metric.value if metric else None,
        "metric_unit": metric.unit if metric else None,
        "metric_period": metric.period[:20] if metric else None,
        "threshold": result.threshold,
        "comparator": result.comparator,
        "margin": result.margin,
        "progress": result.progress,
        "projection_value": projection.value if projection else None,
        "projection_low": projection.low if projection else None,
        "projection_high": projection.high if projection else None,
        "projection_at": projection.at if projection else None,
        "projection_model": projection.model if projection else None,
        "required_growth": result.required_growth,
        "observed_growth": result.observed_growth,
        "data_expected_on": result.data_expected_on,
        "probability": result.probability,
        "fingerprint": ser.fingerprint,
        "evaluator_version": result.evaluator_version,
        "review_reason": result.review_reason,
        "overdue_since": result.overdue_since,
    }
    for name in _FLOAT_COLUMNS:  # non-finite floats as None (as `to_dict()` gives them)
        value = values[name]
        if type(value) is float and not math.isfinite(value):
            values[name] = None
    outcome, final_after, stable = result.outcome, result.final_after, result.stable_until
    details = {
        "outcome": outcome.value if outcome is not None else None,
        "provisional": result.provisional,
        "final_after": final_after.isoformat() if final_after is not None else None,
        "projection_n_points": projection.n_points if projection else None,
        "projection_residual_sd": _finite(projection.residual_sd) if projection else None,
        "projection_fit_from": projection.fit_from if projection else None,
        # the observed point the projection starts from (the chart draws it from there)
        "projection_from_period": projection.from_period if projection else None,
        "projection_from_value": _finite(projection.from_value) if projection else None,
        "replay": result.replay,
        "inputs_key": inputs_key,
        "stable_until": stable.isoformat() if stable is not None else None,
        "data_watermark": data_watermark,
        # then the reason parts (`_stored_parts`), last
    }
    return values, details, ser


def _stored_parts(result: EvaluationResult) -> Any:
    """The reason as structured parts, rendered per language at read time (tracker.i18n.
    reasons), with its criteria's parts referred to (they are stored beside it); not
    fingerprinted: the English reason they render is."""
    return referring(
        result.reason_parts,
        {id(c.reason_parts): i for i, c in enumerate(result.criteria) if c.reason_parts},
    )


def evaluation_row_values(
    result: EvaluationResult,
    *,
    claim_id: int,
    claim_version: int,
    inputs_key: str | None = None,
    data_watermark: int | None = None,
) -> dict[str, Any]:
    """The Evaluation row for a result (`as_of` is the evaluation time for a live evaluation).

    `details` also keeps `inputs_key`, `stable_until` and `data_watermark` (the newest
    observation row id then), with which a later run can tell that re-evaluating would give the
    same answer (see `evaluate_claims`).
    """
    values, details, ser = _row_parts(
        result,
        claim_id=claim_id,
        claim_version=claim_version,
        inputs_key=inputs_key,
        data_watermark=data_watermark,
    )
    values["details"] = {
        "criteria": json.loads(ser.criteria_json),
        **details,
        "reason_parts": _stored_parts(result),
        "criteria_reason_parts": [c.reason_parts for c in result.criteria],
    }
    values["evidence"] = json.loads(ser.evidence_json)
    return values


class _JsonText(str):
    """Already-encoded JSON for a JSON column (written as is by `_executemany`)."""

    __slots__ = ()


def _stored_row(
    result: EvaluationResult,
    *,
    claim_id: int,
    claim_version: int,
    inputs_key: str,
    data_watermark: int,
    memo: Memo | None = None,
) -> dict[str, Any]:
    """`evaluation_row_values` with `details` and `evidence` as JSON text (the criteria, most
    of a row, encoded once for both the fingerprint and the stored details). `memo`: the one
    the results were evaluated with (see `serialise`).

    With `memo`, results alike but for their slug (claims alike share one: `evaluate`) store
    rows alike but for the claim's own columns, its inputs key and the fingerprint (which
    covers the slug): the rest of the row is made once, from the first of them (`_RowTemplate`).
    """
    if memo is None:
        template = _row_template(result, claim_id, claim_version, data_watermark, None)
    else:
        # by the objects of every field but the slug (`_RESULT_SLUG_FIRST`)
        key = ("stored-row", data_watermark, *map(id, tuple(result.__dict__.values())[1:]))
        hit = memo.get(key)
        if hit is None:  # the result is kept in the template: the ids stay unique
            hit = memo[key] = _row_template(result, claim_id, claim_version, data_watermark, memo)
        template = hit
    values = template.values.copy()
    values["claim_id"], values["claim_version"] = claim_id, claim_version
    if result is not template.result:  # another slug: its own fingerprint
        values["fingerprint"] = fingerprint_of(
            result, template.criteria_json, template.evidence_json
        )
    values["details"] = _JsonText(
        f"{template.details_head}{compact_json(inputs_key)}{template.details_tail}"
    )
    values["evidence"] = _JsonText(template.evidence_json)
    return values


@dataclass(frozen=True, slots=True)
class _RowTemplate:
    """The stored row of `result` but the claim's columns and inputs key: `values` (its scalar
    columns, fingerprint included), and the JSON text of `details` before and after the
    inputs key's value (`details_head`, `details_tail`)."""

    result: EvaluationResult
    values: dict[str, Any]
    details_head: str
    details_tail: str
    criteria_json: str
    evidence_json: str


def _row_template(
    result: EvaluationResult,
    claim_id: int,
    claim_version: int,
    data_watermark: int,
    memo: Memo | None,
) -> _RowTemplate:
    values, details, ser = _row_parts(
        result,
        claim_id=claim_id,
        claim_version=claim_version,
        inputs_key=None,
        data_watermark=data_watermark,
        memo=memo,
    )
    # `details` but its criteria and reason parts, split at the inputs key (its value is the
    # claim's own): compact JSON joins a dict's items with "," and nothing else
    names = list(details)
    at = names.index("inputs_key")
    head = compact_json({n: details[n] for n in names[:at]})[1:-1]
    tail = compact_json({n: details[n] for n in names[at + 1 :]})[1:-1]
    # the reason parts (the last keys) spliced in, each encoded once per parts object (results
    # of claims that differ in more than their slug may still hold the same parts: a shared
    # criterion's, which the claim's reason refers to)
    if memo is None:
        reason_parts = compact_json(_stored_parts(result))
    else:
        # by the parts and the criteria's parts they may refer to (by position)
        key = (
            "stored-parts-json",
            id(result.reason_parts),
            *[id(c.reason_parts) for c in result.criteria],
        )
        hit = memo.get(key)
        if hit is None:  # what the ids are of is kept with it: the ids stay unique
            hit = memo[key] = (result, compact_json(_stored_parts(result)))
        reason_parts = hit[1]
    criteria_parts = ",".join([json_once(c.reason_parts, memo) for c in result.criteria])
    return _RowTemplate(
        result=result,
        values=values,
        details_head=f'{{"criteria":{ser.criteria_json}{"," if head else ""}{head},"inputs_key":',
        details_tail=(
            f'{"," if tail else ""}{tail},"reason_parts":{reason_parts}'
            f',"criteria_reason_parts":[{criteria_parts}]}}'
        ),
        criteria_json=ser.criteria_json,
        evidence_json=ser.evidence_json,
    )


# `_stored_row` keys a result's row on every field but the first, the slug
_RESULT_SLUG_FIRST = fields(EvaluationResult)[0].name == "slug"
assert _RESULT_SLUG_FIRST, "EvaluationResult's first field must be the slug"


def evaluate_claims(
    session: Session,
    *,
    now: dt.datetime,
    claim_ids: Sequence[int] | None = None,
    indicator_ids: Sequence[int] | None = None,
    force: bool | None = None,
) -> list[EvaluationResult]:
    """Evaluate claims (all, the given ones, or those reading the given indicators) at `now`.

    Appends an Evaluation only when its fingerprint differs from the claim's latest (noting the
    state and trend of that latest one on the row: `status_change_columns`), copies the
    status onto the claim, and records automatic resolutions (a claim resolving, a provisional
    outcome flipping or becoming final).

    Skipping (`force=False`; the default for a sweep of all claims, i.e. no `claim_ids` and no
    `indicator_ids`): a claim whose inputs are unchanged since its latest evaluation (same
    claim version, criteria, resolution and indicator metadata, and no observation row of its
    indicators inserted since — row ids above the stored watermark) and whose result cannot
    change by the passage of time before `now` (its `stable_until`) is neither re-evaluated nor
    in the returned list. With `claim_ids` or `indicator_ids` every selected claim is evaluated
    and returned unless `force=False` is passed. The stored history is the same either way;
    only the work differs.

    Runs that touch the same claim are serialised (`lock_evaluation_runs`, the first
    statement): processes starting together, or the scheduler and an API write, each read the
    fingerprints the previous run committed, so one change appends one Evaluation, not one per
    process. A run of a few given claims (an API write) locks just those claims, so writes to
    different claims evaluate side by side; a sweep (all claims, or those reading given
    indicators) excludes every other run. The locks are held until the caller's transaction
    ends.

    A fixed number of statements whatever the number of claims. Does not commit.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware UTC")
    lock_evaluation_runs(session, None if indicator_ids is not None else claim_ids)
    with _collector_paused():
        return _evaluate_claims(
            session, now=now, claim_ids=claim_ids, indicator_ids=indicator_ids, force=force
        )


def lock_evaluation_runs(session: Session, claim_ids: Sequence[int] | None = None) -> None:
    """Wait for any other evaluation run that could touch the same claims to commit, then
    exclude such runs until this transaction ends. Idempotent within a transaction; call it
    before reading (and before writing) anything an evaluation depends on.

    `claim_ids` None (or more than MAX_CLAIM_LOCKS of them): the whole-run lock, excluding
    every other run (tracker.db.lock_until_end_of_transaction). A few claim ids (a write to a
    claim): on PostgreSQL the whole-run lock shared (a sweep waits for these writes, and they
    for it) and an exclusive lock per claim, in id order (no deadlock between two such runs),
    so writes to different claims do not wait for each other; a new claim's own id can be
    locked after its row is written (no other transaction sees the row). SQLite has one write
    lock for the whole database: the same as the whole-run lock. A transaction that takes the
    claim locks must not take the whole-run lock afterwards (take that one first).
    """
    table = Evaluation.__table__  # type: ignore[attr-defined]
    postgres = session.get_bind().dialect.name == "postgresql"
    if claim_ids is None or len(set(claim_ids)) > MAX_CLAIM_LOCKS or not postgres:
        lock_until_end_of_transaction(session, EVALUATION_LOCK_KEY, table)
        return
    session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(EVALUATION_LOCK_KEY)))
    for claim_id in sorted(set(claim_ids)):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_CLASS, claim_id)))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during one batch, then restore it.

    A sweep allocates a few objects per observation and many per claim, all alive until the
    end; the collector would walk them again and again (about a sixth of a 10,000-claim run)
    while finding nothing to free. Reference counting still frees everything as usual.

    On the way out, what the batch made and still holds (its results, until the caller drops
    them) is handed to the oldest generation unscanned (`gc.freeze()` then `gc.unfreeze()`),
    where only a full collection looks at it, as at any long-lived object: otherwise the
    first young collection after the batch walks all of it at once (about 5 % of a
    10,000-claim run) and again finds nothing. Skipped when the process keeps objects frozen
    itself (a pre-fork server's `gc.freeze()`): `unfreeze` would release those too.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _evaluate_claims(
    session: Session,
    *,
    now: dt.datetime,
    claim_ids: Sequence[int] | None,
    indicator_ids: Sequence[int] | None,
    force: bool | None,
) -> list[EvaluationResult]:
    if indicator_ids is not None:
        wanted = claims_using_indicators(session, indicator_ids)
        claim_ids = wanted if claim_ids is None else sorted(set(wanted) & set(claim_ids))
    if force is None:
        force = claim_ids is not None  # asked about these claims: answer for each
    meta = _load_meta(session, claim_ids, None)
    if meta is None:
        return []
    today = now.astimezone(dt.UTC).date()
    obs_t = Observation.__table__.c  # type: ignore[attr-defined]
    watermark = int(session.scalar(sa.select(sa.func.max(obs_t.id))) or 0)
    keys = {c["id"]: _inputs_key(meta, c) for c in meta.claims}
    todo = meta.claims
    if not force:
        previous = _last_checks(meta.claims)
        candidates = {
            c["id"]: previous[c["id"]]
            for c in meta.claims
            if c["id"] in previous and _still_valid(previous[c["id"]], keys[c["id"]], today)
        }
        changed_data = _indicators_changed_since(
            session, min((p.data_watermark for p in candidates.values()), default=watermark)
        )
        todo = [
            c
            for c in meta.claims
            if c["id"] not in candidates
            or _data_moved(meta, c["id"], candidates[c["id"]].data_watermark, changed_data)
        ]
    if not todo:
        return []
    current = _current_evaluations(session, [c["status_evaluation_id"] for c in todo])
    memo: Memo = {}  # the inputs share one SeriesData per indicator: fit each series once
    inputs = _build_inputs(session, meta, todo, memo)
    results: list[EvaluationResult] = []
    new_rows: list[dict[str, Any]] = []
    changed: list[tuple[ClaimInputs, EvaluationResult]] = []
    for item in inputs:
        result = evaluate_inputs(item, now=now, memo=memo)
        results.append(result)
        values = _stored_row(
            result,
            claim_id=item.claim_id,
            claim_version=item.claim_version,
            inputs_key=keys[item.claim_id],
            data_watermark=watermark,
            memo=memo,
        )
        follows = current.get(item.status_evaluation_id or -1)
        if follows is None or follows.fingerprint != values["fingerprint"]:
            values.update(
                status_change_columns(
                    None if follows is None else (follows.state, follows.trend),
                    values["state"],
                    values["trend"],
                )
            )
            new_rows.append(values)
            changed.append((item, result))
    ev_table = Evaluation.__table__  # type: ignore[attr-defined]
    new_ids = _insert_rows(session, ev_table, new_rows, now=now, time_column="evaluated_at")
    evaluation_of = {item.claim_id: item.status_evaluation_id for item in inputs}
    for (item, _), evaluation_id in zip(changed, new_ids, strict=True):
        evaluation_of[item.claim_id] = evaluation_id
    appended = {
        item.claim_id: (evaluation_id, row)
        for (item, _), row, evaluation_id in zip(changed, new_rows, new_ids, strict=True)
    }
    # the claims' rows: what this run read, and the status of each evaluation just appended
    _record_checks(session, inputs, results, keys, watermark, appended, now=now)
    webhook_events.record_status_moves(
        session,
        (
            webhook_events.StatusMove(
                item.claim_id,
                evaluation_id,
                row["previous_state"],
                row["previous_trend"],
                row["state"],
                row["trend"],
                getattr(result, "review_reason", None),
            )
            for (item, result), row, evaluation_id in zip(changed, new_rows, new_ids, strict=True)
        ),
        now=now,
    )
    _record_auto_resolutions(session, inputs, results, evaluation_of, now=now)
    return results


@fast_frozen_init  # one per claim in every sweep
@dataclass(frozen=True)
class _Previous:
    inputs_key: str | None
    stable_until: dt.date | None
    evaluated_on: dt.date
    data_watermark: int


def _last_checks(claims: Sequence[Mapping[str, Any]]) -> dict[int, _Previous]:
    """Per claim, what the last run that evaluated it read (`_record_checks`), from the claim
    rows `_load_meta` already read; claims no run has checked yet, or without a current
    evaluation, are absent."""
    out: dict[int, _Previous] = {}
    days: dict[Any, dt.date] = {}  # a run stamps all its claims alike: convert each once
    stable: dict[Any, dt.date] = {}
    for c in claims:
        checked, key, watermark = (
            c["status_checked_at"],
            c["status_inputs_key"],
            c["status_data_watermark"],
        )
        if checked is None or key is None or watermark is None or c["status_evaluation_id"] is None:
            continue  # never checked, or no evaluation to stand on: evaluate
        evaluated_on = days.get(checked)
        if evaluated_on is None:
            evaluated_on = days[checked] = _as_utc(checked).date()
        raw_until = c["status_stable_until"]
        until = None
        if raw_until is not None:
            until = stable.get(raw_until)
            if until is None:
                until = stable[raw_until] = _as_date(raw_until)
        out[c["id"]] = _Previous(key, until, evaluated_on, int(watermark))
    return out


def _record_checks(
    session: Session,
    inputs: Sequence[ClaimInputs],
    results: Sequence[EvaluationResult],
    keys: Mapping[int, str],
    watermark: int,
    appended: Mapping[int, tuple[int, Mapping[str, Any]]],  # claim id -> (new id, its row)
    *,
    now: dt.datetime,
) -> None:
    """Note on each evaluated claim's row what this run read and until when its answer holds,
    whether or not it appended an Evaluation: a result equal to the stored one appends nothing
    (the history stays free of repeats), and without this the sweep would compare with the
    older inputs of that stored one and evaluate the claim again on every run.

    The claims that did append one (`appended`: claim id -> the new evaluation's id and row)
    get their status from it in the same statement: state, trend, evaluation id, outlook and
    review reason (`tracker.outlook.outlook_of`, from the row's state, trend and band), and
    `status_changed_at` = `now` where the state or trend differs from the claim's. One
    executemany per shape (claims that appended, claims that did not): each claim row, and
    each index over its status columns, is written once.
    """
    claim_t = Claim.__table__  # type: ignore[attr-defined]
    c = claim_t.c
    checks = {
        "status_checked_at": sa.bindparam("b_checked_at", type_=c.status_checked_at.type),
        "status_inputs_key": sa.bindparam("b_inputs_key", type_=c.status_inputs_key.type),
        "status_data_watermark": sa.bindparam("b_watermark", type_=c.status_data_watermark.type),
        "status_stable_until": sa.bindparam("b_stable_until", type_=c.status_stable_until.type),
    }
    where = c.id == sa.bindparam("b_id", type_=c.id.type)
    state = sa.bindparam("b_state", type_=c.status_state.type)
    trend = sa.bindparam("b_trend", type_=c.status_trend.type)
    moved = sa.or_(c.status_state.is_distinct_from(state), c.status_trend.is_distinct_from(trend))
    status = {
        "status_state": state,
        "status_trend": trend,
        "status_evaluation_id": sa.bindparam("b_evaluation_id", type_=c.status_evaluation_id.type),
        "status_outlook": sa.bindparam("b_outlook", type_=c.status_outlook.type),
        "status_review_reason": sa.bindparam("b_review_reason", type_=c.status_review_reason.type),
        "status_changed_at": sa.case(
            (moved, sa.bindparam("b_changed_at", type_=c.status_changed_at.type)),
            else_=c.status_changed_at,
        ),
    }
    checked: list[dict[str, Any]] = []
    pointed: list[dict[str, Any]] = []
    for item, result in zip(inputs, results, strict=True):
        row = {
            "b_id": item.claim_id,
            "b_checked_at": now,
            "b_inputs_key": keys[item.claim_id],
            "b_watermark": watermark,
            "b_stable_until": result.stable_until,
        }
        new = appended.get(item.claim_id)
        if new is None:
            checked.append(row)
        else:
            evaluation_id, stored = new
            row["b_evaluation_id"], row["b_changed_at"] = evaluation_id, now
            row["b_state"], row["b_trend"] = stored["state"], stored["trend"]
            row["b_outlook"] = outlook_of(
                stored["state"],
                stored["trend"],
                stored["projection_low"],
                stored["projection_high"],
                stored["projection_value"],
                stored["threshold"],
            )
            row["b_review_reason"] = stored["review_reason"]  # the overview's overdue count
            pointed.append(row)
    if checked:
        _executemany(session, sa.update(claim_t).where(where).values(checks), checked)
    if pointed:
        _executemany(session, sa.update(claim_t).where(where).values({**checks, **status}), pointed)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Claim) and obj.id in appended:
                session.expire(obj)


def _current_evaluations(session: Session, evaluation_ids: Sequence[int | None]) -> dict[int, Any]:
    """Evaluation id -> (id, fingerprint, state, trend) of the claims' current evaluations: the
    fingerprint a new result must differ from to be appended, and the status it follows."""
    ev_t = Evaluation.__table__.c  # type: ignore[attr-defined]
    ids = [i for i in evaluation_ids if i is not None]
    rows = session.execute(  # always run, even for no ids: a fixed number of statements
        sa.select(ev_t.id, ev_t.fingerprint, ev_t.state, ev_t.trend).where(
            ev_t.id.in_(sa.bindparam("ids", expanding=True))
        ),
        {"ids": ids},
    )
    return {row.id: row for row in rows}


def status_change_columns(
    previous: tuple[str, str | None] | None, state: str, trend: str | None
) -> dict[str, str | None]:
    """The Evaluation columns saying what a row appended with `state` and `trend` does to the
    claim's status, given the (state, trend) of the evaluation it follows (None: the claim's
    first). Every writer of Evaluation rows sets them with this."""
    if previous is None:
        kind: str | None = ChangeKind.first.value
        previous_state, previous_trend = None, None
    else:
        previous_state, previous_trend = previous
        moved = (previous_state, previous_trend) != (state, trend)
        kind = ChangeKind.moved.value if moved else None
    return {
        "previous_state": previous_state,
        "previous_trend": previous_trend,
        "status_change": kind,
    }


def _indicators_changed_since(session: Session, watermark: int) -> dict[int, int]:
    """Indicator id -> its newest observation row id, for indicators with rows after `watermark`.

    Observation rows are only ever inserted (a revision inserts too), so a row id above the
    watermark of a claim's last evaluation is exactly "this indicator's data changed since".
    Reads only the rows inserted since (a range of the primary key).
    """
    obs_t = Observation.__table__.c  # type: ignore[attr-defined]
    # grouped by `indicator_id + 0`, not the column: grouping by the indexed column makes
    # SQLite walk a whole index in indicator order (tens of ms over a million rows) instead of
    # seeking the few rows above the watermark by primary key
    indicator = (obs_t.indicator_id + sa.literal_column("0")).label("indicator_id")
    rows = session.execute(
        sa.select(indicator, sa.func.max(obs_t.id)).where(obs_t.id > watermark).group_by(indicator)
    )
    return {int(row[0]): row[1] for row in rows}


def _data_moved(meta: _Meta, claim_id: int, watermark: int, changed: Mapping[int, int]) -> bool:
    for key in meta.indicator_keys.get(claim_id, []):
        indicator = meta.indicators.get(key)
        if indicator is not None and changed.get(indicator["id"], 0) > watermark:
            return True
    return False


def _still_valid(previous: _Previous, inputs_key: str, today: dt.date) -> bool:
    """True when the latest evaluation was made on these inputs and time has not overtaken it."""
    if previous is None or previous.inputs_key != inputs_key:
        return False
    if previous.evaluated_on > today:
        return False  # asked about an earlier day than the stored answer: evaluate
    return previous.stable_until is None or today < previous.stable_until


def _bind(column: sa.Column[Any], name: str, dialect: sa.Dialect) -> Any:
    """A bound parameter for `column`; JSON columns take the JSON text (cast where needed)."""
    if isinstance(column.type, sa.JSON):
        param = sa.bindparam(name, type_=sa.Text())
        return param if dialect.name == "sqlite" else sa.cast(param, column.type)
    return sa.bindparam(name, type_=column.type)


_UNSEEN = object()


def _executemany(
    session: Session,
    stmt: Any,
    rows: Sequence[Mapping[str, Any]],
    json_names: frozenset[str] = frozenset(),
) -> None:
    """Run `stmt` (its parameters named as the keys of `rows`) as ONE driver-level executemany.

    SQLAlchemy's own executemany converts every value of every row through Python-level type
    processing, which costs more than SQLite's insert itself; here each column's converter is
    applied once per distinct value (a run writes one `now`, few dates), and the values of
    `json_names` are encoded once (`_JsonText` as given, anything else with the dialect's
    serializer, as SQLAlchemy would).
    """
    connection = session.connection()
    dialect = connection.dialect
    compiled = stmt.compile(dialect=dialect)
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    serializer = getattr(dialect, "_json_serializer", None) or json.dumps
    converters = [
        None
        if name in json_names
        else compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    ]
    # a Float column's converter makes a float of its value: a float already is one (and most
    # are distinct, so caching them would only fill the cache)
    floats = [isinstance(compiled.binds[name].type, sa.Float) for name in names]
    pick = operator.itemgetter(*names)
    single = len(names) == 1
    table = [[pick(row)] if single else list(pick(row)) for row in rows]
    # column by column, in loops without a call per value (most values go as they are)
    for i, (name, conv) in enumerate(zip(names, converters, strict=True)):
        if name in json_names:
            for values in table:
                value = values[i]
                if type(value) is not _JsonText:
                    values[i] = serializer(value)
            continue
        if conv is None:
            continue  # to the driver as it is
        cache: dict[Any, Any] = {}
        is_float = floats[i]
        for values in table:
            value = values[i]
            if value is None or (is_float and type(value) is float):
                continue
            try:
                out = cache.get(value, _UNSEEN)
            except TypeError:  # unhashable
                values[i] = conv(value)
                continue
            if out is _UNSEEN:
                out = cache[value] = conv(value)
            values[i] = out
    params: list[Any] = (
        [tuple(values) for values in table]
        if compiled.positional
        else [dict(zip(names, values, strict=True)) for values in table]
    )
    connection.exec_driver_sql(str(compiled), params)


def _insert_rows(
    session: Session, table: Any, rows: list[dict[str, Any]], *, now: dt.datetime, time_column: str
) -> list[int]:
    """Insert rows (one per claim, all stamped `now`) as one executemany; return their ids in order.

    The ids are read back with one SELECT (per claim, the newest row stamped `now` above the
    largest id before the insert) rather than with INSERT … RETURNING, which the SQLite driver
    runs one row at a time.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect
    before = int(session.scalar(sa.select(sa.func.max(table.c.id))) or 0)
    names = list(rows[0])
    stmt = sa.insert(table).values({n: _bind(table.c[n], n, dialect) for n in names})
    json_names = frozenset(n for n in names if isinstance(table.c[n].type, sa.JSON))
    _executemany(session, stmt, rows, json_names)
    found = session.execute(
        sa.select(table.c.claim_id, sa.func.max(table.c.id))
        .where(
            table.c.id > before,
            table.c[time_column] == sa.bindparam("now", now, type_=table.c[time_column].type),
        )
        .group_by(table.c.claim_id)
    )
    newest = {row[0]: row[1] for row in found}
    return [newest[row["claim_id"]] for row in rows]


def _record_auto_resolutions(
    session: Session,
    inputs: Sequence[ClaimInputs],
    results: Sequence[EvaluationResult],
    evaluation_of: Mapping[int, int | None],
    *,
    now: dt.datetime,
) -> None:
    """Append automatic resolutions: a first verdict, a flipped or a now-final provisional one."""
    rows: list[dict[str, Any]] = []
    superseded: list[int | None] = []
    for item, result in zip(inputs, results, strict=True):
        outcome = result.outcome
        if outcome is None or result.state == State.needs_review:
            continue
        current = item.facts.resolution
        if current is not None:
            if current.method != ResolutionMethod.auto or not current.provisional:
                continue  # a reviewer's verdict, or a final one: never flipped automatically
            if current.outcome == outcome.value and result.provisional:
                continue  # unchanged and still provisional
        rows.append(
            {
                "claim_id": item.claim_id,
                "claim_version": item.claim_version,
                "outcome": outcome.value,
                "method": ResolutionMethod.auto.value,
                "decided_by": AUTO_DECIDER,
                "decided_at": now,
                "rationale": result.reason,
                "evidence": [f"observation:{i}" for i in result.evidence.observation_ids],
                "provisional": bool(result.provisional),
                "final_after": result.final_after,
                "evaluation_id": evaluation_of.get(item.claim_id),
                "supersedes_id": item.resolution_id,
            }
        )
        superseded.append(item.resolution_id)
    if not rows:
        return
    res_t = Resolution.__table__  # type: ignore[attr-defined]
    new_ids = _insert_rows(session, res_t, rows, now=now, time_column="decided_at")
    webhook_events.record_resolutions(
        session,
        ({**row, "resolution_id": i} for row, i in zip(rows, new_ids, strict=True)),
        now=now,
    )
    pointers = [
        {"b_old": old, "b_new": new}
        for old, new in zip(superseded, new_ids, strict=True)
        if old is not None
    ]
    if pointers:
        session.execute(
            sa.update(res_t)
            .where(res_t.c.id == sa.bindparam("b_old"), res_t.c.superseded_by_id.is_(None))
            .values(superseded_by_id=sa.bindparam("b_new")),
            pointers,
        )


# --- replay, manual verdicts, history ---


def replay_claim(
    session: Session, claim: Claim, as_of_date: dt.date, *, now: dt.datetime
) -> EvaluationResult:
    """The status as the tracker would have given it at the end of `as_of_date` (UTC); no writes.

    Uses only observations known then, the criteria and claim version valid then, and the
    resolutions decided by then. The result has `replay=True` and `as_of` set.
    """
    assert claim.id is not None
    as_of = end_of_day(as_of_date)
    inputs = load_claim_inputs(session, [claim.id], as_of=as_of)
    if not inputs:
        raise LookupError(f"claim {claim.slug!r} not found")
    return evaluate_inputs(inputs[0], now=now, as_of=as_of)


@dataclass(frozen=True)
class ClaimReplay:
    """What tracker knew of a claim at the end of a UTC day: version, criteria, verdict, status."""

    as_of: dt.datetime
    version: int  # the claim revision in force then
    change: str  # that revision's change (created, updated, withdrawn, ...)
    content: Mapping[str, Any]  # that revision's normalised claim document
    criteria_ids: tuple[int, ...]  # the Criterion rows valid then
    resolution_id: int | None  # the verdict current then (decided by then, not yet superseded)
    result: EvaluationResult  # the status replayed from the data known then


def replay_claim_as_known(
    session: Session, claim: Claim, as_of_date: dt.date, *, now: dt.datetime
) -> ClaimReplay | None:
    """The claim as known at the end of `as_of_date` (UTC), from the same picks as replay_claim.

    None when tracker did not know the claim then (no revision recorded by then). No writes.
    """
    assert claim.id is not None
    as_of = end_of_day(as_of_date)
    meta = _load_meta(session, [claim.id], as_of)
    if meta is None:
        raise LookupError(f"claim {claim.slug!r} not found")
    revision = meta.revisions.get(claim.id)
    if revision is None:
        return None
    inputs = _build_inputs(session, meta, meta.claims)
    resolution = meta.resolutions.get(claim.id)
    return ClaimReplay(
        as_of=as_of,
        version=revision["version"],
        change=revision["change"],
        content=revision["content"] or {},
        criteria_ids=tuple(row["id"] for row in meta.criteria_rows.get(claim.id, [])),
        resolution_id=resolution["id"] if resolution is not None else None,
        result=evaluate_inputs(inputs[0], now=now, as_of=as_of),
    )


def current_resolution(session: Session, claim_id: int) -> Resolution | None:
    """The claim's resolution in force (the one no newer verdict supersedes), if any."""
    return session.exec(
        select(Resolution)
        .where(col(Resolution.claim_id) == claim_id, col(Resolution.superseded_by_id).is_(None))
        .order_by(col(Resolution.decided_at).desc(), col(Resolution.id).desc())
    ).first()


def override_lacks_note(current: Resolution | None, note: str | None) -> bool:
    """Whether a new verdict would override `current` (automatic or manual) without a note."""
    return current is not None and not (note or "").strip()


def _data_outcome(session: Session, claim: Claim, now: dt.datetime) -> str | None:
    """The outcome the data decide for a hard claim now, whatever verdict is recorded."""
    from dataclasses import replace

    assert claim.id is not None
    inputs = load_claim_inputs(session, [claim.id])
    if not inputs:
        return None
    unresolved = replace(inputs[0], facts=replace(inputs[0].facts, resolution=None))
    outcome = evaluate_inputs(unresolved, now=now).outcome
    return outcome.value if outcome is not None else None


def _note_required(
    session: Session,
    claim: Claim,
    verdict: Outcome,
    previous: Resolution | None,
    note: str | None,
    now: dt.datetime,
) -> str | None:
    """Why this verdict needs a note it lacks (the first rule that applies), or None."""
    if (note or "").strip():
        return None
    if override_lacks_note(previous, note):
        assert previous is not None
        who = f" by {previous.decided_by}" if previous.decided_by else ""
        return (
            f"this claim already has a verdict ({previous.outcome}{who} on "
            f"{previous.decided_at.date().isoformat()}); say in the note why you override it"
        )
    if claim.deadline is not None and now.date() <= claim.deadline:
        return (
            f"the deadline {claim.deadline.isoformat()} has not passed; a verdict before it "
            "needs a note saying why it is decided early (e.g. 'claimant conceded')"
        )
    if claim.kind == ClaimKind.hard:
        decided = _data_outcome(session, claim, now)
        if decided is not None and decided != verdict.value:
            return (
                f"the data decide this claim {decided}; a verdict of {verdict.value} needs a "
                "note saying why it overrides the data"
            )
    return None


def verdict_note_problem(
    session: Session, claim: Claim, *, outcome: str, note: str | None, now: dt.datetime
) -> str | None:
    """Why record_manual_resolution would refuse this verdict for lacking a note, or None
    (also None for an unknown outcome, refused on its own). Non-raising and read-only, so a
    caller can report it beside other problems of the same request."""
    assert claim.id is not None
    try:
        verdict = Outcome(outcome)
    except ValueError:
        return None
    previous = current_resolution(session, claim.id)
    return _note_required(session, claim, verdict, previous, note, now)


def record_manual_resolution(
    session: Session,
    claim: Claim,
    *,
    outcome: str,
    decided_by: str,
    rationale: str,
    evidence: list[str],
    note: str | None = None,
    now: dt.datetime,
) -> Resolution:
    """Append a reviewer's verdict, superseding (and keeping) the current one; re-evaluate.

    The rules for a manual verdict live here (the API and the dashboard both call this). A
    `note` (kept with the rationale) is required to override any earlier verdict, to decide
    before the claim's deadline has passed (end of that UTC day), and to contradict the
    outcome the data decide on a hard claim. Raises InvalidResolution (with the `field` at
    fault) for those, an unknown outcome or an empty rationale or decider, and
    ResolutionConflict when another verdict superseded the same one concurrently (the caller
    rolls back; the new row was already flushed). Does not commit.
    """
    assert claim.id is not None
    try:
        verdict = Outcome(outcome)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise InvalidResolution(
            f"outcome {outcome!r} is not one of: {allowed}", field="outcome"
        ) from None
    if not rationale or not rationale.strip():
        raise InvalidResolution("a rationale is required", field="rationale")
    if not decided_by or not decided_by.strip():
        raise InvalidResolution("decided_by is required", field="decided_by")
    if any(not isinstance(e, str) or not e.strip() for e in evidence):
        raise InvalidResolution(
            "evidence must be a list of non-empty strings (URLs)", field="evidence"
        )
    # the evaluation below takes this claim's lock anyway; taking it before this verdict's own
    # writes keeps the lock order one way (no deadlock with a sweep updating the same rows)
    lock_evaluation_runs(session, [claim.id])
    previous = current_resolution(session, claim.id)
    why = _note_required(session, claim, verdict, previous, note, now)
    if why is not None:
        raise InvalidResolution(why, field="note")
    text = rationale.strip()
    if note and note.strip():
        text += f"\n\nNote: {note.strip()}"
    resolution = Resolution(
        claim_id=claim.id,
        claim_version=claim.version,
        outcome=verdict.value,
        method=ResolutionMethod.manual.value,
        decided_by=decided_by.strip(),
        decided_at=now,
        rationale=text,
        evidence=[e.strip() for e in evidence],
        provisional=False,
        final_after=None,
        evaluation_id=claim.status_evaluation_id,
        supersedes_id=previous.id if previous else None,
    )
    session.add(resolution)
    session.flush()
    if previous is not None:
        res_t = Resolution.__table__  # type: ignore[attr-defined]
        done = session.execute(
            sa.update(res_t)
            .where(res_t.c.id == previous.id, res_t.c.superseded_by_id.is_(None))
            .values(superseded_by_id=resolution.id)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ResolutionConflict(
                f"the resolution of {claim.slug!r} changed while recording this one; retry"
            )
        session.expire(previous)
    webhook_events.record_resolutions(
        session,
        [
            {
                "claim_id": claim.id,
                "resolution_id": resolution.id,
                "outcome": resolution.outcome,
                "method": resolution.method,
                "provisional": False,
                "decided_by": resolution.decided_by,
                "overrides": previous is not None,
                "previous_outcome": previous.outcome if previous is not None else None,
                "early": claim.deadline is not None and now.date() <= claim.deadline,
            }
        ],
        now=now,
    )
    evaluate_claims(session, now=now, claim_ids=[claim.id])
    return resolution


def evaluate_step(settings: Settings, engine: Engine) -> str:
    """Start-up step of `tracker serve` (an edge: commits): evaluate every claim now."""
    from tracker.db import session_scope  # plumbing, only for this edge

    with session_scope(engine) as session:
        results = evaluate_claims(session, now=utcnow())
    errors = sum(1 for r in results if r.state == State.error)
    suffix = f" ({errors} in state error)" if errors else ""
    return f"evaluated {len(results)} claim(s) whose inputs changed{suffix}"


def status_history(session: Session, claim_id: int) -> list[Evaluation]:
    """Every appended evaluation of a claim, oldest first."""
    return list(
        session.exec(
            select(Evaluation)
            .where(col(Evaluation.claim_id) == claim_id)
            .order_by(col(Evaluation.evaluated_at), col(Evaluation.id))
        ).all()
    )


def evaluation_status(row: Evaluation) -> dict[str, Any]:
    """A stored evaluation in the shape of `EvaluationResult.to_dict()` (for the API)."""
    details = row.details or {}
    metric = (
        {"value": row.metric_value, "unit": row.metric_unit, "period": row.metric_period}
        if row.metric_value is not None
        else None
    )
    projection = (
        {
            "value": row.projection_value,
            "low": row.projection_low,
            "high": row.projection_high,
            "at": row.projection_at,
            "model": row.projection_model,
            "n_points": details.get("projection_n_points"),
            "residual_sd": details.get("projection_residual_sd"),
            "fit_from": details.get("projection_fit_from"),
            "from_period": details.get("projection_from_period"),
            "from_value": details.get("projection_from_value"),
        }
        if row.projection_value is not None
        else None
    )
    return {
        "state": row.state,
        "trend": row.trend,
        "reason": row.reason,
        "metric": metric,
        "threshold": row.threshold,
        "comparator": row.comparator,
        "margin": row.margin,
        "progress": row.progress,
        "projection": projection,
        "required_growth": row.required_growth,
        "observed_growth": row.observed_growth,
        "data_expected_on": row.data_expected_on.isoformat() if row.data_expected_on else None,
        "probability": row.probability,
        "outcome": details.get("outcome"),
        "provisional": details.get("provisional"),
        "final_after": details.get("final_after"),
        "criteria": details.get("criteria", []),
        "evidence": row.evidence or {},
        "evaluated_at": row.evaluated_at.isoformat(),
        "as_of": row.as_of.isoformat(),
        "replay": bool(details.get("replay", False)),
        "evaluator_version": row.evaluator_version,
        "review_reason": row.review_reason,
        "overdue_since": row.overdue_since.isoformat() if row.overdue_since else None,
    }


__all__ = [
    "EVALUATOR_VERSION",
    "ClaimInputs",
    "ClaimReplay",
    "InvalidResolution",
    "ResolutionConflict",
    "claims_using_indicators",
    "current_resolution",
    "end_of_day",
    "error_result",
    "evaluate_claims",
    "evaluate_inputs",
    "evaluate_step",
    "evaluation_row_values",
    "evaluation_status",
    "load_claim_inputs",
    "override_lacks_note",
    "record_manual_resolution",
    "replay_claim",
    "replay_claim_as_known",
    "status_history",
]
