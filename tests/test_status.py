"""Persistence of evaluations: status over time, automatic and manual resolutions, replay.

Runs on SQLite and PostgreSQL (TRACKER_TEST_DATABASE_URL); a fixed clock throughout.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_status_factories import (
    CHINA_CRITERIA,
    at,
    china_claim,
    count_statements,
    make_claim,
    make_indicator,
    observe,
    owid_generation,
)

from tracker.evaluation import EVALUATOR_VERSION
from tracker.models import (
    Claim,
    Criterion,
    Evaluation,
    Indicator,
    Observation,
    Resolution,
    WaitExtension,
)
from tracker.status import (
    InvalidResolution,
    clear_caches,
    current_resolution,
    evaluate_claims,
    evaluation_status,
    load_claim_inputs,
    record_manual_resolution,
    replay_claim,
    status_history,
)

DATA = owid_generation()
KNOWN_2026 = at("2026-03-01")


def _resolutions(session: Session, claim_id: int) -> list[Resolution]:
    return list(
        session.exec(
            select(Resolution).where(Resolution.claim_id == claim_id).order_by(Resolution.id)
        )
    )


def _future(chn_2030: float, usa_2030: float) -> tuple[dict[str, float], dict[str, float]]:
    """2026–2030 values growing to the given 2030 levels (geometric steps from 2025)."""
    chn = {
        str(y): DATA["CHN"]["2025"] * (chn_2030 / DATA["CHN"]["2025"]) ** ((y - 2025) / 5)
        for y in range(2026, 2031)
    }
    usa = {
        str(y): DATA["USA"]["2025"] * (usa_2030 / DATA["USA"]["2025"]) ** ((y - 2025) / 5)
        for y in range(2026, 2031)
    }
    return chn, usa


def test_china_open_then_awaiting_then_resolved_provisional_then_final(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)

        (result,) = evaluate_claims(session, now=at("2026-06-01"))
        assert result.state == "open"
        assert result.trend in ("on_track", "off_track")
        assert result.metric is not None and result.metric.period == "2025"
        assert round(result.metric.value, 2) == 2.34
        assert result.projection is not None and result.projection.at == "2030"
        session.commit()
        session.refresh(claim)
        assert claim.status_state == "open"
        assert claim.status_trend == result.trend.value
        assert claim.status_changed_at == at("2026-06-01")
        first_eval = claim.status_evaluation_id
        assert first_eval is not None

        # a day later, nothing changed: nothing appended, the claim row untouched
        evaluate_claims(session, now=at("2026-06-02"))
        session.commit()
        assert len(status_history(session, claim.id)) == 1
        session.refresh(claim)
        assert claim.status_evaluation_id == first_eval

        # the deadline passes without 2030 data, and nothing since 2025 arrived: the 2026 data
        # was due 2027-06-29 (+ 120 days' grace), so a person is asked (data overdue)
        (late,) = evaluate_claims(session, now=at("2031-01-01", 0))
        assert late.state == "needs_review"
        assert (late.review_reason, late.overdue_since) == ("data_overdue", dt.date(2027, 6, 29))
        assert late.data_expected_on == dt.date(2031, 6, 29)  # 2030-12-31 + 180 days
        assert "2031-06-29" in late.reason and "data overdue since 2027-06-29" in late.reason
        session.commit()
        assert [e.state for e in status_history(session, claim.id)] == ["open", "needs_review"]

        # the 2030 data arrives: resolves, provisionally
        chn_f, usa_f = _future(14_500.0, 4_700.0)
        observe(session, chn, chn_f, at("2031-07-01"))
        observe(session, usa, usa_f, at("2031-07-01"))
        (resolved,) = evaluate_claims(session, now=at("2031-07-02"))
        assert resolved.state == "resolved_true"
        assert resolved.provisional is True
        assert resolved.final_after == dt.date(2032, 6, 30)  # known 2031-07-01 + 365 days
        session.commit()
        (auto,) = _resolutions(session, claim.id)
        assert (auto.outcome, auto.method, auto.provisional) == ("true", "auto", True)
        assert auto.evaluation_id == claim.status_evaluation_id or auto.evaluation_id is not None

        # after the revision window the verdict becomes final: a new row supersedes the provisional
        (final,) = evaluate_claims(session, now=at("2032-07-01"))
        assert final.state == "resolved_true" and final.provisional is False
        session.commit()
        old, new = _resolutions(session, claim.id)
        assert old.superseded_by_id == new.id and new.supersedes_id == old.id
        assert (new.outcome, new.provisional) == ("true", False)

        # a later revision that would flip a FINAL verdict is flagged, not applied
        observe(session, chn, {"2030": 13_000.0}, at("2033-01-10"))
        (flagged,) = evaluate_claims(session, now=at("2033-01-11"))
        assert flagged.state == "needs_review"
        assert flagged.outcome == "false"
        session.commit()
        assert len(_resolutions(session, claim.id)) == 2
        session.refresh(claim)
        assert claim.status_state == "needs_review"


def test_a_revision_flips_a_provisional_outcome_and_keeps_the_old_resolution(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        chn_f, usa_f = _future(14_500.0, 4_700.0)
        observe(session, chn, {**DATA["CHN"], **chn_f}, at("2031-07-01"))
        observe(session, usa, {**DATA["USA"], **usa_f}, at("2031-07-01"))
        (first,) = evaluate_claims(session, now=at("2031-07-02"))
        assert first.state == "resolved_true" and first.provisional
        session.commit()

        # Ember revises China's 2030 figure down, inside the revision window
        observe(session, chn, {"2030": 13_500.0}, at("2031-10-01"))
        (second,) = evaluate_claims(session, now=at("2031-10-02"))
        assert second.state == "resolved_false" and second.provisional
        session.commit()
        old, new = _resolutions(session, claim.id)
        assert (old.outcome, new.outcome) == ("true", "false")
        assert old.superseded_by_id == new.id and new.supersedes_id == old.id
        assert new.method == "auto" and new.decided_at == at("2031-10-02")
        assert current_resolution(session, claim.id).id == new.id  # type: ignore[union-attr]
        session.refresh(claim)
        assert claim.status_state == "resolved_false"
        assert [e.state for e in status_history(session, claim.id)] == [
            "resolved_true",
            "resolved_false",
        ]

        # replaying a date before the revision answers with what was known then
        replay = replay_claim(session, claim, dt.date(2031, 9, 1), now=at("2031-10-03"))
        assert replay.replay and replay.as_of is not None
        assert replay.as_of.date() == dt.date(2031, 9, 1)
        assert replay.state == "resolved_true"
        before_any_data = replay_claim(session, claim, dt.date(2031, 1, 2), now=at("2031-10-03"))
        assert before_any_data.state == "upcoming" or before_any_data.metric is None
        # the replay wrote nothing
        assert len(status_history(session, claim.id)) == 2


def test_replay_sees_only_observations_known_by_the_end_of_that_day(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], at("2026-03-01", 9))
        observe(session, usa, DATA["USA"], at("2026-03-01", 9))
        observe(session, chn, {"2025": 11_000.0}, at("2026-03-02", 0))  # a revision next day
        observe(session, usa, {"2026": 4_600.0}, at("2026-04-01"))  # USA 2026 only: no ratio
        session.commit()
        on_day = replay_claim(session, claim, dt.date(2026, 3, 1), now=at("2026-05-01"))
        assert on_day.metric is not None
        assert on_day.metric.value == pytest.approx(DATA["CHN"]["2025"] / DATA["USA"]["2025"])
        next_day = replay_claim(session, claim, dt.date(2026, 3, 2), now=at("2026-05-01"))
        assert next_day.metric is not None
        assert next_day.metric.value == pytest.approx(11_000.0 / DATA["USA"]["2025"])
        used = set(on_day.evidence.observation_ids)
        rows = session.exec(select(Observation).where(col(Observation.id).in_(used))).all()
        assert rows and all(r.known_from <= at("2026-03-01", 23) for r in rows)
        assert status_history(session, claim.id) == []


def test_replay_uses_the_criteria_valid_then(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        # amended on 2026-09-01: threshold 2.0 instead of 3.0 (criteria version 2)
        old = session.exec(select(Criterion).where(Criterion.claim_id == claim.id)).one()
        old.valid_until = at("2026-09-01")
        session.add(
            Criterion(
                claim_id=claim.id,
                key="ratio-2030",
                role="resolves",
                kind="threshold",
                spec={**CHINA_CRITERIA[0], "threshold": 2.0},
                criteria_version=2,
                valid_from=at("2026-09-01"),
            )
        )
        session.commit()
        assert (
            replay_claim(session, claim, dt.date(2026, 8, 1), now=at("2026-10-01")).threshold == 3.0
        )
        assert (
            replay_claim(session, claim, dt.date(2026, 9, 2), now=at("2026-10-01")).threshold == 2.0
        )
        (current,) = evaluate_claims(session, now=at("2026-10-01"))
        assert current.threshold == 2.0 and current.trend is not None
        assert current.trend.value == "on_track"


AGI = [
    {
        "key": "agi-judged",
        "type": "judged",
        "rubric": "Broad expert agreement that AGI (as defined in the rubric) arrived in 2026.",
    },
    {"key": "market", "type": "signal", "role": "context", "series": {"indicator": "manifold.agi"}},
]


def _agi(session: Session) -> Claim:
    market = make_indicator(session, "manifold.agi", unit="1", frequency="daily", lag=0, revision=0)
    observe(session, market, {"2026-11-30": 0.12}, at("2026-11-30"))
    return make_claim(
        session,
        "agi-2026",
        AGI,
        kind="judged",
        deadline=dt.date(2026, 12, 31),
        window_start=dt.date(2026, 1, 1),
    )


def test_judged_claim_goes_to_review_then_a_manual_verdict_and_an_override(engine: Engine) -> None:
    with Session(engine) as session:
        claim = _agi(session)
        (before,) = evaluate_claims(session, now=at("2026-12-31"))
        assert (before.state, before.trend) == ("open", "not_applicable")
        (review,) = evaluate_claims(session, now=at("2027-01-01", 0))
        assert review.state == "needs_review"
        assert "0.12" in review.reason  # the context signal as it stood
        session.commit()

        with pytest.raises(InvalidResolution):
            record_manual_resolution(
                session,
                claim,
                outcome="maybe",
                decided_by="r",
                rationale="x",
                evidence=[],
                now=at("2027-01-05"),
            )
        with pytest.raises(InvalidResolution):
            record_manual_resolution(
                session,
                claim,
                outcome="false",
                decided_by="r",
                rationale="  ",
                evidence=[],
                now=at("2027-01-05"),
            )
        first = record_manual_resolution(
            session,
            claim,
            outcome="false",
            decided_by="reviewer-a",
            rationale="No broad agreement by the end of 2026.",
            evidence=["https://example.org/survey"],
            now=at("2027-01-05"),
        )
        session.commit()
        session.refresh(claim)
        assert claim.status_state == "resolved_false"
        second = record_manual_resolution(
            session,
            claim,
            outcome="ambiguous",
            decided_by="reviewer-b",
            rationale="Definitions disagree; the rubric cannot decide.",
            evidence=[],
            note="overrides reviewer-a after the March debate",
            now=at("2027-03-01"),
        )
        session.commit()
        session.refresh(claim)
        session.refresh(first)
        assert claim.status_state == "ambiguous"
        assert first.superseded_by_id == second.id and second.supersedes_id == first.id
        assert "Note: overrides reviewer-a" in (second.rationale or "")
        assert [r.outcome for r in _resolutions(session, claim.id)] == ["false", "ambiguous"]
        states = [e.state for e in status_history(session, claim.id)]
        assert states == ["open", "needs_review", "resolved_false", "ambiguous"]
        # a replay before the override still shows the first verdict
        replay = replay_claim(session, claim, dt.date(2027, 2, 1), now=at("2027-03-02"))
        assert replay.state == "resolved_false"


def test_manual_resolution_overrides_an_automatic_one(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        chn_f, usa_f = _future(14_500.0, 4_700.0)
        observe(session, chn, {**DATA["CHN"], **chn_f}, at("2031-07-01"))
        observe(session, usa, {**DATA["USA"], **usa_f}, at("2031-07-01"))
        evaluate_claims(session, now=at("2031-07-02"))
        manual = record_manual_resolution(
            session,
            claim,
            outcome="partial",
            decided_by="reviewer",
            rationale="Generation counted differently; only partly kept.",
            evidence=["https://ember-energy.org/"],
            note="overrides the automatic verdict: generation is counted differently",
            now=at("2031-08-01"),
        )
        session.commit()
        session.refresh(claim)
        assert claim.status_state == "resolved_partial"
        # later evaluations keep the reviewer's verdict and add no automatic one
        (later,) = evaluate_claims(session, now=at("2032-07-01"))
        assert later.state == "resolved_partial"
        assert later.metric is not None and later.metric.period == "2030"
        session.commit()
        assert [(r.method, r.outcome) for r in _resolutions(session, claim.id)] == [
            ("auto", "true"),
            ("manual", "partial"),
        ]
        assert current_resolution(session, claim.id).id == manual.id  # type: ignore[union-attr]


def test_withdrawn_claim(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        claim.lifecycle = "withdrawn"
        session.flush()
        (result,) = evaluate_claims(session, now=at("2026-06-01"))
        assert result.state == "withdrawn"
        session.commit()
        session.refresh(claim)
        assert claim.status_state == "withdrawn"


def _many_claims(session: Session, n: int, offset: int = 0) -> None:
    for i in range(offset, offset + n):
        ind = make_indicator(session, f"ind.{i}")
        observe(
            session,
            ind,
            {str(y): 100.0 + i + 3 * (y - 2015) for y in range(2015, 2026)},
            KNOWN_2026,
        )
        make_claim(
            session,
            f"claim-{i}",
            [
                {
                    "key": "k",
                    "type": "threshold",
                    "series": {"indicator": f"ind.{i}"},
                    "threshold": 140.0,
                    "period": "2030",
                }
            ],
            deadline=dt.date(2030, 12, 31),
        )


def test_statement_count_does_not_grow_with_the_number_of_claims(engine: Engine) -> None:
    counts = []
    with Session(engine) as session:
        _many_claims(session, 3)
        session.commit()
        with count_statements(engine) as statements:
            assert len(evaluate_claims(session, now=at("2026-06-01"))) == 3
        counts.append(len(statements))
        session.commit()
        _many_claims(session, 27, offset=3)
        session.commit()
        with count_statements(engine) as statements:
            # all 30 change state (their series silent since 2025: data overdue, to review)
            results = evaluate_claims(session, now=at("2031-01-01"))
        assert len(results) == 30 and {r.state for r in results} == {"needs_review"}, statements
        counts.append(len(statements))
        session.commit()
        with count_statements(engine) as statements:
            evaluate_claims(session, now=at("2031-01-02"))  # nothing changes: reads only
        assert len(statements) <= counts[0]
    assert counts[0] == counts[1], counts


def test_only_changed_claims_append_and_indicator_filter(engine: Engine) -> None:
    with Session(engine) as session:
        _many_claims(session, 4)
        session.commit()
        evaluate_claims(session, now=at("2026-06-01"))
        session.commit()
        total = len(session.exec(select(Evaluation)).all())
        assert total == 4
        ind = session.exec(select(Indicator).where(Indicator.key == "ind.2")).one()
        observe(session, ind, {"2025": 500.0}, at("2026-07-01"))
        assert ind.id is not None
        results = evaluate_claims(session, now=at("2026-07-02"), indicator_ids=[ind.id])
        assert [r.slug for r in results] == ["claim-2"]
        session.commit()
        assert len(session.exec(select(Evaluation)).all()) == 5
        evaluate_claims(session, now=at("2026-07-03"))  # all four: none changed
        session.commit()
        assert len(session.exec(select(Evaluation)).all()) == 5


def test_stored_status_has_the_shape_the_api_needs(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        (result,) = evaluate_claims(session, now=at("2026-06-01"))
        session.commit()
        (row,) = status_history(session, claim.id)
        stored = evaluation_status(row)
        fresh = result.to_dict()
        for key in ("state", "trend", "reason", "threshold", "required_growth", "outcome"):
            assert stored[key] == fresh[key]
        assert stored["metric"] == {
            "value": fresh["metric"]["value"],
            "unit": "1",
            "period": "2025",
        }
        assert stored["projection"] == fresh["projection"]
        assert stored["criteria"] == fresh["criteria"]
        assert stored["evidence"] == fresh["evidence"]
        assert stored["as_of"] == stored["evaluated_at"] == at("2026-06-01").isoformat()
        assert row.fingerprint == result.fingerprint()


def test_load_claim_inputs_reports_an_unparseable_criterion(engine: Engine) -> None:
    with Session(engine) as session:
        claim = make_claim(
            session,
            "bad",
            [
                {
                    "key": "k",
                    "type": "threshold",
                    "series": {"indicator": "x"},
                    "threshold": 1.0,
                    "period": "2030",
                }
            ],
        )
        crit = session.exec(select(Criterion).where(Criterion.claim_id == claim.id)).one()
        crit.spec = {"key": "k", "type": "threshold", "threshold": "lots"}
        session.flush()
        (inputs,) = load_claim_inputs(session)
        assert inputs.criteria_error is not None and "'k'" in inputs.criteria_error
        (result,) = evaluate_claims(session, now=at("2026-06-01"))
        assert result.state == "error"


def test_skipping_unchanged_claims_gives_the_same_status_as_forcing(engine: Engine) -> None:
    """Two identical claims over one timeline: one skipped when unchanged, one always forced."""
    with Session(engine) as session:
        lazy, chn, usa = china_claim(session)
        eager = make_claim(
            session, "china-power-3x-us-2030-eager", CHINA_CRITERIA, deadline=dt.date(2030, 12, 31)
        )
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        chn_f, usa_f = _future(14_500.0, 4_700.0)
        events = {
            "2031-07-01": lambda: (
                observe(session, chn, chn_f, at("2031-07-01", 6)),
                observe(session, usa, usa_f, at("2031-07-01", 6)),
            ),
            "2031-10-01": lambda: observe(session, chn, {"2030": 13_500.0}, at("2031-10-01", 6)),
        }
        days = [
            "2026-06-01", "2026-06-02", "2027-03-01", "2030-12-31", "2031-01-01", "2031-01-02",
            "2031-06-29", "2031-06-30", "2031-07-01", "2031-07-02", "2031-10-01", "2031-10-02",
            "2032-09-29", "2032-09-30", "2032-10-01", "2033-01-01",
        ]  # fmt: skip
        skipped = 0
        for day in days:
            if day in events:
                events[day]()
            evaluated = evaluate_claims(session, now=at(day), claim_ids=[lazy.id], force=False)
            skipped += not evaluated
            evaluate_claims(session, now=at(day), claim_ids=[eager.id], force=True)
            session.commit()
            session.refresh(lazy)
            session.refresh(eager)
            assert (lazy.status_state, lazy.status_trend) == (
                eager.status_state,
                eager.status_trend,
            ), day
            a, b = status_history(session, lazy.id)[-1], status_history(session, eager.id)[-1]
            assert (a.reason, a.metric_value, a.projection_value) == (
                b.reason,
                b.metric_value,
                b.projection_value,
            ), day
        assert skipped >= 3  # the quiet days really were skipped
        assert [e.state for e in status_history(session, lazy.id)] == [
            e.state for e in status_history(session, eager.id)
        ]
        assert [r.outcome for r in _resolutions(session, lazy.id)] == [
            r.outcome for r in _resolutions(session, eager.id)
        ]
        assert lazy.status_state == "resolved_false"  # after the revision, final after 2032-09-30


def test_a_changed_claim_is_re_evaluated_even_when_its_data_is_not(engine: Engine) -> None:
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        evaluate_claims(session, now=at("2026-06-01"))
        session.commit()
        assert evaluate_claims(session, now=at("2026-06-02")) == []
        claim.deadline = dt.date(2025, 12, 31)  # an amendment: version 2, an earlier deadline
        claim.version = 2
        session.commit()
        (result,) = evaluate_claims(session, now=at("2026-06-03"))
        assert result.state == "awaiting_data"


def test_a_re_evaluation_with_an_unchanged_result_is_not_repeated_by_later_sweeps(
    engine: Engine,
) -> None:
    """New data that changes nothing the claim shows re-evaluates it once and appends nothing;
    the claim row records that check, so the next sweeps skip it (they used to compare with the
    stored evaluation's older inputs and evaluate it again every day)."""
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        assert len(evaluate_claims(session, now=at("2026-06-01"))) == 1
        session.commit()
        assert evaluate_claims(session, now=at("2026-06-02")) == []
        # a period far before the fit window: a new observation row the claim cannot use
        observe(session, chn, {"1985": 400.0}, at("2026-06-03", 1))
        session.commit()
        (again,) = evaluate_claims(session, now=at("2026-06-03"))
        session.commit()
        history = status_history(session, claim.id)
        assert len(history) == 1  # the same result: nothing appended
        session.refresh(claim)
        watermark = session.exec(select(sa.func.max(Observation.id))).one()
        assert claim.status_checked_at == at("2026-06-03")
        assert claim.status_data_watermark == watermark
        assert claim.status_stable_until == again.stable_until
        assert claim.status_inputs_key == history[0].details["inputs_key"]
        for day in ("2026-06-04", "2026-06-05"):
            assert evaluate_claims(session, now=at(day)) == [], day
            session.commit()
        assert len(status_history(session, claim.id)) == 1


def _recipe_key(
    session: Session,
    claim: Claim,
    indicators: tuple[Indicator, ...],
    *,
    resolution_id: int | None,
    wait_id: int | None,
) -> str:
    """The inputs key of `claim` written out from its recipe: the sha256 of the repr of the list
    of what its evaluation reads, then each indicator's metadata (`indicators`: in the order
    its criteria name them)."""
    criteria_ids = sorted(
        session.exec(
            select(Criterion.id).where(
                Criterion.claim_id == claim.id, col(Criterion.valid_until).is_(None)
            )
        ).all()
    )
    material = [
        EVALUATOR_VERSION,
        claim.version,
        claim.kind,
        claim.lifecycle,
        str(claim.deadline),
        str(claim.window_start),
        str(claim.window_end),
        criteria_ids,
        resolution_id,
        wait_id,
    ]
    metadata = {  # id, unit, frequency, lag, revision window, spec's model, grace, gaps
        ind.key: [
            ind.id,
            ind.unit,
            ind.frequency,
            ind.publication_lag_days,
            ind.revision_window_days,
            None,
            None,
            None,
        ]
        for ind in indicators
    }
    used = ", ".join(f"{ind.key!r}: {metadata[ind.key]!r}" for ind in indicators)
    return hashlib.sha256(f"{material!r}{{{used}}}".encode()).hexdigest()


def test_the_inputs_key_keeps_its_recipe(engine: Engine) -> None:
    """The key a run stores (claim row and details) is the sha256 of the repr of the list of
    what the claim's evaluation reads, then each indicator's metadata: the recipe every stored
    key was made with. Built another way, it must give the same text, or an upgrade would
    re-evaluate every claim once for nothing."""
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        evaluate_claims(session, now=at("2026-06-01"))
        session.commit()
        session.refresh(claim)
        # in the order the claim's criteria name them; no resolution, no wait extension
        expected = _recipe_key(session, claim, (chn, usa), resolution_id=None, wait_id=None)
        assert claim.status_inputs_key == expected
        (row,) = status_history(session, claim.id)
        assert row.details["inputs_key"] == expected


def test_claims_alike_each_keep_their_own_inputs_key(engine: Engine) -> None:
    """A run writes the parts of the inputs key that claims share (the claim's version, kind,
    lifecycle and dates; its indicators' metadata) once: each claim's key is still the recipe of
    its own inputs (its criteria rows, resolution and wait extension)."""
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        deadline = dt.date(2030, 12, 31)
        level = {**CHINA_CRITERIA[0], "key": "level"}
        twins = [
            make_claim(session, "twin-same", CHINA_CRITERIA, deadline=deadline),
            make_claim(session, "twin-two-rows", [*CHINA_CRITERIA, level], deadline=deadline),
            make_claim(session, "twin-waits", CHINA_CRITERIA, deadline=deadline),
            make_claim(session, "twin-resolved", CHINA_CRITERIA, deadline=deadline),
        ]
        session.add(
            WaitExtension(
                claim_id=twins[2].id,
                wait_until=dt.date(2031, 1, 1),
                reason="the source is late",
                decided_by="reviewer",
                recorded_at=at("2026-05-01"),
            )
        )
        session.commit()
        evaluate_claims(session, now=at("2026-05-15"))
        record_manual_resolution(
            session,
            twins[3],
            outcome="partial",
            decided_by="reviewer",
            rationale="Only partly kept.",
            evidence=["https://ember-energy.org/"],
            note="claimant conceded part of it early",
            now=at("2026-05-20"),
        )
        session.commit()
        evaluate_claims(session, now=at("2026-06-01"), force=True)
        session.commit()
        for ind in (chn, usa):  # the indicator metadata all five keys share
            session.refresh(ind)
            meta = (ind.unit, ind.frequency, ind.publication_lag_days, ind.revision_window_days)
            assert meta == ("TWh", "annual", 180, 365), ind.key
        keys = set()
        for one in (claim, *twins):
            session.refresh(one)
            # claims alike: the same kind, lifecycle and dates
            assert (one.kind, one.lifecycle) == ("hard", "active"), one.slug
            assert (one.deadline, one.window_start, one.window_end) == (deadline, None, None)
            resolution = current_resolution(session, one.id)  # type: ignore[arg-type]
            wait = session.exec(select(WaitExtension).where(WaitExtension.claim_id == one.id)).all()
            expected = _recipe_key(
                session,
                one,
                (chn, usa),
                resolution_id=None if resolution is None else resolution.id,
                wait_id=wait[0].id if wait else None,
            )
            assert one.status_inputs_key == expected, one.slug
            keys.add(expected)
        assert len(keys) == 5
        assert current_resolution(session, twins[3].id) is not None  # type: ignore[arg-type]


def test_a_sweep_reads_criteria_alike_with_and_without_the_process_cache(engine: Engine) -> None:
    """The indicator keys of each criterion spec are cached per spec text for the process
    (`clear_caches` empties it): a warm sweep finds new data of a claim's indicators exactly
    as a cold one does, and a cleared cache changes nothing either."""
    with Session(engine) as session:
        claim, chn, usa = china_claim(session)
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        clear_caches()
        assert len(evaluate_claims(session, now=at("2026-06-01"))) == 1  # cold
        session.commit()
        assert evaluate_claims(session, now=at("2026-06-02")) == []  # warm: nothing new
        observe(session, usa, {"2025": DATA["USA"]["2025"] * 1.5}, at("2026-06-03", 1))
        session.commit()
        (warm,) = evaluate_claims(session, now=at("2026-06-03"))  # warm: the USA's new vintage
        session.rollback()
        clear_caches()
        (cold,) = evaluate_claims(session, now=at("2026-06-03"))
        assert cold == warm
        session.commit()
        assert len(status_history(session, claim.id)) == 2
        assert evaluate_claims(session, now=at("2026-06-04")) == []


def test_claims_with_alike_criteria_rows_are_answered_each_as_alone(engine: Engine) -> None:
    """A run parses alike criteria rows once and lets the claims share the criterion: each claim
    still gets what it gets evaluated on its own (its deadline, its error), and a spec that does
    not parse is reported on every claim that has it."""
    with Session(engine) as session:
        early, chn, usa = china_claim(session)
        late = make_claim(  # the same criteria, a deadline already passed
            session, "china-power-3x-us-2025", CHINA_CRITERIA, deadline=dt.date(2025, 12, 31)
        )
        observe(session, chn, DATA["CHN"], KNOWN_2026)
        observe(session, usa, DATA["USA"], KNOWN_2026)
        bad = [{"key": "k", "type": "threshold", "series": {"indicator": "owid.gen.chn"}}]
        broken = [make_claim(session, f"broken-{n}", bad) for n in range(2)]
        for claim in broken:
            crit = session.exec(select(Criterion).where(Criterion.claim_id == claim.id)).one()
            crit.spec = {"key": "k", "type": "threshold", "threshold": "lots"}
        session.commit()
        ids = {claim.slug: claim.id for claim in (early, late, *broken)}
        together = {r.slug: r for r in evaluate_claims(session, now=at("2026-06-01"))}
        session.rollback()
        assert set(together) == set(ids)
        for slug, claim_id in ids.items():
            (alone,) = evaluate_claims(session, now=at("2026-06-01"), claim_ids=[claim_id])
            session.rollback()
            assert together[slug] == alone, slug
        assert together[early.slug].state == "open"
        assert together["china-power-3x-us-2025"].state == "awaiting_data"
        for slug in ("broken-0", "broken-1"):
            result = together[slug]
            assert result.state == "error" and "criterion 'k' is invalid" in result.reason
