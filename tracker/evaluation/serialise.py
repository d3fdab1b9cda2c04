"""Serialising results: canonical JSON, the fingerprint and the stored dicts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tracker.evaluation.model import (
    CriterionResult,
    EvaluationResult,
    Evidence,
    Memo,
    Metric,
    Projection,
)
from tracker.models import Outcome, State, Trend


def _json_encoder(sort_keys: bool) -> Any:
    """`json.dumps(value, sort_keys=..., separators=(",", ":"), allow_nan=False)` through one
    prebuilt C encoder (building a new one on every call is a third of the cost of encoding a
    small result); the same text (tests compare it with `json.dumps`)."""
    reference = json.JSONEncoder(sort_keys=sort_keys, separators=(",", ":"), allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return reference.encode
    try:
        encoder = make(
            None,  # no cycle check: results are trees
            reference.default,
            json.encoder.encode_basestring_ascii,
            None,
            ":",
            ",",
            sort_keys,
            False,  # skipkeys
            False,  # allow_nan
        )
    except TypeError:  # another signature: keep the documented path
        return reference.encode

    def encode(value: Any) -> str:
        if type(value) is dict or type(value) is list:
            return "".join(encoder(value, 0))
        return reference.encode(value)

    return encode


canonical_json = _json_encoder(sort_keys=True)
canonical_json.__doc__ = "JSON with sorted keys, no spaces, ASCII only, no NaN."
compact_json = _json_encoder(sort_keys=False)
compact_json.__doc__ = "JSON in insertion order, no spaces, ASCII only, no NaN (stored details)."


@dataclass(frozen=True, slots=True)
class Serialised:
    """What a stored evaluation needs of a result, each part built once: the JSON texts of its
    criteria and evidence (as in `to_dict()`) and its fingerprint."""

    criteria_json: str  # compact JSON of to_dict()["criteria"] (key order: `_CRITERION_ORDER`)
    evidence_json: str  # compact JSON of to_dict()["evidence"]
    fingerprint: str


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _headline(r: EvaluationResult) -> tuple[Any, ...]:
    """The fields of a result that its criteria do not already determine (fingerprinted).

    The headline metric, threshold, margin, progress, projection and growth rates are copied
    from the primary criterion, which the criteria results themselves determine.
    """
    return (
        r.slug,
        r.state.value if isinstance(r.state, StrEnum) else r.state,
        r.trend.value if isinstance(r.trend, StrEnum) else r.trend,
        r.reason,
        r.outcome.value if isinstance(r.outcome, StrEnum) else r.outcome,
        r.provisional,
        _iso(r.final_after),
        _iso(r.data_expected_on),
        _iso(r.as_of),
        r.replay,
        r.evaluator_version,
        r.review_reason,
        _iso(r.overdue_since),
        r.probability,
    )


# The keys of a serialised criterion, in the order of its JSON text: the values of the last
# three are often the very same objects in many results (a series' latest point, its fit and
# the points used), so their JSON is made once per object and spliced in.
_SHARED_PARTS = ("metric", "projection", "evidence")


def _part_json(value: Any, to_dict: Any, memo: Memo | None) -> str:
    if value is None:
        return "null"
    if memo is None:
        return compact_json(to_dict(value))  # type: ignore[no-any-return]
    key = ("json", id(value))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (value, compact_json(to_dict(value)))  # value: keeps the id unique
    return hit[1]  # type: ignore[no-any-return]


def json_once(value: Any, memo: Memo | None) -> str:
    """Compact JSON of a JSON-ready value (None: "null"); with `memo`, made once per object
    (as `_part_json`: a reason's parts shared by claims alike are encoded once per run)."""
    return _part_json(value, _as_is, memo)


def _as_is(value: Any) -> Any:
    return value


def _criterion_json(r: CriterionResult, memo: Memo | None) -> str:
    """Compact JSON of `_criterion_dict(r)`, keys in `_CRITERION_ORDER`; with `memo`, made once
    per result object (claims holding the same criterion share one: `evaluate_criterion`)."""
    if memo is None:
        return _criterion_text(r, None)
    key = ("criterion-json", id(r))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (r, _criterion_text(r, memo))  # r: keeps the id unique
    return hit[1]  # type: ignore[no-any-return]


def _criterion_text(r: CriterionResult, memo: Memo | None) -> str:
    if type(r) is not CriterionResult:
        data = _criterion_dict(r)
        return compact_json({k: data[k] for k in _CRITERION_ORDER})  # type: ignore[no-any-return]
    head = {
        "key": r.key,
        "type": r.type,
        "role": r.role,
        "context": r.context,
        "reason": r.reason,
        "decided": r.decided,
        "met": r.met,
        "trend": r.trend,
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "probability": r.probability,
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "target_period": r.target_period,
        "data_expected_on": r.data_expected_on,
        "final_after": r.final_after,
        "error": r.error,
        "details": _details_json_ready(r.details),
    }
    text: str = compact_json(_fix(head, _CRITERION_SCALARS))
    return (
        f'{text[:-1]},"metric":{_part_json(r.metric, _metric_dict, memo)}'
        f',"projection":{_part_json(r.projection, _projection_dict, memo)}'
        f',"evidence":{_part_json(r.evidence, _evidence_dict, memo)}}}'
    )


def _details_json_ready(details: Mapping[str, Any]) -> Any:
    """`_jsonable(details)` for encoding only: the dict itself (not a copy) when its keys are
    strings and its values plain (str, int, bool, None), as most criteria's are."""
    if not details:
        return {}
    if type(details) is dict:
        for key, value in details.items():
            if type(key) is not str or type(value) not in _PLAIN:
                break
        else:
            return details
    return _jsonable(details)


def serialise(result: EvaluationResult, memo: Memo | None = None) -> Serialised:
    """The JSON of the criteria and evidence of `to_dict()`, and the fingerprint, without
    building the rest of `to_dict()`. `memo`: as `evaluate`'s (the same dict may be passed),
    to encode objects shared by many results (fits, evidence) once.

    Fingerprint recipe: sha256 of `repr(_headline(result))`, the compact JSON of the criteria
    (keys in `_CRITERION_ORDER`) and that of the evidence, joined by newlines: everything a
    reader sees but `evaluated_at` and `stable_until` (state, trend, reason, outcome, the
    probability, every criterion's metric, threshold, projection, reason and evidence).
    Deterministic: the same result gives the same text, with or without `memo`.
    """
    criteria_json = "[" + ",".join(_criterion_json(c, memo) for c in result.criteria) + "]"
    evidence_json = _part_json(result.evidence, _evidence_dict, memo)
    return Serialised(
        criteria_json, evidence_json, fingerprint_of(result, criteria_json, evidence_json)
    )


def fingerprint_of(result: EvaluationResult, criteria_json: str, evidence_json: str) -> str:
    """The fingerprint of `result` (the recipe in `serialise`), given the JSON of its criteria and
    evidence that `serialise` made (a result differing from another only in its slug has the
    same texts: tracker.status makes them once for both)."""
    # the digest of f"{headline!r}\n{criteria_json}\n{evidence_json}" in UTF-8, fed in parts: the
    # JSON texts are ASCII (encoded as is), and only the headline (its reason may hold "–")
    # needs a real UTF-8 encoding, not the whole text joined into one wide string first
    digest = hashlib.sha256(f"{_headline(result)!r}\n".encode())
    digest.update(criteria_json.encode("ascii"))
    digest.update(b"\n")
    digest.update(evidence_json.encode("ascii"))
    return digest.hexdigest()


_PLAIN = (str, int, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(kind)
    if names is None and hasattr(kind, "__dataclass_fields__"):
        names = _FIELD_NAMES[kind] = tuple(  # but fields marked not to be serialised
            name
            for name, spec in kind.__dataclass_fields__.items()
            if spec.metadata.get("serialise", True)
        )
    return names


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:  # a criterion's details (the Mapping case below, without its checks)
        return {str(k): _jsonable(v) for k, v in value.items()}
    names = _field_names(kind)
    if names is not None:  # a dataclass: primitives inline (this runs for every result)
        out: dict[str, Any] = {}
        for name in names:
            item = getattr(value, name)
            item_kind = type(item)
            if item_kind in _PLAIN:
                out[name] = item
            elif item_kind is float:
                out[name] = item if math.isfinite(item) else None
            else:
                out[name] = _jsonable(item)
        return out
    if kind is tuple or kind is list:
        if all(type(v) is int for v in value):
            return list(value)
        return [_jsonable(v) for v in value]
    if kind is dt.date or kind is dt.datetime:
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


_METRIC_FIELDS = ("value", "unit", "period")
_PROJECTION_FIELDS = (
    "value",
    "low",
    "high",
    "at",
    "model",
    "n_points",
    "residual_sd",
    "fit_from",
    "from_period",
    "from_value",
)


def _metric_dict(m: Metric | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return _fix({"value": m.value, "unit": m.unit, "period": m.period}, _METRIC_FIELDS)


def _projection_dict(p: Projection | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return _fix(
        {
            "value": p.value,
            "low": p.low,
            "high": p.high,
            "at": p.at,
            "model": p.model,
            "n_points": p.n_points,
            "residual_sd": p.residual_sd,
            "fit_from": p.fit_from,
            "from_period": p.from_period,
            "from_value": p.from_value,
        },
        _PROJECTION_FIELDS,
    )


def _ids(values: Any) -> Any:
    if type(values) is tuple and set(map(type, values)) <= _INT_ONLY:
        return list(values)
    return _jsonable(values)


_INT_ONLY = frozenset({int})


def _evidence_dict(e: Evidence) -> dict[str, Any]:
    return {"observation_ids": _ids(e.observation_ids), "fetch_run_ids": _ids(e.fetch_run_ids)}


def _fix(out: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Make the values of `names` in `out` what `_jsonable` makes of them (in place)."""
    for name in names:
        value = out[name]
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                out[name] = None
        elif kind in _PLAIN:
            continue
        elif kind is dt.date or kind is dt.datetime:
            out[name] = value.isoformat()
        elif kind in _ENUMS:
            out[name] = value.value
        else:
            out[name] = _jsonable(value)
    return out


_ENUMS = frozenset({State, Trend, Outcome})


_CRITERION_SCALARS = (
    "key",
    "type",
    "role",
    "context",
    "reason",
    "decided",
    "met",
    "trend",
    "threshold",
    "comparator",
    "margin",
    "progress",
    "probability",
    "required_growth",
    "observed_growth",
    "target_period",
    "data_expected_on",
    "final_after",
    "error",
)

_CRITERION_ORDER = (*_CRITERION_SCALARS, "details", *_SHARED_PARTS)


def _criterion_dict(r: CriterionResult) -> dict[str, Any]:
    """`_jsonable(r)` written out for CriterionResult (one per criterion of every result)."""
    if type(r) is not CriterionResult:
        return _jsonable(r)  # type: ignore[no-any-return]
    out = {
        "key": r.key,
        "type": r.type,
        "role": r.role,
        "context": r.context,
        "reason": r.reason,
        "decided": r.decided,
        "met": r.met,
        "trend": r.trend,
        "metric": _metric_dict(r.metric),
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "probability": r.probability,
        "projection": _projection_dict(r.projection),
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "target_period": r.target_period,
        "data_expected_on": r.data_expected_on,
        "final_after": r.final_after,
        "error": r.error,
        "details": _jsonable(r.details),
        "evidence": _evidence_dict(r.evidence),
    }
    return _fix(out, _CRITERION_SCALARS)


_RESULT_SCALARS = (
    "slug",
    "state",
    "trend",
    "reason",
    "threshold",
    "comparator",
    "margin",
    "progress",
    "required_growth",
    "observed_growth",
    "data_expected_on",
    "outcome",
    "provisional",
    "final_after",
    "evaluated_at",
    "as_of",
    "replay",
    "evaluator_version",
    "stable_until",
    "review_reason",
    "overdue_since",
    "probability",
)


def _result_dict(r: EvaluationResult) -> dict[str, Any]:
    """`_jsonable(r)` written out for EvaluationResult: the same dict, about twice as fast."""
    if type(r) is not EvaluationResult:
        return _jsonable(r)  # type: ignore[no-any-return]
    out = {
        "slug": r.slug,
        "state": r.state,
        "trend": r.trend,
        "reason": r.reason,
        "metric": _metric_dict(r.metric),
        "threshold": r.threshold,
        "comparator": r.comparator,
        "margin": r.margin,
        "progress": r.progress,
        "projection": _projection_dict(r.projection),
        "required_growth": r.required_growth,
        "observed_growth": r.observed_growth,
        "data_expected_on": r.data_expected_on,
        "outcome": r.outcome,
        "provisional": r.provisional,
        "final_after": r.final_after,
        "criteria": [_criterion_dict(c) for c in r.criteria],
        "evidence": _evidence_dict(r.evidence),
        "evaluated_at": r.evaluated_at,
        "as_of": r.as_of,
        "replay": r.replay,
        "evaluator_version": r.evaluator_version,
        "stable_until": r.stable_until,
        "review_reason": r.review_reason,
        "overdue_since": r.overdue_since,
        "probability": r.probability,
    }
    return _fix(out, _RESULT_SCALARS)
