"""The claim state machine: `evaluate` combines criterion results into a claim state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import fields

from tracker.criteria import Criterion
from tracker.evaluation.model import (
    ClaimFacts,
    CriterionResult,
    EvaluationResult,
    Evidence,
    Memo,
    SeriesData,
)
from tracker.evaluation.projection import claim_probability
from tracker.evaluation.rules import evaluate_criterion
from tracker.evaluation.series import _prepare, period_end
from tracker.evaluation.text import Part, day, en_reusing, msg, period
from tracker.evaluation.text import join as _join
from tracker.evaluation.text import outcome as outcome_part
from tracker.evaluation.wording import _context_part, _overdue_part, _summary_part, parts_of
from tracker.models import ClaimKind, Lifecycle, Outcome, ResolutionMethod, State, Trend

# --- the claim ---

_OUTCOME_STATE = {
    Outcome.true: State.resolved_true,
    Outcome.false: State.resolved_false,
    Outcome.partial: State.resolved_partial,
    Outcome.void: State.void,
    Outcome.ambiguous: State.ambiguous,
}


def outcome_state(outcome: str) -> State:
    """The state a resolution outcome puts a claim in."""
    return _OUTCOME_STATE[Outcome(outcome)]


def evaluate(
    claim: ClaimFacts,
    criteria: Sequence[Criterion],
    series: Mapping[str, SeriesData],
    *,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
    memo: Memo | None = None,
) -> EvaluationResult:
    """Evaluate a claim at `now`, or as the tracker would have at `as_of` (a replay).

    `series` may hold several vintages of a period: the one with the latest `known_from` not
    after `as_of` is used; points known only after `as_of` are ignored.

    `memo`: an optional dict shared by evaluations in one run over the SAME SeriesData objects,
    series mappings and criteria sequences (never mutated in between) and the same `as_of`; it
    caches per-series work (vintage selection, expressions, fits) so claims on one series fit it
    once; each criterion's result, shared by claims holding the same criterion object over the
    same series and deadline (`evaluate_criterion`); and each claim's result, shared (with the
    claim's own slug) by claims alike but for their slug. Results are identical with or without
    it.
    """
    if now.tzinfo is None or (as_of is not None and as_of.tzinfo is None):
        raise ValueError("evaluate() needs timezone-aware datetimes")
    moment = as_of if as_of is not None else now
    today = moment.astimezone(dt.UTC).date()
    if memo is not None:
        facts = tuple(claim.__dict__.values())  # the fields in order (`_SLUG_FIRST`)
        # a claim alike but for its slug to one evaluated before, holding the very same criteria
        # and series objects (a run shares them among claims with alike rows), gets its answer
        # before anything is prepared or looked up again
        same_inputs = ("claim-inputs", id(criteria), id(series), facts[1:], now, as_of)
        known = memo.get(same_inputs)
        if known is not None:
            return _with_slug(known[2], claim.slug)
    prepared = _prepare(series, criteria, as_of, memo)
    results = tuple(
        evaluate_criterion(c, prepared, today=today, claim=claim, memo=memo) for c in criteria
    )
    if memo is None:
        return _combine(claim, results, now, as_of, today)
    # claims alike but for their slug, whose criteria gave the very same results, get the same
    # answer: combined once per run, then copied with each claim's slug
    key = ("claim", facts[1:], now, as_of, *map(id, results))
    hit = memo.get(key)
    if hit is None:  # the results are kept with it: their ids stay unique
        hit = memo[key] = (results, _combine(claim, results, now, as_of, today))
    shared: EvaluationResult = hit[1]
    # the criteria and series kept with it: their ids stay unique
    memo[same_inputs] = (criteria, series, shared)
    return _with_slug(shared, claim.slug)


def _with_slug(shared: EvaluationResult, slug: str) -> EvaluationResult:
    """`shared`, the result of a claim alike, as the result of the claim `slug` (`shared` itself
    when that is its own slug)."""
    if shared.slug == slug:
        return shared
    copy = object.__new__(EvaluationResult)  # the same fields, the claim's own slug
    object.__setattr__(copy, "__dict__", {**shared.__dict__, "slug": slug})
    return copy


def _combine(
    claim: ClaimFacts,
    results: tuple[CriterionResult, ...],
    now: dt.datetime,
    as_of: dt.datetime | None,
    today: dt.date,
) -> EvaluationResult:
    """The claim's result from its criteria's results."""
    resolving = [r for r in results if not r.context]
    primary = next(
        (r for r in resolving if r.type not in ("judged",) and r.error is None),
        next((r for r in resolving if r.type not in ("judged",)), None),
    )
    context = [r for r in results if r.context]
    if len(results) == 1:  # a criterion's evidence is already sorted and unique
        evidence = results[0].evidence
    else:
        evidence = Evidence(
            tuple(sorted({i for r in results for i in r.evidence.observation_ids})),
            tuple(sorted({i for r in results for i in r.evidence.fetch_run_ids})),
        )

    state, trend, reason, outcome, provisional, final_after, expected = _claim_state(
        claim, resolving, context, today
    )
    review_reason: str | None = None
    overdue_since: dt.date | None = None
    if state in _WAITING_STATES:
        overdue_since = _overdue_since(resolving)
        if overdue_since is not None:
            if claim.wait_until is not None and today <= claim.wait_until:
                reason = msg(
                    "{reason}; data overdue since {since}, wait extended to {until}",
                    reason=reason,
                    since=day(overdue_since.isoformat()),
                    until=day(claim.wait_until.isoformat()),
                )
                overdue_since = None
            else:
                state = State.needs_review
                review_reason = REVIEW_DATA_OVERDUE
                reason = msg(
                    "data overdue since {since}: {what}; a reviewer voids the claim or extends "
                    "the wait; {reason}",
                    since=day(overdue_since.isoformat()),
                    what=_overdue_part(resolving),
                    reason=reason,
                )
    headline = primary
    return EvaluationResult(
        slug=claim.slug,
        state=state,
        trend=trend,
        # the criteria's reasons are rendered already: their text is reused, not re-rendered
        reason=en_reusing(
            reason, {id(r.reason_parts): r.reason for r in results if r.reason_parts is not None}
        ),
        reason_parts=reason,
        metric=headline.metric if headline else None,
        threshold=headline.threshold if headline else None,
        comparator=headline.comparator if headline else None,
        margin=headline.margin if headline else None,
        progress=headline.progress if headline else None,
        projection=headline.projection if headline else None,
        required_growth=headline.required_growth if headline else None,
        observed_growth=headline.observed_growth if headline else None,
        data_expected_on=expected,
        outcome=outcome,
        provisional=provisional,
        final_after=final_after,
        criteria=results,
        evidence=evidence,
        evaluated_at=now,
        as_of=as_of,
        replay=as_of is not None,
        stable_until=_stable_until(claim, results, final_after, today),
        review_reason=review_reason,
        overdue_since=overdue_since,
        probability=claim_probability(state, claim, resolving),
    )


# `evaluate` keys claims alike by their facts but the first, the slug
_SLUG_FIRST = fields(ClaimFacts)[0].name == "slug"
assert _SLUG_FIRST, "ClaimFacts' first field must be the slug"

REVIEW_DATA_OVERDUE = "data_overdue"
# the states in which a claim waits for data (and so may wait too long)
_WAITING_STATES = frozenset({State.open, State.upcoming, State.awaiting_data})


def _overdue_since(resolving: Sequence[CriterionResult]) -> dt.date | None:
    """The earliest date data a resolving measured criterion waits for was due, where it is
    still missing past that date + the indicator's grace (None: nothing overdue)."""
    dates = [
        r.details["overdue_since"]
        for r in resolving
        if r.type != "judged" and not r.decided and "overdue_since" in r.details
    ]
    return dt.date.fromisoformat(min(dates)) if dates else None


