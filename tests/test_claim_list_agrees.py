"""The API's claim list and the dashboard's agree: the search (`?q=`) is one predicate
(tracker.queries.text_matches) over slug, title and both quotes, and an unknown `state` is a 422
on both, naming the parameter and the allowed values."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient

from tracker.models import State


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    with TestClient(clocked_app(settings, essay_engine)) as c:
        yield c


def api_slugs(client: TestClient, q: str) -> set[str]:
    r = client.get("/api/v1/claims", params={"q": q, "limit": 500})
    assert r.status_code == 200, r.text
    return {c["slug"] for c in r.json()["items"]}


def dashboard_slugs(client: TestClient, q: str) -> set[str]:
    r = client.get("/claims", params={"q": q})
    assert r.status_code == 200, r.text
    return set(re.findall(r'<div class="slug">([a-z0-9-]+)</div>', r.text))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("電力", {"china-power-3x-us-2030"}),  # only in the Japanese quote
        ("到来", {"agi-2026"}),  # only in the Japanese quote
        ("THREE TIMES that", {"china-power-3x-us-2030"}),  # only in the English quote
        ("onerror", {"xss-probe"}),  # only in the English quote (no original)
        ("power-3x", {"china-power-3x-us-2030"}),  # the slug
        ("  電力 ", {"china-power-3x-us-2030"}),  # surrounding blanks are not searched for
        ("%", set()),  # a LIKE wildcard is searched for literally
    ],
)
def test_api_and_dashboard_search_find_the_same_claims(
    client: TestClient, q: str, expected: set[str]
) -> None:
    assert api_slugs(client, q) == expected
    assert dashboard_slugs(client, q) == expected


def test_search_combines_with_the_other_filters_alike(client: TestClient) -> None:
    api = client.get("/api/v1/claims", params={"q": "2026", "state": "open"}).json()["items"]
    html = client.get("/claims", params={"q": "2026", "state": "open"}).text
    found = set(re.findall(r'<div class="slug">([a-z0-9-]+)</div>', html))
    assert {c["slug"] for c in api} == found == {"agi-2026"}


def test_an_unknown_state_is_a_422_on_both_naming_state_and_the_allowed_values(
    client: TestClient,
) -> None:
    api = client.get("/api/v1/claims", params={"state": "bogus"})
    assert api.status_code == 422
    page = client.get("/claims", params={"state": "bogus", "q": "power"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    error = re.search(r'<p class="error" role="alert" id="filter-error">(.*?)</p>', page.text)
    assert error is not None, page.text
    message = error.group(1)
    # one parser (tracker.web.claim_query): the page says what the API says
    assert message.startswith("state: Input should be &#39;upcoming&#39;")
    assert message.replace("&#39;", "'") in api.json()["detail"]
    assert all(s.value in message for s in State)
    # the page around it: the filter form keeps the search, and no "No claims." is claimed
    assert 'name="q" value="power"' in page.text and "No claims." not in page.text
    # every allowed value still answers 200
    for value in ("", "open", "needs_review"):
        assert client.get("/claims", params={"state": value}).status_code == 200
