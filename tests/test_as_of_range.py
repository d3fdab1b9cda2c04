"""The as-of forms say which range of dates has data: from tracker's first record (the first
claim revision) to today; a date before it says where the records start."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        yield c


def test_the_overview_form_says_which_dates_have_records(client):
    html = client.get("/").text
    form = html[html.index('id="as-of"') :]
    assert re.search(r'min="2026-11-28" max="2026-11-28"', form)
    assert "tracker has records from 2026-11-28" in form and "to today, 2026-11-28" in form


def test_a_date_before_the_records_points_to_where_they_start(client):
    html = client.get("/?as_of=2026-10-01").text
    assert "No claims known to tracker then." in html
    assert "Its records start on 2026-11-28" in html
    assert 'href="/?as_of=2026-11-28"' in html
    assert "AGI arrives in 2026" in client.get("/?as_of=2026-11-28").text


def test_the_claim_replay_form_says_its_range(client):
    html = client.get("/claims/agi-2026").text
    assert 'id="as_of" name="as_of" type="date" min="2026-11-28" max="2026-11-28"' in html
    assert "Replays run from 2026-11-28" in html
