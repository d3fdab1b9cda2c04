"""Replay through claim revisions written by tracker.claims.apply_claim (the real write path)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_status_factories import at, claimant, make_indicator, observe, owid_generation

from tracker.claims import ClaimFile, apply_claim
from tracker.status import evaluate_claims, replay_claim

DATA = owid_generation()


def _document(**changes: Any) -> ClaimFile:
    doc: dict[str, Any] = {
        "slug": "china-power-3x-us-2030",
        "title": "By 2030 China's electricity production will be three times the US's",
        "claimant": "musk",
        "quote": {"language": "en", "en": "China will make three times the US's power by 2030."},
        "stated": {"date": "2026-01-06", "precision": "day"},
        "window": {"start": "2030-01-01", "end": "2030-12-31"},
        "deadline": "2030-12-31",
        "kind": "hard",
        "criteria": [
            {
                "key": "ratio",
                "type": "threshold",
                "series": {
                    "ratio": [
                        {"indicator": "owid.gen.chn"},
                        {"indicator": "owid.gen.usa"},
                    ]
                },
                "threshold": 3.0,
                "period": "2030",
            }
        ],
    }
    doc.update(changes)
    return ClaimFile.model_validate(doc)


def test_replay_uses_the_claim_version_and_criteria_in_force_then(engine: Engine) -> None:
    with Session(engine) as session:
        claimant(session)
        chn = make_indicator(session, "owid.gen.chn")
        usa = make_indicator(session, "owid.gen.usa")
        observe(session, chn, DATA["CHN"], at("2026-03-01"))
        observe(session, usa, DATA["USA"], at("2026-03-01"))
        claim = apply_claim(session, _document(), origin="file", now=at("2026-01-10")).claim
        amended = _document(
            deadline="2026-06-30",
            window={"start": "2026-01-01", "end": "2026-06-30"},
            criteria=[
                {
                    "key": "ratio",
                    "type": "threshold",
                    "series": {
                        "ratio": [{"indicator": "owid.gen.chn"}, {"indicator": "owid.gen.usa"}]
                    },
                    "threshold": 2.0,
                    "period": "2026",
                }
            ],
            revision_note="the 2026 reading, as another report gives it",
        )
        apply_claim(session, amended, origin="file", now=at("2026-09-01"))
        withdrawn = amended.model_copy(update={"lifecycle": "withdrawn"})
        apply_claim(session, withdrawn, origin="file", now=at("2026-10-01"))
        session.commit()
        assert claim.version == 3

        first = replay_claim(session, claim, dt.date(2026, 8, 1), now=at("2026-11-01"))
        assert (first.state, first.threshold) == ("open", 3.0)
        assert first.projection is not None and first.projection.at == "2030"
        second = replay_claim(session, claim, dt.date(2026, 9, 15), now=at("2026-11-01"))
        assert (second.state, second.threshold) == ("awaiting_data", 2.0)
        assert "deadline 2026-06-30 passed" in second.reason
        third = replay_claim(session, claim, dt.date(2026, 10, 15), now=at("2026-11-01"))
        assert third.state == "withdrawn"
        (now,) = evaluate_claims(session, now=at("2026-11-01"))
        assert now.state == "withdrawn"
