"""The overview's counts by what a reader asks (tracker.outlook), and the claim list's filters,
parsed once for the API and the dashboard (tracker.web.claim_query): each count's link lists
exactly the claims counted, by an oracle that reads the trend badge each row shows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, clocked_app, make_claim, make_claimant, make_evaluation
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tracker.models import Claim, Evaluation
from tracker.outlook import Outlook
from tracker.web.wording import TOO_UNCERTAIN_LABEL, trend_badge

SLUG = re.compile(r'<div class="slug">([^<]+)</div>')


def _extra_claims(engine) -> None:
    """One open claim for each trend reading the seed lacks: firm on/off track, a band that
    straddles the threshold, a band too wide to call, and a claim never evaluated."""
    with Session(engine) as session:
        who = make_claimant(session, "outlook-tester", "Outlook Tester")
        rows = {
            "firm-on": (
                "on_track",
                {
                    "projection_value": 5.0,
                    "projection_low": 4.0,
                    "projection_high": 6.0,
                    "threshold": 3.0,
                },
            ),
            "firm-off": (
                "off_track",
                {
                    "projection_value": 1.0,
                    "projection_low": 0.5,
                    "projection_high": 2.0,
                    "threshold": 3.0,
                },
            ),
            "straddling": (
                "on_track",
                {
                    "projection_value": 3.5,
                    "projection_low": 2.0,
                    "projection_high": 5.0,
                    "threshold": 3.0,
                },
            ),
            "too-wide": (
                "insufficient_data",
                {
                    "projection_value": 3.0,
                    "projection_low": 0.01,
                    "projection_high": 90.0,
                    "threshold": 3.0,
                },
            ),
        }
        for slug, (trend, values) in rows.items():
            claim = make_claim(session, who, slug, deadline=NOW.date().replace(year=2030))
            make_evaluation(session, claim, "open", f"{slug} reading", trend=trend, **values)
        make_claim(session, who, "never-evaluated", deadline=NOW.date().replace(year=2031))
        session.commit()


def oracle(claim: Claim, ev: Evaluation | None) -> str | None:
    """What the row's own badge says, in outlook words (None: no outlook covers it)."""
    state, trend = claim.status_state, claim.status_trend
    if state is None:
        return "no_data"
    if state in ("open", "upcoming"):
        if trend is None:
            return "no_data"
        if trend == "not_applicable":
            return "judged_at_deadline"
        badge = trend_badge(
            trend,
            ev.projection_low if ev else None,
            ev.projection_high if ev else None,
            ev.threshold if ev else None,
            ev.projection_value if ev else None,
        )
        assert badge is not None
        if badge.uncertain_because or badge.label == TOO_UNCERTAIN_LABEL:
            return "too_uncertain"
        return "no_data" if trend == "insufficient_data" else trend
    return {
        "awaiting_data": "awaiting_data",
        "needs_review": "needs_verdict",
        "resolved_true": "kept",
        "resolved_false": "not_kept",
    }.get(state)


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    _extra_claims(essay_engine)
    with TestClient(clocked_app(settings, essay_engine)) as c:
        yield c


def expected_outlooks(engine) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {o.value: set() for o in Outlook}
    with Session(engine) as session:
        for claim in session.exec(select(Claim)).all():
            ev = (
                session.get(Evaluation, claim.status_evaluation_id)
                if claim.status_evaluation_id
                else None
            )
            found = oracle(claim, ev)
            if found is not None:
                out[found].add(claim.slug)
    return out


def test_each_overview_count_links_to_exactly_the_rows_counted(client, essay_engine):
    expected = expected_outlooks(essay_engine)
    # the extra claims and the seed cover most outlooks
    assert sum(1 for slugs in expected.values() if slugs) >= 8
    html = client.get("/").text
    for outlook in Outlook:
        link = re.search(
            rf'<a class="outlook outlook-{outlook.value}" href="(/claims\?outlook={outlook.value})"'
            r"[^>]*><strong>(\d+)</strong>",
            html,
        )
        assert link is not None, outlook
        listed = client.get(link.group(1))
        assert listed.status_code == 200
        rows = set(SLUG.findall(listed.text))
        assert rows == expected[outlook.value], outlook
        assert int(link.group(2)) == len(rows), outlook
        api = client.get("/api/v1/claims", params={"outlook": outlook.value}).json()["items"]
        assert {c["slug"] for c in api} == rows, outlook


def test_every_claim_with_an_outlook_is_counted_once(client, essay_engine):
    expected = expected_outlooks(essay_engine)
    seen = Counter(slug for slugs in expected.values() for slug in slugs)
    assert all(n == 1 for n in seen.values())
    assert {"firm-on", "firm-off", "straddling", "too-wide", "never-evaluated"} <= set(seen)
    assert "straddling" in expected["too_uncertain"] and "too-wide" in expected["too_uncertain"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"trend": "off_track"}, "trend"),
        ({"kind": "judged"}, "kind"),
        ({"state": "open", "trend": "on_track"}, None),
        ({"claimant": "outlook-tester"}, None),
        ({"deadline_before": "2027-06-01"}, None),
        ({"tag": "energy"}, None),
    ],
)
def test_the_page_filters_as_the_api_does(client, params, field):
    api = {c["slug"] for c in client.get("/api/v1/claims", params=params).json()["items"]}
    page = client.get("/claims", params=params)
    assert page.status_code == 200
    assert set(SLUG.findall(page.text)) == api
    all_rows = set(SLUG.findall(client.get("/claims").text))
    if field:  # a real filter: it leaves rows out (today's bug: trend was ignored)
        assert api and api < all_rows


def test_the_page_sorts_as_the_api_does(client):
    for sort in ("-deadline", "slug", "-slug"):
        api = [
            c["slug"] for c in client.get("/api/v1/claims", params={"sort": sort}).json()["items"]
        ]
        assert SLUG.findall(client.get("/claims", params={"sort": sort}).text) == api


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("trend", "off-track"),
        ("kind", "soft"),
        ("outlook", "rosy"),
        ("deadline_before", "soon"),
        ("sort", "title"),
    ],
)
def test_an_unknown_filter_value_is_a_422_naming_it_on_both(client, name, value):
    api = client.get("/api/v1/claims", params={name: value})
    assert api.status_code == 422
    assert [e["field"] for e in api.json()["errors"]] == [name]
    page = client.get("/claims", params={name: value})
    assert page.status_code == 422
    error = re.search(r'id="filter-error">(.*?)</p>', page.text)
    assert error is not None and error.group(1).startswith(f"{name}: ")
    assert "No claims." not in page.text and not SLUG.findall(page.text)


def test_a_blank_choice_means_any(client):
    page = client.get("/claims", params={"trend": "", "kind": "", "outlook": ""})
    assert page.status_code == 200
    assert len(SLUG.findall(page.text)) == len(client.get("/api/v1/claims").json()["items"])
