"""The reviewer's and developer's journeys through the API: as-of replay shows only what was
known then, the rules for a manual verdict (tracker.status), the track record's lateness, the
Atom feed's links, the dry run's warnings and the wording of reasons."""

from __future__ import annotations

import copy
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_api_support import make_claim, make_claimant, make_evaluation, make_resolution

from tracker import queries
from tracker.auth import create_token
from tracker.claims import apply_claim, load_claim_document
from tracker.clock import FixedClock, utcnow
from tracker.config import Settings
from tracker.indicators import load_catalogue_from_db
from tracker.models import Claim, Indicator, Observation
from tracker.status import InvalidResolution, record_manual_resolution
from tracker.web.app import create_app

CHINA = {2022: 8850, 2023: 9450, 2024: 10070}
USA = {2022: 4550, 2023: 4480, 2024: 4378}
DATA_KNOWN = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def _doc(slug: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "slug": slug,
        "title": "AGI arrives in 2026",
        "claimant": "elon-musk",
        "quote": {"original": "AGIは2026年に到来する", "language": "ja", "en": "AGI in 2026."},
        "stated": {"date": "2026-01-06", "precision": "day"},
        "window": {"start": "2026-01-01", "end": "2026-12-31"},
        "deadline": "2026-12-31",
        "kind": "judged",
        "criteria": [
            {"key": "agi-rubric", "type": "judged", "rubric": "Matches expert humans broadly."}
        ],
    }
    doc.update(changes)
    return doc


HARD_DOC = _doc(
    "china-power-2x-us-2024",
    title="China's electricity twice the US's in 2024",
    window={"start": "2024-01-01", "end": "2024-12-31"},
    deadline="2024-12-31",
    stated={"date": "2023-01-06", "precision": "day"},
    kind="hard",
    criteria=[
        {
            "key": "ratio-2024",
            "type": "threshold",
            "series": {
                "ratio": [
                    {"indicator": "owid.electricity_generation.chn"},
                    {"indicator": "owid.electricity_generation.usa"},
                ]
            },
            "comparator": ">=",
            "threshold": 2.0,
            "unit": "1",
            "mode": "at_period",
            "period": "2024",
        }
    ],
)


def _apply(
    session: Session, doc: dict[str, Any], at: dt.datetime, note: str | None = None
) -> Claim:
    claim = load_claim_document(doc, source_label="test", catalogue=load_catalogue_from_db(session))
    return apply_claim(session, claim, origin="api", note=note, now=at).claim


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with Session(engine) as s:
        make_claimant(s, "elon-musk", "Elon Musk")
        for code, series in (("chn", CHINA), ("usa", USA)):
            indicator = Indicator(
                key=f"owid.electricity_generation.{code}",
                source="owid",
                title=f"Electricity generation, {code}",
                unit="TWh",
                publication_lag_days=180,
            )
            s.add(indicator)
            s.flush()
            for year, value in series.items():
                s.add(
                    Observation(
                        indicator_id=indicator.id or 0,
                        period=str(year),
                        period_start=dt.date(year, 1, 1),
                        value=value,
                        known_from=DATA_KNOWN,
                    )
                )
        s.commit()
    return engine


@pytest.fixture
def client(settings: Settings, seeded: Engine, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=seeded)) as c:  # on the clock's day
        yield c


@pytest.fixture
def resolver(seeded: Engine, clock: FixedClock) -> dict[str, str]:
    with Session(seeded) as s:
        token = create_token(s, "resolver", ["resolve"], now=clock()).plaintext
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


# --- 1. as-of replay: everything as known at the end of that UTC day ---


def _seed_history(engine: Engine) -> None:
    """agi-2026: created 2026-01-06, amended 2026-07-01, verdicts 2026-08-01 and 2026-10-01."""
    with Session(engine) as s:
        _apply(s, _doc("agi-2026"), at("2026-01-06T10:00:00"))
        amended = _doc(
            "agi-2026",
            title="AGI arrives by the end of 2026",
            criteria=[{"key": "agi-rubric-v2", "type": "judged", "rubric": "Beats experts."}],
        )
        claim = _apply(s, amended, at("2026-07-01T10:00:00"), note="rubric from the transcript")
        s.commit()
        for outcome, day in (("false", "2026-08-01"), ("partial", "2026-10-01")):
            record_manual_resolution(
                s,
                claim,
                outcome=outcome,
                decided_by="reviewer",
                rationale=f"verdict of {day}",
                evidence=[],
                note="claimant conceded early" if outcome == "false" else "new evidence",
                now=at(f"{day}T12:00:00"),
            )
            s.commit()


