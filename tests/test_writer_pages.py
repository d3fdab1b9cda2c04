"""The writer's pages (/claims/new, /indicators/new) without a browser: who may use them, the
CSRF token, errors named beside their fields, and a saved claim stored as the API stores it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from dashboard_seed import clocked_app
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_dashboard import csrf_of, make_token, sign_in
from test_http_support import fixture_bytes, make_fetcher

from tracker.models import Claim, ClaimRevision

SAMPLE = "worldbank_v2_CHN_SP.POP.TOTL_2015_2024.json"
CLAIM_FORM = {
    "slug": "china-power-5x-us-2040",
    "title": "China's electricity production five times the US's in 2040",
    "claimant": "elon-musk",
    "quote_original": "five times by 2040",
    "quote_language": "en",
    "quote_en": "five times by 2040",
    "stated_date": "2026-01-06",
    "stated_precision": "day",
    "deadline": "2040-12-31",
    "kind": "hard",
    "criteria": """- key: ratio-2040
  type: threshold
  series:
    ratio:
      - {indicator: owid.electricity_generation.china}
      - {indicator: owid.electricity_generation.usa}
  comparator: ">="
  threshold: 5
  unit: "1"
  mode: at_period
  period: "2040"
""",
}


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    app = clocked_app(settings, essay_engine)
    app.state.source_http = make_fetcher(
        lambda r: httpx.Response(200, content=fixture_bytes(SAMPLE)), settings
    )[0]
    with TestClient(app) as c:
        yield c


def test_only_a_signed_in_writer_gets_the_forms(client, essay_engine):
    for path in ("/claims/new", "/indicators/new"):
        r = client.get(path)
        assert r.status_code == 401 and "claims:write" in r.text
    sign_in(client, make_token(essay_engine, "resolve"))
    r = client.get("/claims/new")
    assert r.status_code == 403 and "lacks the `claims:write` scope" in r.text.replace(
        "<code>", "`"
    ).replace("</code>", "`")


def test_a_writer_checks_then_saves_a_claim(client, essay_engine):
    sign_in(client, make_token(essay_engine, "claims:write", name="writer-wu"))
    form = client.get("/claims/new").text
    assert 'href="/claims/new">Add a claim' in form
    csrf = csrf_of(form)
    forged = client.post("/claims/new", data={**CLAIM_FORM, "csrf_token": "forged"})
    assert forged.status_code == 403
    bad = client.post("/claims/new", data={**CLAIM_FORM, "slug": "Not A Slug", "csrf_token": csrf})
    assert bad.status_code == 422
    assert 'id="slug-error"' in bad.text and 'aria-invalid="true"' in bad.text
    checked = client.post("/claims/new", data={**CLAIM_FORM, "csrf_token": csrf})
    assert checked.status_code == 200, re.findall(
        r'class="field-error error"[^>]*>([^<]*)', checked.text
    )
    assert "slug: china-power-5x-us-2040" in checked.text
    assert "Status it would have now" in checked.text
    with Session(essay_engine) as session:
        assert session.exec(select(Claim).where(Claim.slug == CLAIM_FORM["slug"])).first() is None
    saved = client.post(
        "/claims/new",
        data={**CLAIM_FORM, "csrf_token": csrf, "step": "save"},
        follow_redirects=False,
    )
    assert (
        saved.status_code == 303 and saved.headers["location"] == "/claims/china-power-5x-us-2040"
    )
    with Session(essay_engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == CLAIM_FORM["slug"])).one()
        revision = session.exec(
            select(ClaimRevision).where(ClaimRevision.claim_id == claim.id)
        ).one()
    assert (claim.origin, revision.author, revision.change) == ("api", "writer-wu", "created")
    again = client.post("/claims/new", data={**CLAIM_FORM, "csrf_token": csrf, "step": "save"})
    assert again.status_code == 422 and "already exists" in again.text


def test_an_indicator_of_an_unknown_source_is_refused_in_the_summary(client, essay_engine):
    sign_in(client, make_token(essay_engine, "claims:write", name="writer-wu"))
    csrf = csrf_of(client.get("/indicators/new?source=worldbank").text)
    r = client.post(
        "/indicators/new",
        data={"csrf_token": csrf, "source": "nosuch", "key": "x.y", "title": "X", "unit": "1"},
    )
    assert r.status_code == 422
    summary = r.text[r.text.index('id="form-errors"') :]
    assert "source: unknown source &#39;nosuch&#39;" in summary[:800]


def test_an_indicator_is_saved_once_and_a_second_check_names_its_key(client, essay_engine):
    sign_in(client, make_token(essay_engine, "claims:write", name="writer-wu"))
    csrf = csrf_of(client.get("/indicators/new?source=worldbank").text)
    form = {
        "csrf_token": csrf,
        "source": "worldbank",
        "param_indicator": "SP.POP.TOTL",
        "param_country": "CHN",
        "key": "worldbank.population.chn-form",
        "title": "Population, China",
        "unit": "persons",
        "frequency": "annual",
        "refresh": "weekly",
    }
    saved = client.post("/indicators/new", data={**form, "step": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/claims/new?indicator=worldbank.population.chn-form"
    again = client.post("/indicators/new", data=form)
    assert again.status_code == 409
    assert 'id="key-error"' in again.text and "already exists" in again.text