def _stable_until(
    claim: ClaimFacts,
    results: Sequence[CriterionResult],
    final_after: dt.date | None,
    today: dt.date,
) -> dt.date | None:
    """The first day after `today` on which a date comparison in the evaluation flips."""
    one_day = dt.timedelta(days=1)
    candidates: list[dt.date] = []
    if claim.deadline is not None:
        candidates.append(claim.deadline + one_day)  # deadline passed: today > deadline
    if claim.window_start is not None:
        candidates.append(claim.window_start)  # upcoming: today < window_start
    if claim.resolution is not None and claim.resolution.final_after is not None:
        candidates.append(claim.resolution.final_after)
    if final_after is not None:
        candidates.append(final_after)  # provisional: today < final_after
    for r in results:
        if r.target_period is not None:
            candidates.append(period_end(r.target_period) + one_day)  # decided: today > end
        if r.data_expected_on is not None:
            candidates.append(r.data_expected_on + one_day)  # overdue: today > expected
        if r.final_after is not None:
            candidates.append(r.final_after)
        if r.recheck_on is not None:  # a window's period ends, data becomes overdue
            candidates.append(r.recheck_on)
    if claim.wait_until is not None:
        candidates.append(claim.wait_until + one_day)  # an extended wait ends
    future = [d for d in candidates if d > today]
    return min(future) if future else None


