"""Variant readings on the shipped claims (claims/ in this repository): the China power 2030
claim and NetEase Tech's "by 2026" reading of it (variant_of) link each other on their pages and
in the API; each page shows how its deadline is read and the other reading; the claimant's
track record counts the statement once and leaves withdrawn claims out, on page and API alike.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker import queries, status
from tracker.claims import sync_claims_dir, withdraw_claim
from tracker.config import Settings
from tracker.models import Claim, Claimant
from tracker.web.app import create_app

REPO_CLAIMS = Path(__file__).resolve().parents[1] / "claims"
SYNCED = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
P2030 = "china-power-3x-us-2030"
V2026 = "china-power-3x-us-2026"
TITLE_2030 = "By 2030 China's electricity production will be three times the US's"
TITLE_2026 = (
    "By 2026 China's electricity production will be three times the US's (NetEase Tech's reading)"
)
VARIANT_2028 = """\
slug: china-power-3x-us-2028
title: By 2028 China's electricity production will be three times the US's (a third reading)
claimant: elon-musk
variant_of: china-power-3x-us-2030
quote:
  language: en
  en: By 2028 China's electricity production will be three times that of the US.
  note: A reading made up for the test.
stated: {date: 2026-01-06, precision: day}
window: {start: 2028-01-01, end: 2028-12-31}
deadline: 2028-12-31
deadline_interpretation: The annual value for 2028.
kind: hard
criteria:
  - key: generation-ratio-2028
    type: threshold
    series:
      ratio:
        - {indicator: owid.electricity_generation.chn}
        - {indicator: owid.electricity_generation.usa}
    comparator: ">="
    threshold: 3.0
    unit: "1"
    mode: at_period
    period: "2028"
