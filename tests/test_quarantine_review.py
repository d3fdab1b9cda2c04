"""A quarantined vintage in the API and on the dashboard, and a reviewer's decision on it: who,
when and why recorded (append-only), only with the `resolve` scope and a signed-in session, and
a replay of any earlier date still reading what was in use then. Real app, real database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient
from quarantine_support import CHN, CLAIM, claim_status, cut_inside_last_value, filtered_csv
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_dashboard import csrf_of, sign_in
from test_quarantine import DAMAGED, T1, fetch, held, values
from test_quarantine import shipped as shipped

from tracker.auth import create_token
from tracker.models import Claim, Evaluation, QuarantineDecision
from tracker.status import replay_claim

NOW = T1 + dt.timedelta(days=1, hours=6)  # the app's clock: the reviewer decides then (a day later)


@pytest.fixture
def quarantined(engine: Engine, settings, shipped) -> int:
    """CHN's damaged vintage quarantined at T1; returns its fetch run id."""
    shipped.csv_for["CHN"] = DAMAGED
    summary = fetch(engine, settings, shipped, T1).fetch
    assert summary.quarantined
    return summary.fetch_run_id


@pytest.fixture
def client(settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, engine, NOW)) as c:
        yield c


def token(engine: Engine, name: str, *scopes: str) -> dict[str, str]:
    with Session(engine) as session:
        issued = create_token(session, name, list(scopes), now=T1)
        session.commit()
    return {"Authorization": f"Bearer {issued.plaintext}"}


def decisions_of(engine: Engine, run_id: int) -> list[tuple[str, str | None, dt.datetime, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(QuarantineDecision)
            .where(QuarantineDecision.fetch_run_id == run_id)
            .order_by(col(QuarantineDecision.id))
        ).all()
        return [(d.action, d.decided_by, d.decided_at, d.reason) for d in rows]


# --- the API ---


def test_the_api_shows_the_quarantine_on_the_run_and_beside_the_observations(client, quarantined):
    runs = client.get("/api/v1/fetch-runs", params={"quarantined": "true"}).json()
    assert [r["id"] for r in runs] == [quarantined]
    run = runs[0]
    assert run["status"] == "ok" and run["quarantined"] is True
    q = run["quarantine"]
    assert q["state"] == "pending" and "'China,CHN,2025,10'" in q["reason"]
    assert [f["gate"] for f in q["findings"]] == ["body", "revision"]
    assert [(d["action"], d["decided_by"]) for d in q["decisions"]] == [("quarantined", "tracker")]
    assert [p["periods"] for p in run["pages"]] == [
        {"rows": 26, "first": "2000", "last": "2025"},
        None,  # the metadata response gives no rows
    ]
    assert run["pages"][0]["sha256"] == run["body_sha256"]
    assert client.get(f"/api/v1/fetch-runs/{quarantined}").json() == run
    assert client.get("/api/v1/fetch-runs/999999").status_code == 404

    obs = client.get(f"/api/v1/indicators/{CHN}/observations").json()
    current = {o["period"]: o["value"] for o in obs["observations"]}
    assert current["2025"] == 10583.36
    assert [
        (q["period"], q["value"], q["in_use"], q["fetch_run_id"]) for q in obs["quarantined"]
    ] == [("2025", 10.0, 10583.36, quarantined)]
    # as of the day before the quarantine, nothing was held back
    before = client.get(
        f"/api/v1/indicators/{CHN}/observations", params={"as_of": "2026-11-01"}
    ).json()
    assert before["quarantined"] == []
    health = {i["key"]: i for i in client.get("/api/v1/indicators").json()}[CHN]
    assert health["health"] == "quarantined" and str(quarantined) in health["health_reason"]


def test_accepting_needs_the_resolve_scope_and_a_reason(client, engine, quarantined):
    url = f"/api/v1/fetch-runs/{quarantined}/accept"
    body = {"reason": "OWID confirmed the 2025 figure by mail"}
    assert client.post(url, json=body).status_code == 401
    writer = token(engine, "writer", "claims:write")
    assert client.post(url, json=body, headers=writer).status_code == 403
    reviewer = token(engine, "reviewer-ana", "resolve")
    r = client.post(url, json={"reason": "ok"}, headers=reviewer)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert (
        client.post("/api/v1/fetch-runs/424242/accept", json=body, headers=reviewer).status_code
        == 404
    )
    assert decisions_of(engine, quarantined) == [
        ("quarantined", "tracker", T1, decisions_of(engine, quarantined)[0][3])
    ]


def test_a_reviewer_accepts_over_the_api_recorded_and_replay_safe(client, engine, quarantined):
    before = claim_status(engine)
    reviewer = token(engine, "reviewer-ana", "resolve")
    reason = "OWID confirmed the 2025 figure by mail"
    r = client.post(
        f"/api/v1/fetch-runs/{quarantined}/accept", json={"reason": reason}, headers=reviewer
    )
    assert r.status_code == 200, r.text
    q = r.json()["quarantine"]
    assert q["state"] == "accepted"
    assert q["decisions"][-1] == {
        "action": "accepted",
        "decided_at": NOW.isoformat().replace("+00:00", "Z"),
        "decided_by": "reviewer-ana",
        "reason": reason,
        "by_fetch_run_id": None,
    }
    assert decisions_of(engine, quarantined)[-1] == ("accepted", "reviewer-ana", NOW, reason)
    assert values(engine, CHN)["2025"] == 10.0 and held(engine, CHN) == {}
    # the claim was re-evaluated in the same transaction
    after = claim_status(engine)
    assert after["evaluations"] == before["evaluations"] + 1
    assert after["metric"] == pytest.approx(10 / 4519.79)
    # a replay between quarantine and acceptance reads what was in use then
    assert values(engine, CHN, NOW - dt.timedelta(seconds=1))["2025"] == 10583.36
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == CLAIM)).one()
        then = replay_claim(session, claim, T1.date(), now=NOW)
        assert then.metric is not None and then.metric.value == pytest.approx(before["metric"])
    # decided once: a second decision is a conflict, and changes nothing
    again = client.post(
        f"/api/v1/fetch-runs/{quarantined}/reject", json={"reason": reason}, headers=reviewer
    )
    assert again.status_code == 409 and "accepted, not pending" in again.json()["detail"]
    assert len(decisions_of(engine, quarantined)) == 2