def test_replay_shows_the_version_and_verdict_of_that_day(
    client: TestClient, seeded: Engine
) -> None:
    _seed_history(seeded)
    now = client.get("/api/v1/claims/agi-2026").json()
    assert now["as_of"] is None and now["version"] == 2
    assert now["resolution"]["outcome"] == "partial"

    june = client.get("/api/v1/claims/agi-2026?as_of=2026-06-01")
    assert june.status_code == 200, june.text
    body = june.json()
    assert body["as_of"].startswith("2026-06-01T23:59:59")
    assert body["status"]["replay"] is True
    assert body["status"]["state"] == "open"
    assert body["resolution"] is None  # the verdicts came later
    assert body["version"] == 1 and body["title"] == "AGI arrives in 2026"
    assert [c["key"] for c in body["criteria"]] == ["agi-rubric"]
    assert body["updated_at"].startswith("2026-01-06")

    # on 2026-09-01 the first verdict was current (superseded only on 2026-10-01)
    september = client.get("/api/v1/claims/agi-2026?as_of=2026-09-01").json()
    assert september["resolution"]["outcome"] == "false"
    assert september["resolution"]["superseded_by_id"] is not None  # it is a stored row
    assert september["status"]["state"] == "resolved_false"
    assert september["version"] == 2 and september["title"] == "AGI arrives by the end of 2026"
    assert [c["key"] for c in september["criteria"]] == ["agi-rubric-v2"]


def test_replay_before_the_claim_was_recorded_is_404(client: TestClient, seeded: Engine) -> None:
    _seed_history(seeded)
    r = client.get("/api/v1/claims/agi-2026?as_of=2026-01-05")
    assert r.status_code == 404
    problem = r.json()
    assert problem["type"].endswith("not-known-then")
    assert problem["detail"] == "claim 'agi-2026' not known to tracker on 2026-01-05"
    assert problem["errors"][0] == {
        "field": "as_of",
        "location": "query",
        "message": "claim not known to tracker on that date",
    }
    # the day it was recorded counts (the end of that UTC day)
    assert client.get("/api/v1/claims/agi-2026?as_of=2026-01-06").status_code == 200
    description = client.get("/openapi.json").json()["paths"]["/api/v1/claims/{slug}"]["get"]
    assert "not-known-then" in description["description"]


def test_replay_picks_come_from_one_shared_function(seeded: Engine) -> None:
    _seed_history(seeded)
    with Session(seeded) as s:
        detail = queries.get_claim(s, "agi-2026")
        assert detail is not None
        then = queries.claim_as_of(s, detail, dt.date(2026, 6, 1), now=at("2026-11-28"))
        assert then is not None
        assert then.detail.claim.version == 1 and then.revision.change == "created"
        assert then.detail.resolution is None and then.detail.evaluation is None
        assert queries.claim_as_of(s, detail, dt.date(2026, 1, 5), now=at("2026-11-28")) is None
        # the copy is detached: the stored claim is untouched
        s.rollback()
        assert s.exec(select(Claim.version).where(col(Claim.slug) == "agi-2026")).one() == 2


# --- 2. the rules for a manual verdict live in tracker.status ---


def test_a_verdict_before_the_deadline_needs_a_note(
    client: TestClient, seeded: Engine, resolver: dict[str, str]
) -> None:
    with Session(seeded) as s:
        _apply(s, _doc("agi-2099", deadline="2099-12-31", window=None), at("2026-01-06"))
        s.commit()
    url = "/api/v1/claims/agi-2099/resolutions"
    for outcome in ("false", "void"):
        verdict = {"outcome": outcome, "rationale": "The claimant gave up."}
        r = client.post(url, json=verdict, headers=resolver)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "note"
        assert "deadline 2099-12-31 has not passed" in r.json()["detail"]
    assert client.get(url).json()["resolutions"] == []
    verdict = {"outcome": "false", "rationale": "The claimant gave up.", "note": "conceded"}
    r = client.post(url, json=verdict, headers=resolver)
    assert r.status_code == 201, r.text
    assert r.json()["claim"]["status"]["state"] == "resolved_false"


def test_overriding_a_manual_verdict_needs_a_note_too(
    client: TestClient, seeded: Engine, resolver: dict[str, str]
) -> None:
    with Session(seeded) as s:
        _apply(
            s,
            _doc(
                "agi-2020",
                deadline="2020-12-31",
                window=None,
                stated={"date": "2019-01-06", "precision": "day"},
            ),
            at("2020-01-06"),
        )
        s.commit()
    url = "/api/v1/claims/agi-2020/resolutions"
    first = {"outcome": "false", "rationale": "Nothing like it in 2020."}
    assert client.post(url, json=first, headers=resolver).status_code == 201
    second = {"outcome": "partial", "rationale": "Some of it."}
    r = client.post(url, json=second, headers=resolver)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    assert "already has a verdict (false by resolver on" in r.json()["detail"]
    r = client.post(url, json=dict(second, note="new paper"), headers=resolver)
    assert r.status_code == 201
    assert [v["outcome"] for v in client.get(url).json()["resolutions"]] == ["false", "partial"]


