"""The "(uncertain)" of the dashboard's trend badge (the projection's range includes the
threshold) is in the API's claim status and in both exports as `uncertain`, computed by the same
function (wording.trend_uncertain), so a notebook can tell "on track" from "on track
(uncertain)"."""

from __future__ import annotations

import csv
import io
import re

from test_dashboard_charts import fresh_install

from tracker.web.schemas import Status

__all__ = ["fresh_install"]  # the shipped claims and bundled data, evaluated once


def dashboard_uncertain(client) -> dict[str, bool]:
    """Each claim on the /claims list: does its trend badge say "(uncertain)"?"""
    html = client.get("/claims").text
    rows = re.findall(r"<tr>.*?</tr>", html, flags=re.S)
    out = {}
    for row in rows:
        slug = re.search(r'<div class="slug">([a-z0-9-]+)</div>', row)
        if slug is not None:
            out[slug.group(1)] = "(uncertain)" in row
    return out


def test_uncertain_agrees_across_dashboard_api_and_exports(fresh_install):
    client = fresh_install
    shown = dashboard_uncertain(client)
    api = {
        c["slug"]: c["status"]
        for c in client.get("/api/v1/claims", params={"limit": 500}).json()["items"]
    }
    exported = {
        c["slug"]: c["status"]["uncertain"] for c in client.get("/api/v1/export.json").json()
    }
    rows = csv.DictReader(io.StringIO(client.get("/api/v1/export.csv").text))
    in_csv = {r["slug"]: r["uncertain"] for r in rows}
    assert set(shown) == set(api) == set(exported) == set(in_csv)
    for slug, uncertain in shown.items():
        assert api[slug]["uncertain"] is uncertain, slug
        assert exported[slug] is uncertain, slug
        assert in_csv[slug] == str(uncertain), slug
        if uncertain:
            assert api[slug]["trend"] in ("on_track", "off_track"), slug
        detail = client.get(f"/api/v1/claims/{slug}").json()["status"]
        assert detail["uncertain"] is uncertain, slug
    # the shipped data has both: China 3x on track (uncertain), and firm trends
    assert shown["china-power-3x-us-2030"] is True
    assert api["china-power-3x-us-2030"]["trend"] == "on_track"
    assert not all(shown.values())


def test_a_replayed_status_says_uncertain_too(fresh_install):
    live = fresh_install.get("/api/v1/claims/china-power-3x-us-2030").json()["status"]
    replay = fresh_install.get(
        "/api/v1/claims/china-power-3x-us-2030", params={"as_of": "2026-11-28"}
    ).json()["status"]
    assert replay["replay"] is True
    assert replay["uncertain"] is live["uncertain"] is True


def test_the_status_model_types_and_documents_it():
    field = Status.model_fields["uncertain"]
    assert field.annotation is bool and field.default is False
    assert field.description and "threshold" in field.description
