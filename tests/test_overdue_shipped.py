"""The cited case of issue 13: medical-boom said "expected 2025-01-30 (overdue)" forever. With the
shipped claims and bundled data evaluated on 2026-11-28, its openFDA series' 2024 count, due
2025-01-30, is missing past its 120 days' grace: the claim asks a reviewer, and the overview,
/readyz and the API say so."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_dashboard_charts import fresh_install

__all__ = ["fresh_install"]


def test_medical_boom_goes_to_review_with_its_data_overdue(fresh_install: TestClient) -> None:
    status = fresh_install.get("/api/v1/claims/medical-boom-2026-2035").json()["status"]
    assert status["state"] == "needs_review"
    assert (status["review_reason"], status["overdue_since"]) == ("data_overdue", "2025-01-30")
    assert status["reason"].startswith(
        "data overdue since 2025-01-30: data for 2024 (the series' next release); a reviewer "
        "voids the claim or extends the wait; "
    )
    checks = fresh_install.get("/readyz").json()["checks"]
    overdue = checks["claims"]["overdue_claims"]
    listed = fresh_install.get("/api/v1/claims?state=needs_review&limit=100").json()
    reviewing = [c for c in listed["items"] if c["status"]["review_reason"] == "data_overdue"]
    assert overdue >= 1 and "medical-boom-2026-2035" in {c["slug"] for c in reviewing}
    page = fresh_install.get("/").text
    assert f"{overdue} claim" in page and "because data is overdue" in page
    assert "data overdue since 2025-01-30" in page