def test_contradicting_the_data_on_a_hard_claim_needs_a_note(
    client: TestClient, seeded: Engine, resolver: dict[str, str]
) -> None:
    with Session(seeded) as s:  # applied, not evaluated: no automatic verdict recorded yet
        _apply(s, HARD_DOC, at("2024-01-06"))
        s.commit()
    url = "/api/v1/claims/china-power-2x-us-2024/resolutions"
    against = {"outcome": "false", "rationale": "I do not believe the data."}
    r = client.post(url, json=against, headers=resolver)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    assert "the data decide this claim true" in r.json()["detail"]
    agreeing = {"outcome": "true", "rationale": "The 2024 ratio is 2.3."}
    r = client.post(url, json=agreeing, headers=resolver)
    assert r.status_code == 201, r.text
    # 4. the reason says the verdict (outcome, by whom, when); the metric is still reported
    status = client.get("/api/v1/claims/china-power-2x-us-2024").json()["status"]
    today = utcnow().date().isoformat()  # the test's clock (conftest), which the app reads
    assert status["reason"].startswith(f"resolved true by resolver on {today}")
    assert status["metric"]["value"] == pytest.approx(10070 / 4378, abs=1e-6)


def test_status_rule_names_the_field(seeded: Engine) -> None:
    with Session(seeded) as s:
        claim = _apply(s, _doc("agi-2026"), at("2026-01-06"))
        with pytest.raises(InvalidResolution) as caught:
            record_manual_resolution(
                s,
                claim,
                outcome="true",
                decided_by="ann",
                rationale="It happened.",
                evidence=[],
                now=at("2026-11-28"),
            )
        assert caught.value.field == "note"
        with pytest.raises(InvalidResolution) as caught:
            record_manual_resolution(
                s,
                claim,
                outcome="maybe",
                decided_by="ann",
                rationale="x",
                evidence=[],
                now=at("2027-01-02"),
            )
        assert caught.value.field == "outcome"


def test_track_record_counts_early_verdicts_apart(client: TestClient, seeded: Engine) -> None:
    with Session(seeded) as s:
        early = make_claim(s, "early-one", deadline=dt.date(2026, 12, 31), kind="judged")
        late = make_claim(s, "late-one", deadline=dt.date(2025, 12, 31), kind="judged")
        make_resolution(s, early, "false", decided_at=at("2026-11-28T09:00:00"))  # 33 days early
        make_resolution(s, late, "true", decided_at=at("2026-01-10T09:00:00"))  # 10 days late
        s.commit()
        record = queries.claimant_track_record(s, "elon-musk")
        assert record is not None
        assert record.mean_lateness_days == pytest.approx(10)
        assert (record.late_verdicts, record.early_verdicts) == (1, 1)
    body = client.get("/api/v1/claimants/elon-musk").json()
    assert body["mean_lateness_days"] == pytest.approx(10)
    assert (body["late_verdicts"], body["early_verdicts"]) == (1, 1)
    page = client.get("/claimants/elon-musk").text
    assert "-" + "11.5" not in page and "Mean lateness" not in page
    assert "1, on average 10.0 days after it" in page
    assert "Decided early</dt><dd>1 " in page


# --- 3. the Atom feed links to the dashboard page ---