_StateParts = tuple[
    State, Trend | None, Part, Outcome | None, bool | None, dt.date | None, dt.date | None
]


def _claim_state(
    claim: ClaimFacts,
    resolving: Sequence[CriterionResult],
    context: Sequence[CriterionResult],
    today: dt.date,
) -> _StateParts:
    measured = [r for r in resolving if r.type != "judged"]
    judged = claim.kind == ClaimKind.judged or any(r.type == "judged" for r in resolving)
    resolution = claim.resolution
    deadline_passed = claim.deadline is not None and today > claim.deadline
    summary = _summary_part(measured)
    expected = _latest_expected(measured)

    if claim.lifecycle == Lifecycle.withdrawn:
        return (
            State.withdrawn,
            None,
            msg("withdrawn; no longer evaluated{summary}", summary=summary),
            None,
            None,
            None,
            None,
        )

    if resolution is not None and resolution.method == ResolutionMethod.manual:
        text = msg(
            "resolved {outcome} by {who} on {on} (reviewer's verdict){summary}{context}"
            if resolution.decided_by
            else "resolved {outcome} on {on} (reviewer's verdict){summary}{context}",
            outcome=outcome_part(str(resolution.outcome)),
            who=resolution.decided_by or "",
            on=day(resolution.decided_at.date().isoformat()),
            summary=summary,
            context=_context_part(context),
        )
        return (
            outcome_state(resolution.outcome),
            None,
            text,
            None,
            resolution.provisional,
            resolution.final_after,
            None,
        )

    errors = [r for r in resolving if r.error is not None]
    if errors:
        text = msg("{key}: {reason}", key=errors[0].key, reason=parts_of(errors[0]))
        return State.error, None, text, None, None, None, None

    if judged:
        extra = _context_part(context)
        if claim.deadline is None:
            return (
                State.open,
                Trend.not_applicable,
                msg("judged by a reviewer; no deadline{context}", context=extra),
                None,
                None,
                None,
                None,
            )
        if deadline_passed:
            return (
                State.needs_review,
                Trend.not_applicable,
                msg(
                    "deadline {deadline} passed; a reviewer decides by the rubric{context}",
                    deadline=day(claim.deadline.isoformat()),
                    context=extra,
                ),
                None,
                None,
                None,
                None,
            )
        state = State.upcoming if _before_window(claim, today) else State.open
        return (
            state,
            Trend.not_applicable,
            msg(
                "judged by a reviewer after the deadline {deadline}{context}",
                deadline=day(claim.deadline.isoformat()),
                context=extra,
            ),
            None,
            None,
            None,
            None,
        )

    if not measured:
        return (
            State.open,
            Trend.insufficient_data,
            msg("no resolving criterion"),
            None,
            None,
            None,
            None,
        )

    if all(r.decided for r in measured):
        met = [bool(r.met) for r in measured]
        outcome = Outcome.true if all(met) else Outcome.false if not any(met) else Outcome.partial
        final_after = max((r.final_after for r in measured if r.final_after), default=None)
        provisional = final_after is not None and today < final_after
        head: Part
        if len(measured) == 1:
            head = parts_of(measured[0])
        else:
            head = msg(
                "{met} of {total} criteria met",
                met=["i", str(sum(met))],
                total=["i", str(len(met))],
            )
        text = (
            msg(
                "{reason}; provisional until {until}",
                reason=head,
                until=day(final_after.isoformat()),
            )
            if provisional and final_after
            else msg("{reason}; final", reason=head)
        )
        if resolution is not None and not resolution.provisional and resolution.outcome != outcome:
            return (
                State.needs_review,
                None,
                msg(
                    "the data now say {now} but the final resolution was {final}: {reason}",
                    now=outcome_part(outcome.value),
                    final=outcome_part(str(resolution.outcome)),
                    reason=text,
                ),
                outcome,
                provisional,
                final_after,
                None,
            )
        return outcome_state(outcome), None, text, outcome, provisional, final_after, None

    if resolution is not None and not resolution.provisional:
        # decided before, but the data no longer decide it (e.g. a period was withdrawn)
        return (
            outcome_state(resolution.outcome),
            None,
            msg(
                "resolved {outcome} (final); the current data no longer decide it",
                outcome=outcome_part(str(resolution.outcome)),
            ),
            None,
            False,
            resolution.final_after,
            None,
        )

    trend = _combined_trend(measured)
    primary_reason = parts_of(measured[0]) if len(measured) == 1 else summary["items"]
    if deadline_passed and claim.deadline is not None:
        when = (
            msg("expected on {on}", on=day(expected.isoformat()))
            if expected
            else msg("expected date unknown")
        )
        overdue = msg(" (overdue)") if expected is not None and today > expected else ""
        waiting = sorted({r.target_period for r in measured if not r.decided and r.target_period})
        return (
            State.awaiting_data,
            trend,
            msg(
                "deadline {deadline} passed; waiting for {periods} data, {when}{overdue}; {reason}"
                if waiting
                else "deadline {deadline} passed; waiting for the data, {when}{overdue}; {reason}",
                deadline=day(claim.deadline.isoformat()),
                periods=_join(", ", [period(p) for p in waiting]),
                when=when,
                overdue=overdue,
                reason=primary_reason,
            ),
            None,
            None,
            None,
            expected,
        )
    # Before its window a hard claim is `upcoming` only while there is nothing to measure: with
    # data it is `open`, its trend projected to the target period ("3x by 2030" is tracked now).
    measurable = any(r.metric is not None for r in measured)
    state = State.upcoming if _before_window(claim, today) and not measurable else State.open
    return state, trend, primary_reason, None, None, None, expected


def _before_window(claim: ClaimFacts, today: dt.date) -> bool:
    return claim.window_start is not None and today < claim.window_start


def _combined_trend(measured: Sequence[CriterionResult]) -> Trend:
    trends = [Trend.on_track if r.decided and r.met else r.trend for r in measured]
    if any(
        t is Trend.off_track or (r.decided and not r.met)
        for t, r in zip(trends, measured, strict=True)
    ):
        return Trend.off_track
    if all(t is Trend.on_track for t in trends):
        return Trend.on_track
    return Trend.insufficient_data


def _latest_expected(measured: Sequence[CriterionResult]) -> dt.date | None:
    dates = [r.data_expected_on for r in measured if not r.decided and r.data_expected_on]
    return max(dates) if dates else None
