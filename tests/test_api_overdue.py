"""A reviewer's journey with overdue data: a claim whose series went silent goes to review
("data overdue since …"), /readyz and the overview's review queue count it, the reviewer extends
the wait (recorded: who, when, why, new date) or voids the claim, and history keeps every step.
Real database, real app; the clock fixture (2026-11-28)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_status_factories import make_claim, make_indicator, observe

from tracker.auth import create_token
from tracker.clock import FixedClock
from tracker.config import Settings
from tracker.models import Claim, Evaluation, WaitExtension
from tracker.status import evaluate_claims
from tracker.web.app import create_app

SLUG = "silent-series-2030"
# annual, lag 180: the 2024 value was due 2025-06-29; + 120 days' grace, overdue from 2025-10-28
KNOWN = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)


@pytest.fixture
def overdue(engine: Engine, clock: FixedClock) -> Engine:
    with Session(engine) as s:
        ind = make_indicator(s, "silent.series", unit="count", lag=180, revision=365)
        observe(s, ind, {str(y): 80.0 + 2 * (y - 2015) for y in range(2015, 2024)}, KNOWN)
        criteria = [
            {
                "key": "k",
                "type": "threshold",
                "series": {"indicator": "silent.series"},
                "mode": "at_period",
                "period": "2030",
                "comparator": ">=",
                "threshold": 100.0,
            }
        ]
        make_claim(s, SLUG, criteria, deadline=dt.date(2030, 12, 31))
        s.commit()
        evaluate_claims(s, now=clock())
        s.commit()
    return engine


@pytest.fixture
def client(settings: Settings, overdue: Engine, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=overdue)) as c:
        yield c


@pytest.fixture
def resolver(overdue: Engine, clock: FixedClock) -> dict[str, str]:
    with Session(overdue) as s:
        token = create_token(s, "resolver", ["resolve"], now=clock()).plaintext
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def _status(client: TestClient) -> dict[str, object]:
    r = client.get(f"/api/v1/claims/{SLUG}")
    assert r.status_code == 200, r.text
    status: dict[str, object] = r.json()["status"]
    return status


def _overdue_count(client: TestClient) -> object:
    body = client.get("/readyz").json()
    assert body["checks"]["claims"]["informational"] is True
    return body["checks"]["claims"]["overdue_claims"]


def test_overdue_data_asks_a_reviewer_who_extends_the_wait(
    client: TestClient, resolver: dict[str, str], overdue: Engine, clock: FixedClock
) -> None:
    status = _status(client)
    assert status["state"] == "needs_review"
    assert (status["review_reason"], status["overdue_since"]) == ("data_overdue", "2025-06-29")
    assert str(status["reason"]).startswith(
        "data overdue since 2025-06-29: data for 2024 (the series' next release)"
    )
    assert _overdue_count(client) == 1
    page = client.get("/").text
    assert "1 claim waits because data is overdue" in page
    assert "data overdue since 2025-06-29" in page

    url = f"/api/v1/claims/{SLUG}/extend-wait"
    body = {"wait_until": "2027-03-31", "reason": "The publisher announced a March release."}
    assert client.post(url, json=body).status_code == 401  # a reviewer's act: needs a token
    past = client.post(url, json={**body, "wait_until": "2026-11-28"}, headers=resolver)
    assert past.status_code == 422
    assert [e["field"] for e in past.json()["errors"]] == ["wait_until"]
    short = client.post(url, json={**body, "reason": ""}, headers=resolver)
    assert short.status_code == 422 and "reason" in short.text

    done = client.post(url, json=body, headers=resolver)
    assert done.status_code == 201, done.text
    out = done.json()
    assert (out["wait_until"], out["decided_by"], out["state"]) == (
        "2027-03-31",
        "resolver",
        "open",
    )
    assert out["overdue_since"] == "2025-06-29" and out["recorded_at"].startswith("2026-11-28")
    status = _status(client)
    assert status["state"] == "open" and status["review_reason"] is None
    assert "wait extended to 2027-03-31" in str(status["reason"])
    assert _overdue_count(client) == 0
    listed = client.get(f"/api/v1/claims/{SLUG}/wait-extensions").json()["items"]
    assert [(i["wait_until"], i["reason"]) for i in listed] == [
        ("2027-03-31", "The publisher announced a March release.")
    ]

    # the wait over and the data still missing: back to review; the history keeps every row
    with Session(overdue) as s:
        evaluate_claims(s, now=dt.datetime(2027, 4, 1, 6, tzinfo=dt.UTC))
        s.commit()
        claim = s.exec(select(Claim).where(Claim.slug == SLUG)).one()
        assert claim.status_state == "needs_review"
        states = s.exec(
            select(Evaluation.state, Evaluation.review_reason)
            .where(Evaluation.claim_id == claim.id)
            .order_by(col(Evaluation.id))
        ).all()
        assert [tuple(r) for r in states] == [
            ("needs_review", "data_overdue"),
            ("open", None),
            ("needs_review", "data_overdue"),
        ]
        assert len(s.exec(select(WaitExtension)).all()) == 1


def test_a_reviewer_voids_a_claim_whose_data_will_not_come(
    client: TestClient, resolver: dict[str, str]
) -> None:
    r = client.post(
        f"/api/v1/claims/{SLUG}/resolutions",
        json={
            "outcome": "void",
            "rationale": "The series was discontinued: no establishable metric.",
            "note": "data overdue since 2025-06-29; the publisher stopped the series",
        },
        headers=resolver,
    )
    assert r.status_code == 201, r.text
    assert _status(client)["state"] == "void"
    assert _overdue_count(client) == 0
    # a voided claim waits for nothing: no extension
    again = client.post(
        f"/api/v1/claims/{SLUG}/extend-wait",
        json={"wait_until": "2027-03-31", "reason": "too late"},
        headers=resolver,
    )
    assert again.status_code == 422
    assert [e["field"] for e in again.json()["errors"]] == ["slug"]
