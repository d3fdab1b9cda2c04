"""The "as of a past date" views agree with each other (both backends).

The overview on a past day (`/?as_of=`) shows each claim as the revision in force at the end of
that day read it (title, quote, claimant, deadline, and the order by that deadline), leaves out
claims recorded later, and does so in a fixed number of queries. Every `as_of` (the overview,
the claim page, the API's claim replay) is read by one parser and refused alike: 422 naming
`as_of`.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_api_support import make_claimant

from tracker import queries, status
from tracker.claims import apply_claim, load_claim_document
from tracker.config import Settings
from tracker.indicators import load_catalogue_from_db
from tracker.web.app import create_app

CREATED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 10)  # the past day asked about
REVISED = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)  # after DAY
ADDED_LATER = dt.datetime(2026, 4, 5, 9, 0, tzinfo=dt.UTC)
TODAY = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)

OLD_TITLE = "AGI arrives in 2026"
NEW_TITLE = "AGI arrives by the end of 2027"
AGI: dict[str, Any] = {
    "slug": "agi-2026",
    "title": OLD_TITLE,
    "claimant": "elon-musk",
    "quote": {"original": "AGIは2026年に到来する", "language": "ja", "en": "AGI arrives in 2026."},
    "stated": {"date": "2026-01-06", "precision": "day"},
    "deadline": "2026-12-31",
    "deadline_interpretation": "any time in 2026",
    "kind": "judged",
    "criteria": [
        {
            "key": "agi-rubric",
            "type": "judged",
            "rubric": "A system broadly matches expert humans across most cognitive tasks.",
        }
    ],
}
# the same claim revised after DAY: new title, quote, claimant and a later deadline (the
# criteria are unchanged, so no revision note is needed)
AGI_REVISED: dict[str, Any] = {
    **copy.deepcopy(AGI),
    "title": NEW_TITLE,
    "claimant": "essay-author",
    "quote": {"original": "AGIは2027年末までに", "language": "ja", "en": "AGI by the end of 2027."},
    "deadline": "2027-12-31",
}
# its deadline falls between AGI's old and new ones, so the order by deadline flips
ROBOTAXI: dict[str, Any] = {
    **copy.deepcopy(AGI),
    "slug": "robotaxi-2027",
    "title": "Robotaxis everywhere by mid-2027",
    "quote": {
        "original": "Robotaxis by mid-2027.",
        "language": "en",
        "en": "Robotaxis by mid-2027.",
    },
    "deadline": "2027-06-30",
    "deadline_interpretation": "the end of June 2027",
}
LATE: dict[str, Any] = {
    **copy.deepcopy(ROBOTAXI),
    "slug": "late-claim-2027",
    "title": "A claim recorded after the day asked about",
}


def _apply(engine: Engine, doc: dict[str, Any], now: dt.datetime) -> None:
    with Session(engine) as s:
        claim = load_claim_document(doc, source_label="test", catalogue=load_catalogue_from_db(s))
        apply_claim(s, claim, origin="file", now=now)
        status.evaluate_claims(s, now=now)
        s.commit()


@pytest.fixture
def revised(engine: Engine) -> Engine:
    """agi-2026 and robotaxi-2027 recorded before DAY, agi-2026 revised after it, and
    late-claim-2027 recorded after it; each evaluated when written."""
    with Session(engine) as s:
        make_claimant(s, "elon-musk", "Elon Musk")
        make_claimant(s, "essay-author", "The Essay Author")
        s.commit()
    _apply(engine, AGI, CREATED)
    _apply(engine, ROBOTAXI, CREATED + dt.timedelta(hours=1))
    _apply(engine, AGI_REVISED, REVISED)
    _apply(engine, LATE, ADDED_LATER)
    return engine


@pytest.fixture
def client(settings: Settings, revised: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=revised)
    app.state.clock = lambda: TODAY
    with TestClient(app) as c:
        yield c


def _text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&#34;", '"')
    return re.sub(r"\s+", " ", html).strip()


def _rows(html: str) -> dict[str, str]:
    """The claim table's rows by slug, in page order."""
    rows = re.findall(r"<tr>.*?</tr>", html, flags=re.S)
    found = {}
    for row in rows:
        slug = re.search(r'<div class="slug">([^<]+)</div>', row)
        if slug:
            found[slug[1]] = row
    return found


# --- the overview on a past day shows each claim as it stood then ---


def test_overview_as_of_shows_each_claim_as_its_revision_then_read(client: TestClient) -> None:
    r = client.get("/", params={"as_of": DAY.isoformat()})
    assert r.status_code == 200
    rows = _rows(r.text)
    # recorded after DAY: absent; the order is by the deadline then (agi 2026 before robotaxi)
    assert list(rows) == ["agi-2026", "robotaxi-2027"]
    assert "late-claim-2027" not in r.text
    assert "2 claims known then" in _text(r.text)
    agi = _text(rows["agi-2026"])
    assert OLD_TITLE in agi and NEW_TITLE not in agi
    assert "AGIは2026年に到来する" in agi and "2027年末" not in agi
    assert "Elon Musk" in agi and "Essay Author" not in agi
    assert "2026-12-31" in agi and "2027-12-31" not in agi
    assert 'href="/claimants/elon-musk"' in rows["agi-2026"]
    assert "open" in agi  # the status stored then

    now = client.get("/").text
    rows_now = _rows(now)
    agi_now = _text(rows_now["agi-2026"])
    assert NEW_TITLE in agi_now and "The Essay Author" in agi_now and "2027-12-31" in agi_now
    assert list(rows_now).index("robotaxi-2027") < list(rows_now).index("agi-2026")

    # the as-of view of today shows the current version and the later claim
    today = _rows(client.get("/", params={"as_of": TODAY.date().isoformat()}).text)
    assert list(today) == ["robotaxi-2027", "late-claim-2027", "agi-2026"]
    assert NEW_TITLE in _text(today["agi-2026"])