def test_a_reviewer_rejects_over_the_api(client, engine, quarantined):
    before = claim_status(engine)
    reviewer = token(engine, "reviewer-bo", "resolve")
    r = client.post(
        f"/api/v1/fetch-runs/{quarantined}/reject",
        json={"reason": "the CSV was cut off mid-value"},
        headers=reviewer,
    )
    assert r.status_code == 200 and r.json()["quarantine"]["state"] == "rejected"
    assert values(engine, CHN)["2025"] == 10583.36 and held(engine, CHN) == {}
    assert claim_status(engine)["metric"] == before["metric"]
    assert decisions_of(engine, quarantined)[-1][:2] == ("rejected", "reviewer-bo")


# --- the dashboard ---


def test_the_data_health_page_shows_it_and_a_signed_in_reviewer_accepts(
    client, engine, quarantined
):
    page = client.get("/indicators").text
    assert 'id="quarantine-owid.electricity_generation.chn"' in page
    assert f"fetch run #{quarantined}" in page and "&#39;China,CHN,2025,10&#39;" in page
    assert "Sign in as a reviewer" in page and 'name="decision"' not in page
    # anonymous: refused, nothing recorded
    csrf = csrf_of(client.get("/login").text)
    form = {
        "fetch_run_id": str(quarantined),
        "decision": "accept",
        "reason": "fine",
        "csrf_token": csrf,
    }
    r = client.post(f"/indicators/{CHN}/quarantine", data=form)
    assert r.status_code == 403 and len(decisions_of(engine, quarantined)) == 1

    reviewer = token(engine, "reviewer-ann", "resolve")["Authorization"].removeprefix("Bearer ")
    sign_in(client, reviewer, "/indicators")
    page = client.get("/indicators").text
    assert 'name="decision" value="accept"' in page and "Accept as reviewer-ann" in page
    csrf = csrf_of(page)
    # a short reason is refused on the page, nothing recorded
    r = client.post(
        f"/indicators/{CHN}/quarantine", data={**form, "csrf_token": csrf, "reason": "x"}
    )
    assert r.status_code == 422 and "Write a reason" in r.text
    r = client.post(
        f"/indicators/{CHN}/quarantine",
        data={**form, "csrf_token": csrf, "reason": "checked against Ember's release"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/indicators#ind-{CHN}"
    assert decisions_of(engine, quarantined)[-1] == (
        "accepted",
        "reviewer-ann",
        NOW,
        "checked against Ember's release",
    )
    assert values(engine, CHN)["2025"] == 10.0
    assert 'id="quarantine-owid.electricity_generation.chn"' not in client.get("/indicators").text


def test_the_claim_evidence_panel_shows_the_held_back_vintage_then_the_decision(
    client, engine, quarantined
):
    page = client.get(f"/claims/{CLAIM}").text
    assert "held back, not used" in page and f"fetch run #{quarantined}" in page
    assert "2025: 10.0 TWh (in use: 10,583" in page
    assert "quarantined</span> the vintage of" in page  # the status's data note
    reviewer = token(engine, "reviewer-ana", "resolve")
    client.post(
        f"/api/v1/fetch-runs/{quarantined}/accept",
        json={"reason": "OWID confirmed it"},
        headers=reviewer,
    )
    page = client.get(f"/claims/{CLAIM}").text
    assert "held back, not used" not in page
    assert "accepted" in page and "by reviewer-ana: OWID confirmed it" in page


def test_only_the_pending_vintage_of_that_indicator_can_be_decided_on_the_page(
    client,
    engine,
    quarantined,
    settings,
    shipped,
):
    reviewer = token(engine, "reviewer-ann", "resolve")["Authorization"].removeprefix("Bearer ")
    sign_in(client, reviewer, "/indicators")
    csrf = csrf_of(client.get("/indicators").text)
    form: dict[str, Any] = {"decision": "accept", "reason": "looks right", "csrf_token": csrf}
    usa = client.post(
        "/indicators/owid.electricity_generation.usa/quarantine",
        data={**form, "fetch_run_id": str(quarantined)},
    )
    assert usa.status_code == 422 and "is not a fetch of" in usa.text
    # a later fetch supersedes it: then there is nothing pending to accept
    shipped.csv_for["CHN"] = cut_inside_last_value(filtered_csv("CHN"), keep=3)
    fetch(engine, settings, shipped, T1 + dt.timedelta(hours=1))
    stale = client.post(
        f"/indicators/{CHN}/quarantine", data={**form, "fetch_run_id": str(quarantined)}
    )
    assert stale.status_code == 409 and "superseded, not pending" in stale.text
    with Session(engine) as session:
        assert session.exec(select(Evaluation)).first() is not None
