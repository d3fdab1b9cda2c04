"""A claim file's `catalogued:` day dates the claim's first version when a sync first creates it
(never later than the sync), so a fresh install replays dates between the snapshot's retrieval
and the install; later changes are dated by the sync that makes them (fixed clocks)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import (
    catalogued_on,
    check_claims_path,
    first_known,
    sync_claims_dir,
)
from tracker.clock import FixedClock, use_clock
from tracker.models import Claim, ClaimRevision
from tracker.web.app import create_app

CLAIMS_DIR = Path(__file__).resolve().parents[1] / "claims"
INSTALLED = dt.datetime(2027, 1, 2, 9, 0, tzinfo=dt.UTC)  # a fresh install
CATALOGUED = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)  # claims/*.yaml `catalogued:`
SLUG = "china-power-3x-us-2030"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_fresh_install_replays_the_claims_from_their_catalogued_day(settings, engine):
    with use_clock(FixedClock(INSTALLED)):
        with Session(engine) as session:
            sync_claims_dir(session, CLAIMS_DIR, now=INSTALLED)
            session.commit()
        assert all(s.ok for s in load_bundled(engine, now=INSTALLED).loaded)
        with Session(engine) as session:
            status.evaluate_claims(session, now=INSTALLED)
            session.commit()
            claim = session.exec(select(Claim).where(Claim.slug == SLUG)).one()
            assert claim.created_at == CATALOGUED and claim.updated_at == INSTALLED
        app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        # after the catalogued day and the snapshot's retrieval, before the install: known,
        # its status recomputed from the data known then
        page = client.get(f"/claims/{SLUG}", params={"as_of": "2026-12-01"})
        assert page.status_code == 200
        replay = _text(page.text[page.text.index('id="replay"') :])
        assert "As of the end of 2026-12-01 , using only the data known then" in replay
        assert "not known" not in replay
        assert "version 1 ( 2026-11-28" in replay or "version 1 (2026-11-28" in replay
        api = client.get(f"/api/v1/claims/{SLUG}", params={"as_of": "2026-12-01"}).json()
        assert api["status"]["replay"] is True
        assert api["status"]["state"] == "open" and api["status"]["metric"]["period"] == "2025"
        # before the catalogued day: not known, saying from when it is
        before = client.get(f"/claims/{SLUG}", params={"as_of": "2026-11-27"})
        assert before.status_code == 404
        assert "it was first recorded on 2026-11-28" in _text(before.text)
        # the as-of forms give the range from the catalogued day
        assert "tracker has records from 2026-11-28" in _text(client.get("/").text)
        assert "Replays run from 2026-11-28" in _text(page.text)
        # provenance of the first version's date, in the API and on the page
        revisions = client.get(f"/api/v1/claims/{SLUG}/revisions").json()["revisions"]
        assert [(r["version"], r["created_at"][:10], r["catalogued"]) for r in revisions] == [
            (1, "2026-11-28", "2026-11-28")
        ]
        now_page = _text(client.get(f"/claims/{SLUG}").text)
        assert "catalogued 2026-11-28 (date from the claim file, not of loading)" in now_page


def test_only_a_first_creation_is_dated_from_the_file_and_never_after_the_sync(
    engine, tmp_path, clock
):
    claims = tmp_path / "claims"
    shutil.copytree(CLAIMS_DIR, claims)
    synced = clock()  # 2026-11-28 09:00, the catalogued day itself
    with Session(engine) as session:
        sync_claims_dir(session, claims, now=synced)
        session.commit()
        first = session.exec(select(Claim).where(Claim.slug == SLUG)).one()
        assert first.created_at == CATALOGUED < synced
    later = INSTALLED + dt.timedelta(days=3)
    clock.set(later)
    path = claims / f"{SLUG}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\ntitle: ", "\ntitle: Revised - ", 1), encoding="utf-8")
    with Session(engine) as session:
        report = sync_claims_dir(session, claims, now=later)
        session.commit()
        assert SLUG in report.updated
        claim = session.exec(select(Claim).where(Claim.slug == SLUG)).one()
        rows = session.exec(
            select(ClaimRevision)
            .where(ClaimRevision.claim_id == claim.id)
            .order_by(ClaimRevision.version)  # type: ignore[arg-type]
        ).all()
    assert [(r.version, r.created_at) for r in rows] == [(1, CATALOGUED), (2, later)]
    assert [catalogued_on(r) for r in rows] == [CATALOGUED.date(), None]
    assert claim.created_at == CATALOGUED and claim.updated_at == later
    # a sync earlier than the catalogued day (clocks that disagree) still never dates it later
    (parsed,) = [c for c in check_claims_path(claims).claims if c.slug == SLUG]
    early = CATALOGUED - dt.timedelta(hours=3)
    assert first_known(parsed, early) == early
    assert first_known(parsed, later) == CATALOGUED


def test_a_bad_catalogued_day_is_refused_naming_file_line_and_field(tmp_path, clock):
    claims = tmp_path / "claims"
    shutil.copytree(CLAIMS_DIR, claims)
    path = claims / f"{SLUG}.yaml"
    text = path.read_text(encoding="utf-8")
    line = text.splitlines().index("catalogued: 2026-11-28") + 1
    cases = {
        "2025-01-01": "is before the stated date 2026-01-06",
        "soon": "expected a date written YYYY-MM-DD",
    }
    for value, expected in cases.items():
        path.write_text(
            text.replace("catalogued: 2026-11-28", f"catalogued: {value}"), encoding="utf-8"
        )
        errors = [str(e) for e in check_claims_path(claims).errors]
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"{path}:{line}: error: catalogued: ") or errors[0].startswith(
            f"claims/{SLUG}.yaml:{line}: error: catalogued: "
        ), errors
        assert expected in errors[0]