def test_overview_as_of_agrees_with_the_claim_replay_and_the_api(client: TestClient) -> None:
    page = client.get("/claims/agi-2026", params={"as_of": DAY.isoformat()}).text
    then = _text(page[page.index('id="replay-then"') :])
    assert f"“{OLD_TITLE}”, deadline 2026-12-31" in then
    api = client.get("/api/v1/claims/agi-2026", params={"as_of": DAY.isoformat()})
    assert api.status_code == 200
    body = api.json()
    assert body["title"] == OLD_TITLE and body["deadline"] == "2026-12-31"
    assert body["quote"]["original"] == "AGIは2026年に到来する"
    assert body["claimant"]["slug"] == "elon-musk"  # the claimant that version named
    assert body["version"] == 1 and body["status"]["replay"] is True
    assert client.get("/api/v1/claims/agi-2026").json()["claimant"]["slug"] == "essay-author"
    assert (
        client.get("/api/v1/claims/late-claim-2027", params={"as_of": DAY.isoformat()}).status_code
        == 404
    )


def test_claims_as_stored_pages_by_the_deadline_then(revised: Engine) -> None:
    """Keyset pages of one claim each walk the order of the deadline then, not today's."""

    def walk(at: dt.datetime) -> list[tuple[str, str, dt.date | None]]:
        seen: list[tuple[str, str, dt.date | None]] = []
        cursor = None
        with Session(revised) as s:
            while True:
                page = queries.claims_as_stored(s, at, cursor=cursor, limit=1)
                seen += [(i.claim.slug, i.claimant.slug, i.claim.deadline) for i in page.items]
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

    assert walk(status.end_of_day(DAY)) == [
        ("agi-2026", "elon-musk", dt.date(2026, 12, 31)),
        ("robotaxi-2027", "elon-musk", dt.date(2027, 6, 30)),
    ]
    assert walk(TODAY) == [
        ("robotaxi-2027", "elon-musk", dt.date(2027, 6, 30)),
        ("late-claim-2027", "elon-musk", dt.date(2027, 6, 30)),
        ("agi-2026", "essay-author", dt.date(2027, 12, 31)),
    ]
    # the stored row is today's; the page item is a copy as it read then
    with Session(revised) as s:
        item = queries.claims_as_stored(s, status.end_of_day(DAY)).items[0]
        assert item.claim.title == OLD_TITLE and item.claim.version == 1
        assert queries.get_claim(s, "agi-2026").claim.title == NEW_TITLE  # type: ignore[union-attr]


def test_overview_as_of_query_count_does_not_grow_with_claims(
    client: TestClient, revised: Engine
) -> None:
    def statements() -> list[str]:
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        sa.event.listen(revised, "before_cursor_execute", count)
        try:
            assert client.get("/", params={"as_of": TODAY.date().isoformat()}).status_code == 200
        finally:
            sa.event.remove(revised, "before_cursor_execute", count)
        return seen

    statements()  # warm up (templates, session key)
    few = statements()
    for n in range(10):
        doc = {**copy.deepcopy(ROBOTAXI), "slug": f"extra-{n}", "title": f"extra {n}"}
        _apply(revised, doc, CREATED)
        _apply(revised, {**doc, "title": f"extra {n}, revised"}, REVISED)
    many = statements()
    assert len(many) == len(few) <= 4, many
    assert sum("FROM claimrevision" in s for s in many) <= 2  # the page and the counts


# --- one reading of as_of everywhere: 422, naming the field ---
#
# 422 because the app's problem types say so: `validation-error` (422) is "a query parameter
# ... is invalid", which FastAPI answers for every other malformed query value here; 400
# (`bad-request`) is kept for requests that cannot be read at all (control characters). The
# HTML pages answer the same status with the same words as the API's problem `detail`.

URLS = ("/", "/claims/agi-2026", "/api/v1/claims/agi-2026")


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "15/03/2026", "20260310", ""])
def test_malformed_as_of_is_refused_alike(client: TestClient, bad: str) -> None:
    message = f"as_of: {bad!r} is not a date; use YYYY-MM-DD, e.g. 2026-05-01."
    for url in URLS:
        r = client.get(url, params={"as_of": bad})
        if bad == "":  # an empty form field: as of now, on the pages and in the API alike
            assert r.status_code == 200, url
            continue
        assert r.status_code == 422, url
        _assert_names_as_of(r, message)


def test_future_as_of_is_refused_alike(client: TestClient) -> None:
    message = "as_of: 2026-05-02 is in the future (today is 2026-05-01); pick a past date or today."
    for url in URLS:
        r = client.get(url, params={"as_of": "2026-05-02"})
        assert r.status_code == 422, url
        _assert_names_as_of(r, message)
        # today itself is not the future
        assert client.get(url, params={"as_of": "2026-05-01"}).status_code == 200, url


def _assert_names_as_of(r: Any, message: str) -> None:
    if r.headers["content-type"].startswith("application/problem+json"):
        body = r.json()
        assert body["type"] == "/api/v1/problems/validation-error"
        assert body["detail"] == f"the request is invalid: {message}"
        [error] = body["errors"]
        assert error["field"] == "as_of" and error["location"] == "query"
        assert f"as_of: {error['message']}" == message
    else:
        assert r.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in r.text
        assert message in _text(r.text)