def test_feed_entries_link_to_the_claim_page(client: TestClient, seeded: Engine) -> None:
    with Session(seeded) as s:
        claim = make_claim(s, "china-power-3x-us-2030")
        make_evaluation(s, claim, state="open")
        s.commit()
    root = ET.fromstring(client.get("/api/v1/feed.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = {link.get("rel"): link for link in root.findall("a:entry/a:link", ns)}
    assert links["alternate"].get("href") == "http://testserver/claims/china-power-3x-us-2030"
    assert links["alternate"].get("type") == "text/html"
    assert links["related"].get("href") == (
        "http://testserver/api/v1/claims/china-power-3x-us-2030"
    )
    assert client.get("/claims/china-power-3x-us-2030").status_code == 200


# --- 4. small: one warning per problem in the dry run ---


def test_dry_run_warns_once_about_late_data(client: TestClient, seeded: Engine) -> None:
    with Session(seeded) as s:
        token = create_token(s, "writer", ["claims:write"], now=utcnow()).plaintext
        s.commit()
    doc = copy.deepcopy(HARD_DOC)
    doc.update(slug="china-power-2x-us-2030", deadline="2030-06-30")
    doc["window"] = {"start": "2030-01-01", "end": "2030-06-30"}
    doc["criteria"][0]["period"] = "2030"
    r = client.post(
        "/api/v1/claims:dry-run", json=doc, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    late = [w for w in r.json()["warnings"] if "data for 2030 is expected" in w]
    assert len(late) == 1, r.json()["warnings"]
    assert late[0].startswith("criteria[0].period: ")


def test_a_signal_note_ending_in_a_full_stop_reads_once_punctuated(
    client: TestClient, seeded: Engine
) -> None:
    signal = {
        "key": "power-ratio",
        "type": "signal",
        "role": "context",
        "series": {"indicator": "owid.electricity_generation.chn"},
        "note": "China's generation, a proxy for industrial scale.",
    }
    doc = _doc("agi-2099", deadline="2099-12-31", window=None)
    doc["criteria"] = [*doc["criteria"], signal]
    with Session(seeded) as s:
        claim = _apply(s, doc, at("2026-01-06"))
        s.commit()
        from tracker.status import evaluate_claims

        evaluate_claims(s, now=at("2026-11-28"), claim_ids=[claim.id or 0])
        s.commit()
    reason = client.get("/api/v1/claims/agi-2099").json()["status"]["reason"]
    assert "a proxy for industrial scale: 10,070" in reason or (
        "a proxy for industrial scale: 10070" in reason
    ), reason
    assert ".:" not in reason


def test_after_a_verdict_the_reason_says_it_and_keeps_the_context_values(
    client: TestClient, seeded: Engine, resolver: dict[str, str]
) -> None:
    signal = {
        "key": "power",
        "type": "signal",
        "role": "context",
        "series": {"indicator": "owid.electricity_generation.chn"},
        "note": "China's generation",
    }
    doc = _doc("agi-2099", deadline="2099-12-31", window=None)
    doc["criteria"] = [*doc["criteria"], signal]
    with Session(seeded) as s:
        _apply(s, doc, at("2026-01-06"))
        s.commit()
    verdict = {"outcome": "false", "rationale": "The claimant gave up.", "note": "conceded"}
    url = "/api/v1/claims/agi-2099/resolutions"
    assert client.post(url, json=verdict, headers=resolver).status_code == 201
    reason = client.get("/api/v1/claims/agi-2099").json()["status"]["reason"]
    today = utcnow().date().isoformat()  # the test's clock (conftest), which the app reads
    assert reason.startswith(f"resolved false by resolver on {today} (reviewer's verdict)")
    assert "judged by a reviewer after the deadline" not in reason
    assert "(context: China's generation: 10" in reason


def test_every_problem_of_a_verdict_is_named_in_one_422(
    client: TestClient, seeded: Engine, resolver: dict[str, str]
) -> None:
    # was three round trips: schema errors, then the evidence URL, then the missing note
    with Session(seeded) as s:
        _apply(s, _doc("agi-2099", deadline="2099-12-31", window=None), at("2026-01-06"))
        s.commit()
    url = "/api/v1/claims/agi-2099/resolutions"
    verdict = {
        "outcome": "false",
        "rationale": "x",
        "evidence": ["https://example.org/ok", "ftp://example.org/file", "not a url"],
    }
    r = client.post(url, json=verdict, headers=resolver)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "/api/v1/problems/validation-error"
    fields = [e["field"] for e in problem["errors"]]
    assert sorted(fields) == ["evidence[1]", "evidence[2]", "note", "rationale"]
    note = next(e for e in problem["errors"] if e["field"] == "note")
    assert "deadline 2099-12-31 has not passed" in note["message"]
    assert all(e["location"] == "body" for e in problem["errors"])
    assert client.get(url).json()["resolutions"] == []  # nothing written
    # an unknown outcome is named too; the note rule needs a known outcome to apply
    r = client.post(url, json={**verdict, "outcome": "maybe", "note": "n"}, headers=resolver)
    assert {e["field"] for e in r.json()["errors"]} == {
        "outcome",
        "rationale",
        "evidence[1]",
        "evidence[2]",
    }
    fixed = {**verdict, "rationale": "The claimant gave up.", "note": "conceded"}
    fixed["evidence"] = ["https://example.org/ok"]
    r = client.post(url, json=fixed, headers=resolver)
    assert r.status_code == 201, r.text
    assert [v["evidence"] for v in client.get(url).json()["resolutions"]] == [
        ["https://example.org/ok"]
    ]


def test_verdict_body_is_documented_as_resolve_in(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/api/v1/claims/{slug}/resolutions"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema.get("$ref") == "#/components/schemas/ResolveIn" or (
        schema.get("allOf") and schema["allOf"][0]["$ref"].endswith("/ResolveIn")
    )
    resolve_in = document["components"]["schemas"]["ResolveIn"]
    assert set(resolve_in["properties"]) == {"outcome", "rationale", "evidence", "note"}
