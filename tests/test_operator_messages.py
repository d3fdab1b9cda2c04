"""Operator talk stays with operators: public pages say "data source not configured", the
data-health page shows settings and HTTP details only when signed in, and loading the bundled
snapshot is not recorded as a successful fetch (it made no request)."""

from __future__ import annotations

from sqlmodel import Session, select
from test_dashboard import make_token, sign_in
from test_dashboard_charts import fresh_install  # noqa: F401 (the fixture)

from tracker.models import FetchRun, Indicator

OPERATOR_WORDS = ("TRACKER_FRED_API_KEY", "HTTP 200", "needs API key")


def test_loading_the_bundled_snapshot_is_not_a_successful_fetch(fresh_install, engine):  # noqa: F811
    with Session(engine) as session:
        bundled = session.exec(select(FetchRun).where(FetchRun.trigger == "bundled")).all()
        assert bundled and all(r.status == "ok" for r in bundled)
        loaded = {r.indicator_id for r in bundled}
        indicators = session.exec(select(Indicator)).all()
        assert all(i.last_success_at is None for i in indicators if i.id in loaded)
    api = fresh_install.get("/api/v1/indicators").json()
    items = api["items"] if isinstance(api, dict) else api
    assert any(i["health"] == "bundled" for i in items)


def test_public_pages_say_what_a_reader_needs(fresh_install):  # noqa: F811
    pages = [
        "/",
        "/claims/capital-rotation-to-power-infra-2026",
        "/claims/white-collar-class-disappears",
        "/claims/china-power-3x-us-2030",
        "/indicators",
    ]
    for path in pages:
        html = fresh_install.get(path).text
        for words in OPERATOR_WORDS:
            assert words not in html, (path, words)
    assert "data source not configured" in fresh_install.get("/indicators").text
    claim = fresh_install.get("/claims/china-power-3x-us-2030").text
    assert "loaded from the bundled snapshot" in claim


def test_signed_in_the_data_health_page_says_how_to_configure(fresh_install, engine):  # noqa: F811
    sign_in(fresh_install, make_token(engine, "resolve"))
    html = fresh_install.get("/indicators").text
    assert "set <code>TRACKER_FRED_API_KEY</code> to fetch it" in html
    assert "HTTP 200" not in html  # bundled loads made no request, signed in or not
    assert "bundled snapshot, no request" in html
