"""The reviewer's journey on the real claim files (claims/ in this repository): on 2027-01-01 the
overview lists agi-2026 as needing review; the reviewer signs in and records a verdict; the
timeline shows it and the claim leaves the queue."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from tracker import auth, status
from tracker.claims import sync_claims_dir
from tracker.web.app import create_app

CLAIMS_DIR = Path(__file__).resolve().parents[1] / "claims"
NEW_YEAR = dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.UTC)


def test_agi_2026_reaches_the_review_queue_and_gets_a_verdict(settings, engine):
    with Session(engine) as session:
        sync_claims_dir(session, CLAIMS_DIR, now=NEW_YEAR - dt.timedelta(days=40))
        status.evaluate_claims(session, now=NEW_YEAR - dt.timedelta(days=34))
        status.evaluate_claims(session, now=NEW_YEAR)
        token = auth.create_token(session, "reviewer-ann", ["resolve"], now=NEW_YEAR).plaintext
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NEW_YEAR
    with TestClient(app) as client:
        overview = client.get("/").text
        queue = overview[overview.index('id="queue-h"') : overview.index('id="changes-h"')]
        assert "/claims/agi-2026" in queue
        page = client.get("/claims/agi-2026").text
        assert 'lang="ja"' in page
        assert "A reviewer decides:" in page
        assert "needs review" in page
        # sign in and record the verdict
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        r = client.post(
            "/login",
            data={"token": token, "csrf_token": csrf, "next": "/claims/agi-2026"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = client.get("/claims/agi-2026").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        r = client.post(
            "/claims/agi-2026/resolve",
            data={
                "outcome": "false",
                "rationale": "No system was broadly acknowledged as AGI during 2026.",
                "evidence": "https://example.org/review-2026",
                "csrf_token": csrf,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        page = client.get("/claims/agi-2026").text
        timeline = page[page.index('id="timeline"') : page.index('id="resolutions"')]
        assert "verdict: not kept" in timeline and "reviewer-ann" in timeline
        assert "resolved: not kept" in page
        overview = client.get("/").text
        queue = overview[overview.index('id="queue-h"') : overview.index('id="changes-h"')]
        assert "/claims/agi-2026" not in queue


def test_claim_page_replays_a_past_date(settings, engine):
    with Session(engine) as session:
        sync_claims_dir(session, CLAIMS_DIR, now=NEW_YEAR - dt.timedelta(days=40))
        status.evaluate_claims(session, now=NEW_YEAR - dt.timedelta(days=34))
        status.evaluate_claims(session, now=NEW_YEAR)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NEW_YEAR
    with TestClient(app) as client:
        before = client.get("/claims/agi-2026", params={"as_of": "2026-12-15"}).text
        replay = before[before.index('id="replay"') : before.index('id="criteria-h"')]
        assert "As of the end of <strong>2026-12-15</strong>" in replay
        assert "needs review" not in replay
        after = client.get("/claims/agi-2026", params={"as_of": "2027-01-01"}).text
        replay = after[after.index('id="replay"') : after.index('id="criteria-h"')]
        assert "needs review" in replay
        bad = client.get("/claims/agi-2026", params={"as_of": "soon"})
        # 422 like the overview and the API (see tests/test_as_of_views.py)
        assert bad.status_code == 422 and "as_of: &#39;soon&#39; is not a date" in bad.text
