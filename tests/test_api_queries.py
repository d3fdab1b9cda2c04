"""The read-side queries (tracker.queries) on a real database: filters, cursors, records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_api_support import T0, make_claim, make_evaluation, make_resolution

from tracker import queries
from tracker.queries import ClaimFilters, InvalidCursor


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with Session(engine) as s:
        china = make_claim(s, "china-power-3x-us-2030", tags=["energy", "china"])
        make_evaluation(s, china, state="open", trend="on_track")
        agi = make_claim(s, "agi-2026", deadline=dt.date(2026, 12, 31), kind="judged", tags=["ai"])
        make_evaluation(s, agi, state="open", trend="not_applicable", metric_value=None)
        make_claim(s, "pensions-become-unnecessary", deadline=None, kind="judged")
        late = make_claim(
            s, "old-claim", deadline=dt.date(2025, 12, 31), claimant="someone", probability=0.8
        )
        make_evaluation(s, late, state="awaiting_data", trend=None)
        review = make_claim(s, "review-me", deadline=dt.date(2025, 6, 30), claimant="someone")
        make_evaluation(s, review, state="needs_review", trend=None)
        s.commit()
    return engine


def test_list_filters_and_sorts(seeded: Engine) -> None:
    with Session(seeded) as s:
        page = queries.list_claims(s)
        assert [i.claim.slug for i in page.items] == [
            "review-me",
            "old-claim",
            "agi-2026",
            "china-power-3x-us-2030",
            "pensions-become-unnecessary",
        ]
        assert page.next_cursor is None
        assert page.items[3].evaluation is not None
        assert page.items[3].evaluation.metric_value == 2.34
        by_tag = queries.list_claims(s, ClaimFilters(tag="energy"))
        assert [i.claim.slug for i in by_tag.items] == ["china-power-3x-us-2030"]
        assert queries.list_claims(s, ClaimFilters(tag="ener")).items == []
        by_state = queries.list_claims(s, ClaimFilters(state="open"), sort="slug")
        assert [i.claim.slug for i in by_state.items] == ["agi-2026", "china-power-3x-us-2030"]
        window = queries.list_claims(
            s, ClaimFilters(deadline_after=dt.date(2026, 1, 1), deadline_before=dt.date(2027, 1, 1))
        )
        assert [i.claim.slug for i in window.items] == ["agi-2026"]
        someone = queries.list_claims(s, ClaimFilters(claimant="someone"), sort="-slug")
        assert [i.claim.slug for i in someone.items] == ["review-me", "old-claim"]
        search = queries.list_claims(s, ClaimFilters(q="POWER-3x"))
        assert [i.claim.slug for i in search.items] == ["china-power-3x-us-2030"]
        # the quotes are searched too: every claim made here quotes the same words
        assert len(queries.list_claims(s, ClaimFilters(q="中国の電力")).items) == 5


@pytest.mark.parametrize("sort", queries.SORT_KEYS)
def test_cursor_pages_cover_everything_once(seeded: Engine, sort: str) -> None:
    with Session(seeded) as s:
        everything = [i.claim.slug for i in queries.list_claims(s, sort=sort, limit=100).items]
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = queries.list_claims(s, sort=sort, cursor=cursor, limit=2)
            seen += [i.claim.slug for i in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == everything
        assert len(seen) == 5


def test_bad_cursor_and_sort(seeded: Engine) -> None:
    with Session(seeded) as s:
        with pytest.raises(InvalidCursor):
            queries.list_claims(s, cursor="not-a-cursor!!")
        page = queries.list_claims(s, sort="slug", limit=1)
        assert page.next_cursor
        with pytest.raises(InvalidCursor):
            queries.list_claims(s, sort="deadline", cursor=page.next_cursor)
        with pytest.raises(ValueError, match="unknown sort"):
            queries.list_claims(s, sort="title")


def test_get_claim_and_deadlines(seeded: Engine) -> None:
    with Session(seeded) as s:
        detail = queries.get_claim(s, "china-power-3x-us-2030")
        assert detail is not None
        assert detail.claimant.slug == "elon-musk"
        assert detail.source_document is not None
        assert detail.evaluation is not None and detail.evaluation.state == "open"
        assert queries.get_claim(s, "nope") is None
        due = queries.upcoming_deadlines(s, dt.date(2026, 11, 1), within_days=90)
        assert [i.claim.slug for i in due.upcoming] == ["agi-2026"]
        assert [i.claim.slug for i in due.awaiting_data] == ["old-claim"]
        assert [i.claim.slug for i in due.needs_review] == ["review-me"]
        assert queries.counts_by_state(s) == {
            "open": 2,
            "awaiting_data": 1,
            "needs_review": 1,
            "unevaluated": 1,
        }


def test_track_record(seeded: Engine) -> None:
    with Session(seeded) as s:
        old = queries.get_claim(s, "old-claim")
        review = queries.get_claim(s, "review-me")
        assert old and review
        first = make_resolution(
            s, old.claim, "false", decided_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        )
        # overridden: the newer verdict counts, the old one stays in the history
        make_resolution(
            s,
            old.claim,
            "true",
            decided_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            supersedes=first,
        )
        make_resolution(
            s, review.claim, "false", decided_at=dt.datetime(2025, 7, 10, tzinfo=dt.UTC)
        )
        s.commit()
        record = queries.claimant_track_record(s, "someone")
        assert record is not None
        assert (record.resolved_true, record.resolved_false, record.unresolved) == (1, 1, 0)
        assert record.share_kept == 0.5
        # lateness: 2026-04-01 - 2025-12-31 = 91 days; 2025-07-10 - 2025-06-30 = 10 days
        assert record.mean_lateness_days == pytest.approx((91 + 10) / 2)
        # Brier only where a probability was stated: (0.8 - 1)^2
        assert record.brier_score == pytest.approx(0.04)
        assert record.brier_count == 1
        assert len(queries.claim_resolutions(s, old.claim.id or 0)) == 2
        assert queries.claimant_track_record(s, "nobody") is None


def test_history_and_recent_changes(seeded: Engine) -> None:
    with Session(seeded) as s:
        detail = queries.get_claim(s, "china-power-3x-us-2030")
        assert detail is not None
        make_evaluation(
            s,
            detail.claim,
            state="open",
            trend="off_track",
            at=T0 + dt.timedelta(days=30),
            projection_value=2.7,
        )
        s.commit()
        history = queries.claim_history(s, detail.claim.id or 0)
        assert [e.trend for e in history] == ["on_track", "off_track"]
        changes = queries.recent_status_changes(s, limit=3)
        assert changes[0].claim_slug == "china-power-3x-us-2030"
        assert changes[0].previous_trend == "on_track"
        assert "trend" in changes[0].changed
        assert len(queries.claim_revisions(s, detail.claim.id or 0)) == 1


def test_recent_changes_can_leave_out_or_keep_only_first_evaluations(seeded: Engine) -> None:
    with Session(seeded) as s:
        detail = queries.get_claim(s, "china-power-3x-us-2030")
        assert detail is not None
        make_evaluation(
            s, detail.claim, state="open", trend="off_track", at=T0 + dt.timedelta(days=30)
        )
        s.commit()
        everything = queries.recent_status_changes(s, limit=100)
        firsts = queries.recent_status_changes(s, limit=100, first=True)
        later = queries.recent_status_changes(s, limit=100, first=False)
    assert sorted(c.evaluation.id or 0 for c in firsts + later) == sorted(
        c.evaluation.id or 0 for c in everything
    )
    assert len(firsts) == 4 and all(c.previous_state is None for c in firsts)
    assert [(c.claim_slug, c.previous_trend) for c in later] == [
        ("china-power-3x-us-2030", "on_track")
    ]