"""


@pytest.fixture
def claims_dir(tmp_path: Path) -> Path:
    """A copy of the shipped claims, so a test can add or edit files."""
    return Path(shutil.copytree(REPO_CLAIMS, tmp_path / "repo-claims"))


@pytest.fixture
def synced(engine: Engine, claims_dir: Path) -> Engine:
    """The shipped claims synced on SYNCED and evaluated (no data loaded) on NOW."""
    with Session(engine) as session:
        sync_claims_dir(session, claims_dir, now=SYNCED)
        status.evaluate_claims(session, now=NOW)
        session.commit()
    return engine


@pytest.fixture
def client(settings: Settings, synced: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=synced)
    app.state.clock = lambda: NOW
    with TestClient(app) as c:
        yield c


def _sync(engine: Engine, claims_dir: Path, at: dt.datetime) -> None:
    """A sync by another process (not through the app, so no cache entry is dropped)."""
    with Session(engine) as session:
        sync_claims_dir(session, claims_dir, now=at)
        session.commit()


def _html(text: str) -> str:
    """`text` as the templates escape it."""
    return text.replace("'", "&#39;")


def _block(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def _state(engine: Engine, slug: str) -> str:
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
        assert claim.status_state
        return claim.status_state


def _link(slug: str, title: str, lifecycle: str = "active") -> dict[str, Any]:
    return {
        "slug": slug,
        "title": title,
        "lifecycle": lifecycle,
        "url": f"/api/v1/claims/{slug}",
        "page_url": f"/claims/{slug}",
    }


# --- the claim pages ---


def test_claim_page_shows_the_deadline_readings_and_links_its_variants(
    client: TestClient, synced: Engine
) -> None:
    html = client.get(f"/claims/{P2030}").text
    deadline = _block(html, "<dt>Deadline</dt>", "</dd>")
    assert "Reading checked:</strong> 「2030年には」 read as" in deadline
    alternative = _block(deadline, 'class="muted small deadline-alternative"', "</div>")
    assert "Other reading (not checked here):</strong> Any year up to and including 2030" in (
        alternative
    )
    assert "NetEase Tech summary renders the claim &#34;by 2026&#34;" in alternative
    variants = _block(html, 'id="variants"', "</div>")
    assert "Other readings of this statement" in variants
    [item] = re.findall(r"<li>(.*?)</li>", variants, re.S)
    assert f'<a href="/claims/{V2026}">{_html(TITLE_2026)}</a>' in item
    assert f'class="badge state-{_state(synced, V2026)}"' in item
    assert 'id="variant-of"' not in html

    html = client.get(f"/claims/{V2026}").text
    parent = _block(html, 'id="variant-of"', "</p>")
    assert f'<a href="/claims/{P2030}">{_html(TITLE_2030)}</a>' in parent
    assert f'class="badge state-{_state(synced, P2030)}"' in parent
    assert "Other reading (not checked here):</strong> Any year up to and including 2026." in html
    assert 'id="variants"' not in html

    html = client.get("/claims/agi-2026").text  # no variants either way; its own other reading
    assert 'id="variants"' not in html and 'id="variant-of"' not in html
    assert "Other reading (not checked here):</strong> Within twelve months of the interview" in (
        html
    )
    html = client.get("/claims/ai-compute-demand-10x-per-year").text  # no other reading
    assert "deadline-alternative" not in html


# --- the API ---


def test_api_claim_detail_links_variants_both_ways(client: TestClient) -> None:
    body = client.get(f"/api/v1/claims/{P2030}").json()
    assert body["variant_of"] is None
    assert body["variants"] == [_link(V2026, TITLE_2026)]
    variant = client.get(body["variants"][0]["url"]).json()
    assert variant["slug"] == V2026
    assert variant["variant_of"] == _link(P2030, TITLE_2030)
    assert variant["variants"] == []
    assert client.get(variant["variant_of"]["page_url"]).status_code == 200
    assert client.get(body["variants"][0]["page_url"]).status_code == 200
    # the claim document keeps the slug as written in the claim file
    assert client.get(f"/api/v1/claims/{V2026}/document").json()["variant_of"] == P2030


def test_api_claim_detail_sees_variant_changes_written_by_another_process(
    client: TestClient, synced: Engine, claims_dir: Path
) -> None:
    """The cached body of a claim is checked against its variants on every read."""
    first = client.get(f"/api/v1/claims/{P2030}")
    assert client.get(f"/api/v1/claims/{P2030}").headers["etag"] == first.headers["etag"]
    stale_variant = client.get(f"/api/v1/claims/{V2026}")

    added = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    (claims_dir / "china-power-3x-us-2028.yaml").write_text(VARIANT_2028, encoding="utf-8")
    _sync(synced, claims_dir, added)
    r = client.get(f"/api/v1/claims/{P2030}", headers={"If-None-Match": first.headers["etag"]})
    assert r.status_code == 200
    title_2028 = (
        "By 2028 China's electricity production will be three times the US's (a third reading)"
    )
    assert r.json()["variants"] == [
        _link(V2026, TITLE_2026),
        _link("china-power-3x-us-2028", title_2028),
    ]

    # the parent's new title shows on its variant
    path = claims_dir / f"{P2030}.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(f"title: {TITLE_2030}\n", "title: Amended\n"),
        encoding="utf-8",
    )
    _sync(synced, claims_dir, dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC))
    r = client.get(f"/api/v1/claims/{V2026}")
    assert r.headers["etag"] != stale_variant.headers["etag"]
    assert r.json()["variant_of"] == _link(P2030, "Amended")

    # a withdrawn variant stays listed, marked withdrawn; the change is the parent's newest
    with Session(synced) as session:
        row = session.exec(select(Claim).where(Claim.slug == V2026)).one()
        withdraw_claim(session, row, note="test", author="t", now=NOW + dt.timedelta(days=1))
        session.commit()
    r = client.get(f"/api/v1/claims/{P2030}")
    assert r.json()["variants"][0] == _link(V2026, TITLE_2026, lifecycle="withdrawn")
    assert r.headers["last-modified"] == "Sun, 29 Nov 2026 09:00:00 GMT"

    # a replay lists the variants recorded by then, as they stood then
    then = client.get(f"/api/v1/claims/{P2030}?as_of=2026-02-01").json()
    assert then["as_of"] is not None
    assert then["variants"] == [_link(V2026, TITLE_2026)]
    then = client.get(f"/api/v1/claims/{V2026}?as_of=2026-03-02").json()
    assert then["variant_of"]["slug"] == P2030


def test_variant_links_are_one_query_however_many_variants(
    synced: Engine, claims_dir: Path
) -> None:
    def statements_for_get_claim() -> int:
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        sa.event.listen(synced, "before_cursor_execute", count)
        try:
            with Session(synced) as session:
                detail = queries.get_claim(session, P2030)
                assert detail is not None
                found = [v.slug for v in detail.variants]
        finally:
            sa.event.remove(synced, "before_cursor_execute", count)
        assert len(found) == n_variants
        return len(seen)

    n_variants = 1
    with_one = statements_for_get_claim()
    for year in (2027, 2028, 2029):
        text = VARIANT_2028.replace("2028", str(year))
        (claims_dir / f"china-power-3x-us-{year}.yaml").write_text(text, encoding="utf-8")
    _sync(synced, claims_dir, NOW)
    n_variants = 4
    assert statements_for_get_claim() == with_one


# --- the track record ---


def _record_numbers(body: dict[str, Any]) -> None:
    """The API's numbers add up."""
    assert body["total"] == len(body["claims"])
    assert body["total"] == body["statements"] + body["variant_readings"] + body["withdrawn"]
    assert body["statements"] == sum(
        body[k]
        for k in (
            "resolved_true",
            "resolved_false",
            "resolved_partial",
            "void",
            "ambiguous",
            "unresolved",
        )
    )
    assert len(body["not_counted"]) == body["variant_readings"] + body["withdrawn"]


