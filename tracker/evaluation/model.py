"""The evaluator's inputs (series, claim facts) and results (criterion and claim results)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tracker.models import ClaimKind, Lifecycle, Outcome, State, Trend

# 1.2: turning points, too-uncertain bands, sustained growth metric
# 1.3: projections from the latest point at the fitted rate; observed growth is that rate
# 1.4: complete windows (every sub-period observed, or declared gaps), weekly and quarterly
#      periods, read first_on_or_after, data overdue past expected date + grace → needs_review;
#      the chance of coming true (`probability`); reasons print values apart from thresholds
#      and rates per year only over a year or more (tracker.numbers)
EVALUATOR_VERSION = "1.4.0"


# A per-run cache shared by evaluations of the same series (see `evaluate`'s `memo`).
Memo = dict[Any, Any]

_T = TypeVar("_T")


class _Factory:
    """The default of a field with a default factory in a `fast_frozen_init` signature."""

    def __repr__(self) -> str:
        return "<factory>"


def fast_frozen_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass (without slots) an `__init__` that sets its instance dict in one
    step, for classes built once or more per claim in a sweep.

    The generated `__init__` of a frozen dataclass sets each field with `object.__setattr__`,
    one call per field: for the two dozen fields of a result, most of its construction. This
    one has the same signature (the fields in order, their defaults and default factories)
    and leaves the same instance; the class stays frozen (assignment still raises). Apply it
    on top of `@dataclass(frozen=True)`, to classes with no `__post_init__` or InitVar.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    assert not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
    assert all(f.init and not f.kw_only for f in fields)
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_UNSET": _Factory()}
    params, lines = [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_UNSET")
            lines.append(f"    if {f.name} is _UNSET: {f.name} = _factory_{f.name}()")
        else:
            params.append(f.name)
    stored = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    lines.append(f"    _set(self, '__dict__', {{{stored}}})")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(lines)
    # as dataclasses itself builds `__init__`: source made of the class's own field names only
    exec(source, namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


# --- inputs ---


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One observed value of an indicator, with its provenance."""

    period: str
    period_start: dt.date
    value: float | None
    observation_id: int | None = None
    fetch_run_id: int | None = None
    known_from: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SeriesData:
    """An indicator's metadata and the observations known of it (any vintages; see `evaluate`)."""

    key: str
    unit: str
    frequency: str = "annual"
    publication_lag_days: int = 0
    revision_window_days: int = 0
    points: tuple[SeriesPoint, ...] = ()
    projection_model: str | None = None  # "log-linear" | "linear" | None (default by unit)
    grace_days: int | None = None  # None: by cadence (tracker.periods.DEFAULT_GRACE_DAYS)
    gaps: str = "unknown"  # "zero": a period without a reading reads as 0 (event counts)


@dataclass(frozen=True)
class ResolutionFacts:
    """The claim's current resolution, as the evaluator needs it."""

    outcome: str
    method: str
    provisional: bool
    decided_at: dt.datetime
    decided_by: str | None = None
    final_after: dt.date | None = None
    id: int | None = None


@fast_frozen_init
@dataclass(frozen=True)
class ClaimFacts:
    """What the evaluator needs to know about a claim."""

    slug: str
    kind: str = ClaimKind.hard
    deadline: dt.date | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    lifecycle: str = Lifecycle.active
    stated_on: dt.date | None = None
    resolution: ResolutionFacts | None = None
    # a reviewer's latest "extend the wait" known at the time: overdue data is not sent to
    # review again before this day has passed (None: no extension)
    wait_until: dt.date | None = None


# --- outputs ---


@dataclass(frozen=True)
class Metric:
    value: float
    unit: str
    period: str


@dataclass(frozen=True)
class Projection:
    value: float
    low: float
    high: float
    at: str
    model: str
    n_points: int
    residual_sd: float
    fit_from: str | None = None  # the period of a recent turn the fit starts at (None: no turn)
    # the observed point the projection starts from (None: a window's aggregate, a growth rate)
    from_period: str | None = None
    from_value: float | None = None


@dataclass(frozen=True)
class Evidence:
    observation_ids: tuple[int, ...] = ()
    fetch_run_ids: tuple[int, ...] = ()


@fast_frozen_init
@dataclass(frozen=True)
class CriterionResult:
    """The result of one criterion. `met` is None until it is decided."""

    key: str
    type: str
    role: str
    context: bool
    reason: str
    decided: bool = False
    met: bool | None = None
    trend: Trend | None = None
    metric: Metric | None = None
    threshold: float | None = None
    comparator: str | None = None
    margin: float | None = None
    progress: float | None = None
    # the chance the criterion is met at its target (1 or 0 once decided; None: no projection)
    probability: float | None = None
    projection: Projection | None = None
    required_growth: float | None = None
    observed_growth: float | None = None
    target_period: str | None = None
    data_expected_on: dt.date | None = None
    final_after: dt.date | None = None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    evidence: Evidence = Evidence()
    # not shown (not serialised): the first day after which the passage of time alone changes
    # what this criterion says of its missing data (a window's period ends, data falls overdue)
    recheck_on: dt.date | None = field(default=None, metadata={"serialise": False})
    # the reason as structured parts (tracker.evaluation.text), rendered per language at read
    # time; not serialised into the criterion (stored beside it, out of the fingerprint)
    reason_parts: Any = field(default=None, metadata={"serialise": False})


@fast_frozen_init
@dataclass(frozen=True)
class EvaluationResult:
    """A claim's status at one moment: the evaluator's whole answer."""

    slug: str
    state: State
    trend: Trend | None
    reason: str
    metric: Metric | None
    threshold: float | None
    comparator: str | None
    margin: float | None
    progress: float | None
    projection: Projection | None
    required_growth: float | None
    observed_growth: float | None
    data_expected_on: dt.date | None
    outcome: Outcome | None  # what the data says (automatic), when decided
    provisional: bool | None
    final_after: dt.date | None
    criteria: tuple[CriterionResult, ...]
    evidence: Evidence
    evaluated_at: dt.datetime
    as_of: dt.datetime | None
    replay: bool
    evaluator_version: str = EVALUATOR_VERSION
    # the first day on which the passage of time alone could change this result (None: never)
    stable_until: dt.date | None = None
    # why a person is asked ("data_overdue": the data needed is missing past expected + grace)
    review_reason: str | None = None
    overdue_since: dt.date | None = None  # the expected date of the overdue data
    # the chance the claim's criteria are met at the deadline (see `claim_probability`)
    probability: float | None = None
    # the reason as structured parts (tracker.evaluation.text); stored in the evaluation's
    # details, not fingerprinted (the English `reason` is)
    reason_parts: Any = field(default=None, metadata={"serialise": False})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        from tracker.evaluation.serialise import _result_dict  # serialise imports this module

        return _result_dict(self)

    def fingerprint(self) -> str:
        """sha256 of everything but `evaluated_at` (and `stable_until`, derived from it).

        Equal fingerprints mean nothing a reader sees changed (see `serialise` for the recipe).
        """
        from tracker.evaluation.serialise import serialise  # serialise imports this module

        return serialise(self).fingerprint
