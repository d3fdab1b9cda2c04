"""Dashboard side of the verdict rules and of the as-of replay (the same functions as the API:
status.record_manual_resolution and queries.claim_as_of)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient
from test_dashboard import csrf_of, make_token, sign_in


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        yield c


def test_an_early_verdict_needs_a_note_on_the_form(client, engine):
    sign_in(client, make_token(engine, "resolve"))
    slug = "agi-2026"  # deadline 2026-12-31, NOW is 2026-11-28
    data = {
        "outcome": "false",
        "rationale": "The claimant said it will not happen this year.",
        "csrf_token": csrf_of(client.get(f"/claims/{slug}").text),
    }
    r = client.post(f"/claims/{slug}/resolve", data=data)
    assert r.status_code == 422
    assert "deadline 2026-12-31 has not passed" in r.text
    assert "No verdict yet." in client.get(f"/claims/{slug}").text
    r = client.post(
        f"/claims/{slug}/resolve",
        data={**data, "note": "claimant conceded on 2026-11-27"},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_replay_before_the_claim_was_recorded_says_so(client):
    r = client.get("/claims/agi-2026?as_of=2026-11-27")
    assert r.status_code == 404
    assert "Claim not known to tracker on 2026-11-27" in r.text
    assert "first recorded on 2026-11-28" in r.text


def test_replay_shows_the_version_and_verdict_then(client):
    r = client.get("/claims/agi-2026?as_of=2026-11-28")
    assert r.status_code == 200
    then = r.text[r.text.index('id="replay-then"') :]
    assert "As recorded then: version 1" in then
    assert "deadline 2026-12-31" in then and "verdict then: none yet" in then
    assert client.get("/claims/agi-2026?as_of=2026-11-29").status_code == 422