def test_track_record_counts_a_statement_once_and_leaves_withdrawn_claims_out(
    client: TestClient, synced: Engine
) -> None:
    body = client.get("/api/v1/claimants/elon-musk").json()
    _record_numbers(body)
    assert (body["total"], body["statements"], body["variant_readings"], body["withdrawn"]) == (
        8,
        7,
        1,
        0,
    )
    assert body["unresolved"] == 7
    assert body["not_counted"] == [{"slug": V2026, "reason": "variant_reading", "statement": P2030}]
    html = client.get("/claimants/elon-musk").text
    assert (
        '<dd class="claims-total">8 = 7 statements + 1 variant reading + 0 withdrawn</dd>' in html
    )
    assert "<dt>Not yet resolved</dt><dd>7</dd>" in html
    row = _block(html, f'<a href="/claims/{V2026}">', "</tr>")
    assert f'variant reading of <a href="/claims/{P2030}">{P2030}</a>' in row

    # a verdict on the variant and on a claim later withdrawn: neither is counted
    with Session(synced) as session:
        rows = {c.slug: c for c in session.exec(select(Claim)).all()}
        for slug, outcome in ((V2026, "false"), ("colossus2-grid-wait-one-year", "true")):
            status.record_manual_resolution(
                session,
                rows[slug],
                outcome=outcome,
                decided_by="reviewer",
                rationale="for the test",
                evidence=[],
                note="decided early for the test",
                now=NOW,
            )
        withdraw_claim(session, rows["colossus2-grid-wait-one-year"], note="test", author="t")
        session.commit()
    body = client.get("/api/v1/claimants/elon-musk").json()
    _record_numbers(body)
    assert (body["total"], body["statements"], body["variant_readings"], body["withdrawn"]) == (
        8,
        6,
        1,
        1,
    )
    assert (body["resolved_true"], body["resolved_false"], body["unresolved"]) == (0, 0, 6)
    assert body["share_kept"] is None
    assert {"slug": "colossus2-grid-wait-one-year", "reason": "withdrawn", "statement": None} in (
        body["not_counted"]
    )
    html = client.get("/claimants/elon-musk").text
    assert (
        '<dd class="claims-total">8 = 6 statements + 1 variant reading + 1 withdrawn</dd>' in html
    )
    assert "<dt>Kept</dt><dd>0</dd>" in html and "<dt>Not kept</dt><dd>0</dd>" in html
    assert "<dt>Not yet resolved</dt><dd>6</dd>" in html
    assert '<dd class="withdrawn">1: listed, not counted</dd>' in html
    row = _block(html, '<a href="/claims/colossus2-grid-wait-one-year">', "</tr>")
    assert "withdrawn: not counted in the track record" in row

    body = client.get("/api/v1/claimants/essay-author").json()  # nothing left out
    _record_numbers(body)
    assert (body["total"], body["statements"], body["not_counted"]) == (6, 6, [])
    html = client.get("/claimants/essay-author").text
    assert '<dd class="claims-total">6</dd>' in html


def _item(slug: str, variant_of: str | None = None, lifecycle: str = "active") -> Any:
    claim = Claim(slug=slug, variant_of=variant_of, lifecycle=lifecycle)
    return queries.ClaimItem(claim=claim, claimant=Claimant(slug="x", name="X"), evaluation=None)


def test_which_claims_a_track_record_leaves_out() -> None:
    items = [
        _item("a"),
        _item("b", "a"),  # a reading of a
        _item("c", "b"),  # a reading of b, so of a
        _item("d", "gone"),  # its statement is not this claimant's: d stands for it
        _item("e", "f", lifecycle="withdrawn"),
        _item("g", "h"),  # h is withdrawn: g stands for the statement
        _item("h", lifecycle="withdrawn"),
        _item("p", "q"),  # a cycle: the smallest slug stands for the statement
        _item("q", "p"),
    ]
    assert queries._not_counted(items) == {
        "b": "a",
        "c": "a",
        "e": "withdrawn",
        "h": "withdrawn",
        "q": "p",
    }
