"""Shared set-up for the quarantine tests: the shipped China/US claim and its indicators synced
from the repository's own claim files, OWID served from the recorded payload, and the damaged
body of the issue (OWID's CSV cut inside its last value, China 2025 reading 10).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from test_ingest_support import OWID_CSV, OWID_META, Upstream, owid_key

from tracker.claims import sync_claims_dir
from tracker.models import Claim, Evaluation, Indicator

REPO_CLAIMS = Path(__file__).resolve().parent.parent / "claims"
CLAIM = "china-power-3x-us-2030"
CHN, USA = owid_key("CHN"), owid_key("USA")


def copy_claims(target: Path, *claim_files: str) -> Path:
    """The shipped listings (claimants, sources, indicators, archive) and the named claims."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("claimants.yaml", "sources.yaml", "indicators.yaml"):
        shutil.copyfile(REPO_CLAIMS / name, target / name)
    shutil.copytree(REPO_CLAIMS / "archive", target / "archive", dirs_exist_ok=True)
    for slug in claim_files or (CLAIM,):
        shutil.copyfile(REPO_CLAIMS / f"{slug}.yaml", target / f"{slug}.yaml")
    return target


def sync_shipped(engine: Engine, directory: Path, now: dt.datetime) -> None:
    with Session(engine) as session:
        sync_claims_dir(session, directory, now=now)
        session.commit()


def filtered_csv(code: str, body: bytes = OWID_CSV) -> bytes:
    """The recorded CSV as OWID answers `country=<code>`: the header and that entity's rows."""
    lines = body.decode().splitlines()
    kept = [lines[0], *(line for line in lines[1:] if line.split(",")[1] == code)]
    return ("\n".join(kept) + "\n").encode()


def cut_inside_last_value(body: bytes, keep: int = 2) -> bytes:
    """The body cut `keep` characters into its last value: `...China,CHN,2025,10583.36\\n`
    becomes `...China,CHN,2025,10` (it still parses: 10 instead of 10583.36)."""
    text = body.decode().rstrip("\n")
    head, _, last = text.rpartition(",")
    return f"{head},{last[:keep]}".encode()


class ShapedUpstream(Upstream):
    """The recorded OWID payload answered per requested country (as `csvType=filtered` does);
    `csv_for[code]` replaces one country's CSV body, `headers_for[code]` adds headers."""

    def __init__(self) -> None:
        super().__init__()
        self.csv_for: dict[str, bytes] = {}
        self.headers_for: dict[str, dict[str, str]] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        country = request.url.params.get("country", "")
        if request.url.path.endswith(".metadata.json"):
            return httpx.Response(
                200, content=OWID_META, headers={"content-type": "application/json"}
            )
        if request.url.path.endswith(".csv"):
            body = self.csv_for.get(country, filtered_csv(country, self.csv))
            headers = {"content-type": "text/csv", **self.headers_for.get(country, {})}
            return httpx.Response(200, content=body, headers=headers)
        return httpx.Response(404, content=b"not found")


def claim_status(engine: Engine, slug: str = CLAIM) -> dict[str, Any]:
    """What a reader sees of a claim's status, and how many evaluations it has."""
    with Session(engine) as session:
        claim = session.exec(select(Claim).where(Claim.slug == slug)).one()
        evaluation = session.get(Evaluation, claim.status_evaluation_id)
        count = len(
            session.exec(select(Evaluation.id).where(Evaluation.claim_id == claim.id)).all()
        )
        assert evaluation is not None
        return {
            "state": claim.status_state,
            "trend": claim.status_trend,
            "evaluation_id": claim.status_evaluation_id,
            "metric": evaluation.metric_value,
            "projection": evaluation.projection_value,
            "reason": evaluation.reason,
            "evaluations": count,
        }


def indicator_id(engine: Engine, key: str) -> int:
    with Session(engine) as session:
        found = session.exec(select(Indicator.id).where(Indicator.key == key)).one()
        assert found is not None
        return found
