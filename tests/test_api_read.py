"""Read endpoints of /api/v1 over a real database: lists, detail, history, exports, feeds, 304s."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_api_support import T0, make_claim, make_evaluation, make_resolution

from tracker.clock import FixedClock
from tracker.config import Settings
from tracker.models import Indicator
from tracker.web.app import create_app

RATIO_CRITERION = {
    "key": "ratio-2030",
    "type": "threshold",
    "series": {
        "ratio": [
            {"indicator": "owid.electricity-generation.china"},
            {"indicator": "owid.electricity-generation.usa"},
        ]
    },
    "mode": "at_period",
    "period": "2030",
    "comparator": ">=",
    "threshold": 3.0,
}


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with Session(engine) as s:
        for key in ("owid.electricity-generation.china", "owid.electricity-generation.usa"):
            s.add(
                Indicator(
                    key=key,
                    source="owid",
                    title=f"Electricity generation ({key.rsplit('.', 1)[1]})",
                    unit="TWh",
                    publication_lag_days=180,
                )
            )
        china = make_claim(
            s,
            "china-power-3x-us-2030",
            title='China 3x US power, "by 2030", with commas',
            tags=["energy"],
            criteria=[RATIO_CRITERION],
        )
        make_evaluation(s, china, state="open", trend="on_track", at=T0)
        make_evaluation(
            s,
            china,
            state="open",
            trend="off_track",
            at=T0 + dt.timedelta(days=1),
            projection_value=2.7,
        )
        agi = make_claim(s, "agi-2026", deadline=dt.date(2026, 12, 31), kind="judged", tags=["ai"])
        make_evaluation(s, agi, state="needs_review", trend=None, metric_value=None)
        make_resolution(s, agi, "false", decided_at=T0 + dt.timedelta(days=400))
        s.commit()
    return engine


@pytest.fixture
def client(settings: Settings, seeded: Engine) -> Iterator[TestClient]:
    # read on 2027-02-15 (after agi-2026's verdict on day 400, before the 2030 deadline)
    app = create_app(settings, engine=seeded, clock=FixedClock(T0 + dt.timedelta(days=401)))
    with TestClient(app) as c:
        yield c


def test_list_claims_filters_pagination_and_link(client: TestClient) -> None:
    r = client.get("/api/v1/claims")
    assert r.status_code == 200
    body = r.json()
    assert [c["slug"] for c in body["items"]] == ["agi-2026", "china-power-3x-us-2030"]
    china = body["items"][1]
    assert china["status"]["state"] == "open"
    assert china["status"]["trend"] == "off_track"
    assert china["claimant"]["slug"] == "elon-musk"

    r = client.get("/api/v1/claims", params={"limit": 1, "sort": "slug"})
    assert [c["slug"] for c in r.json()["items"]] == ["agi-2026"]
    cursor = r.json()["next_cursor"]
    assert cursor and 'rel="next"' in r.headers["link"]
    r2 = client.get("/api/v1/claims", params={"limit": 1, "sort": "slug", "cursor": cursor})
    assert [c["slug"] for c in r2.json()["items"]] == ["china-power-3x-us-2030"]
    assert r2.json()["next_cursor"] is None and "link" not in r2.headers

    assert [c["slug"] for c in client.get("/api/v1/claims?tag=energy").json()["items"]] == [
        "china-power-3x-us-2030"
    ]
    assert client.get("/api/v1/claims?state=needs_review").json()["items"][0]["slug"] == "agi-2026"
    r = client.get("/api/v1/claims?deadline_before=2027-01-01&state=open")
    assert r.json()["items"] == []


def test_list_claims_bad_params_are_problems(client: TestClient) -> None:
    r = client.get("/api/v1/claims?cursor=garbage")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "cursor"
    # an unknown sort is an unknown enum value like any other: 422 naming the allowed values
    r = client.get("/api/v1/claims?sort=title")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "sort" and "-deadline" in r.json()["detail"]
    r = client.get("/api/v1/claims?deadline_before=soon&limit=0")
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"deadline_before", "limit"}


def test_get_claim_detail_and_404(client: TestClient) -> None:
    r = client.get("/api/v1/claims/china-power-3x-us-2030")
    assert r.status_code == 200
    claim = r.json()
    assert claim["slug"] == "china-power-3x-us-2030"
    assert claim["deadline"] == "2030-12-31"
    status = claim["status"]
    assert status["state"] == "open" and status["trend"] == "off_track"
    assert status["metric"] == {"value": 2.34, "unit": "1", "period": "2025"}
    assert status["projection"]["at"] == "2030" and status["projection"]["value"] == 2.7
    assert status["threshold"] == 3.0 and status["replay"] is False
    assert claim["quote"]["language"] == "ja"
    assert claim["criteria"][0]["key"] == "ratio-2030"
    assert claim["source_document"]["slug"] == "moonshots-220"

    r = client.get("/api/v1/claims/no-such-claim")
    assert r.status_code == 404
    problem = r.json()
    assert problem["status"] == 404 and problem["instance"] == "/api/v1/claims/no-such-claim"
    assert set(problem) >= {"type", "title", "status", "detail", "instance"}


def test_status_cache_sees_new_evaluations(client: TestClient, seeded: Engine) -> None:
    first = client.get("/api/v1/claims/china-power-3x-us-2030")
    again = client.get("/api/v1/claims/china-power-3x-us-2030")
    assert again.content == first.content
    with Session(seeded) as s:
        from tracker.queries import get_claim

        detail = get_claim(s, "china-power-3x-us-2030")
        assert detail
        make_evaluation(
            s,
            detail.claim,
            state="open",
            trend="on_track",
            at=T0 + dt.timedelta(days=2),
            metric_value=2.4,
            metric_period="2026",
        )
        s.commit()
    after = client.get("/api/v1/claims/china-power-3x-us-2030").json()
    assert after["status"]["metric"]["value"] == 2.4
    assert after["status"]["trend"] == "on_track"


def test_conditional_get_304(client: TestClient) -> None:
    for path in (
        "/api/v1/claims/china-power-3x-us-2030",
        "/api/v1/claims",
        "/api/v1/export.csv",
        "/api/v1/calendar.ics",
        "/api/v1/feed.atom",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        etag = r.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
    r = client.get("/api/v1/claims/china-power-3x-us-2030")
    since = client.get(
        "/api/v1/claims/china-power-3x-us-2030",
        headers={"If-Modified-Since": r.headers["last-modified"]},
    )
    assert since.status_code == 304
    stale = client.get(
        "/api/v1/claims/china-power-3x-us-2030", headers={"If-None-Match": '"other"'}
    )
    assert stale.status_code == 200


def test_history_revisions_resolutions(client: TestClient) -> None:
    history = client.get("/api/v1/claims/china-power-3x-us-2030/history").json()
    assert [p["trend"] for p in history["points"]] == ["on_track", "off_track"]
    assert history["points"][0]["metric"]["value"] == 2.34
    assert history["points"][1]["projection"]["value"] == 2.7
    revisions = client.get("/api/v1/claims/china-power-3x-us-2030/revisions").json()
    assert revisions["revisions"][0]["version"] == 1
    assert revisions["revisions"][0]["change"] == "created"
    assert len(revisions["revisions"][0]["content_hash"]) == 64
    resolutions = client.get("/api/v1/claims/agi-2026/resolutions").json()
    assert [r["outcome"] for r in resolutions["resolutions"]] == ["false"]
    assert client.get("/api/v1/claims/nope/history").status_code == 404


def test_deadlines_and_claimant(client: TestClient) -> None:
    r = client.get("/api/v1/deadlines?within_days=36500")
    assert r.status_code == 200
    due = r.json()
    assert [c["slug"] for c in due["needs_review"]] == ["agi-2026"]
    assert "china-power-3x-us-2030" in [c["slug"] for c in due["upcoming"]]
    record = client.get("/api/v1/claimants/elon-musk").json()
    assert record["total"] == 2
    assert record["resolved_false"] == 1 and record["share_kept"] == 0.0
    assert record["mean_lateness_days"] == pytest.approx(
        ((T0 + dt.timedelta(days=400)).date() - dt.date(2026, 12, 31)).days
    )
    assert client.get("/api/v1/claimants/nobody").status_code == 404


def test_exports(client: TestClient) -> None:
    r = client.get("/api/v1/export.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_slug = {row["slug"]: row for row in rows}
    # the title holds quotes and commas: the csv module escapes them and reads them back whole
    assert by_slug["china-power-3x-us-2030"]["title"] == 'China 3x US power, "by 2030", with commas'
    assert by_slug["china-power-3x-us-2030"]["metric_value"] == "2.34"
    assert by_slug["agi-2026"]["state"] == "needs_review"
    data = client.get("/api/v1/export.json").json()
    assert {c["slug"] for c in data} == {"agi-2026", "china-power-3x-us-2030"}


def test_calendar_parses_back(client: TestClient) -> None:
    r = client.get("/api/v1/calendar.ics")
    assert r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    deadline = events["deadline-china-power-3x-us-2030@tracker"]
    assert deadline.decoded("dtstart") == dt.date(2030, 12, 31)
    assert "dtstamp" in deadline
    # a subscriber follows the event to the claim's dashboard page, not to the JSON API
    assert str(deadline["url"]) == "http://testserver/claims/china-power-3x-us-2030"
    assert events["deadline-agi-2026@tracker"].decoded("dtstart") == dt.date(2026, 12, 31)
    # 2030 data: period end 2030-12-31 + 180 days' publication lag, once per indicator
    release = events["release-owid.electricity-generation.china-2030@tracker"]
    assert release.decoded("dtstart") == dt.date(2030, 12, 31) + dt.timedelta(days=180)
    assert "china-power-3x-us-2030" in str(release["description"])
    assert len(events) == 4
    # UIDs are stable across requests
    again = icalendar.Calendar.from_ical(client.get("/api/v1/calendar.ics").content)
    assert {str(e["uid"]) for e in again.walk("VEVENT")} == set(events)


def test_atom_feed(client: TestClient) -> None:
    r = client.get("/api/v1/feed.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(r.content)
    assert root.find("a:id", ns) is not None and root.find("a:updated", ns) is not None
    entries = root.findall("a:entry", ns)
    assert len(entries) == 3
    titles = [e.findtext("a:title", namespaces=ns) for e in entries]
    assert titles[0] == (
        'China 3x US power, "by 2030", with commas: now off track (was on track); still open'
    )
    dashboard = [
        link.get("href")
        for link in root.findall("a:link", ns)
        if link.get("rel") == "alternate" and link.get("type") == "text/html"
    ]
    assert dashboard == ["http://testserver/"]
    ids = [e.findtext("a:id", namespaces=ns) for e in entries]
    assert len(set(ids)) == 3
    updated = [e.findtext("a:updated", namespaces=ns) for e in entries]
    assert updated == sorted(updated, reverse=True)


def test_problem_shape_for_routing_errors(client: TestClient) -> None:
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.delete("/api/v1/claims")
    assert r.status_code == 405
    assert r.json()["status"] == 405 and "DELETE" in r.json()["detail"]


def test_unexpected_error_is_a_generic_problem(settings: Settings, seeded: Engine) -> None:
    app = create_app(settings, engine=seeded)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.json()["title"] == "Internal Server Error"


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/claims",
        "/api/v1/claims/{slug}",
        "/api/v1/claims/{slug}/history",
        "/api/v1/deadlines",
        "/api/v1/claimants/{slug}",
        "/api/v1/export.csv",
        "/api/v1/calendar.ics",
        "/api/v1/feed.atom",
    ):
        assert path in paths, path
        for op in paths[path].values():
            assert op.get("summary"), path


def test_405_allow_names_every_method_of_the_path(client: TestClient) -> None:
    # Starlette's Allow named only the first matching route's methods (GET), not POST
    r = client.put("/api/v1/claims")
    assert r.status_code == 405
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "PUT" not in allowed
    assert "POST" in r.json()["detail"]
    r = client.patch("/api/v1/claims/agi-2026/resolutions")
    assert r.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}
    for method in sorted(allowed):
        if method != "OPTIONS":
            assert client.request(method, "/api/v1/claims").status_code != 405, method


def test_csv_export_neutralises_formulas_and_has_notebook_columns(
    client: TestClient, seeded: Engine
) -> None:
    evil = '=HYPERLINK("http://evil.example","click")'
    with Session(seeded) as s:
        claim = make_claim(s, "formula-title", title=evil, tags=["+cmd", "ok"])
        claim.quote_en = "@SUM(A1:A2)"
        ev = make_evaluation(s, claim, metric_value=-1.5, reason="-2 below\tthe line")
        ev.data_expected_on = dt.date(2031, 6, 29)
        s.commit()
    rows = {
        r["slug"]: r for r in csv.DictReader(io.StringIO(client.get("/api/v1/export.csv").text))
    }
    row = rows["formula-title"]
    # OWASP: a leading quote makes a spreadsheet show the text instead of running it
    assert row["title"] == "'" + evil
    assert row["quote_en"] == "'@SUM(A1:A2)"
    assert row["tags"] == "'+cmd;ok"
    assert row["reason"] == "'-2 below\tthe line"
    assert row["metric_value"] == "-1.5"  # numbers stay numbers
    assert row["data_expected_on"] == "2031-06-29"
    china = rows["china-power-3x-us-2030"]
    assert china["title"] == 'China 3x US power, "by 2030", with commas'  # untouched
    assert china["quote_original"] == "2030年には中国の電力生産量が米国の3倍になる"
    assert china["quote_en"].startswith("By 2030 China")
    assert china["stated_on"] == "2026-01-06" and china["stated_precision"] == "day"
    for column in ("metric_unit", "metric_period", "projection_low", "projection_at"):
        assert column in china
    # the JSON export keeps the value exact
    data = {c["slug"]: c for c in client.get("/api/v1/export.json").json()}
    assert data["formula-title"]["title"] == evil


@pytest.mark.parametrize(
    ("path", "param", "allowed"),
    [
        ("/api/v1/claims", "state", "needs_review"),
        ("/api/v1/claims", "trend", "off_track"),
        ("/api/v1/claims", "kind", "judged"),
        ("/api/v1/claims", "lifecycle", "withdrawn"),
        ("/api/v1/fetch-runs", "status", "running"),
    ],
)
def test_unknown_enum_filter_is_a_422_naming_allowed_values(
    client: TestClient, path: str, param: str, allowed: str
) -> None:
    # was 200 with an empty list, indistinguishable from "no match"
    r = client.get(path, params={param: "bogus"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/api/v1/problems/validation-error"
    assert body["title"] == "Invalid request"
    assert [e["field"] for e in body["errors"]] == [param]
    assert body["errors"][0]["location"] == "query"
    assert allowed in body["errors"][0]["message"] and allowed in body["detail"]
    assert client.get(path, params={param: allowed}).status_code == 200


def test_problem_types_and_titles_are_one_per_kind(client: TestClient) -> None:
    from tracker.web.problems import PROBLEM_TITLES

    missing = [
        client.get("/api/v1/claims/nope"),
        client.get("/api/v1/claimants/nobody"),
        client.get("/api/v1/indicators/nope/observations"),  # was `not_found`
    ]
    for r in missing:
        assert r.status_code == 404
        assert r.json()["type"] == "/api/v1/problems/not-found", r.url
        assert r.json()["title"] == PROBLEM_TITLES["not-found"]
    invalid = [
        client.get("/api/v1/claims?limit=0"),
        client.get("/api/v1/claims/china-power-3x-us-2030?as_of=2999-01-01"),
    ]
    for r in invalid:
        assert r.status_code == 422
        assert r.json()["type"] == "/api/v1/problems/validation-error"
        assert r.json()["title"] == "Invalid request"
