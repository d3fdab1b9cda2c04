"""The dashboard on the repository's real claim files and bundled data (both backends):
the overview as reported on a past date (?as_of=), dates at their stated precision, where bundled
values come from upstream, yearly reviews of open-ended claims, and trend badges that say when the
projection band straddles the threshold."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from tracker import status
from tracker.bundled import bundled_keys, load_bundled, manifest, provenance
from tracker.claims import sync_claims_dir
from tracker.web.app import create_app
from tracker.web.wording import band_straddles, date_at_precision, trend_badge

CLAIMS_DIR = Path(__file__).resolve().parents[1] / "claims"
SYNCED = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
NEW_YEAR = dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.UTC)
ADDED_LATER = dt.datetime(2027, 1, 5, 9, 0, tzinfo=dt.UTC)
TODAY = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
LATE_SLUG = "china-power-3x-us-2026"  # synced only on ADDED_LATER


def _text(html: str) -> str:
    """The visible text of a page, whitespace collapsed (scripts dropped)."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&#34;", '"')
    return re.sub(r"\s+", " ", html).strip()


def _row(html: str, slug: str) -> str:
    """The overview table row of one claim (by its slug line)."""
    rows = re.findall(r"<tr>.*?</tr>", html, flags=re.S)
    found = [r for r in rows if f'<div class="slug">{slug}</div>' in r]
    assert len(found) == 1, f"{slug}: {len(found)} rows"
    return found[0]


@pytest.fixture
def real_db(settings, engine, tmp_path) -> Iterator[tuple]:
    """The real claims (one of them added later), the bundled snapshot, evaluated on SYNCED and
    on NEW_YEAR (when the 2026 deadlines pass)."""
    claims = tmp_path / "claims-copy"
    shutil.copytree(CLAIMS_DIR, claims)
    late = claims / f"{LATE_SLUG}.yaml"
    # a file reviewed in later: no `catalogued:` day, so it is known from the sync that adds it
    late_text = re.sub(r"^catalogued: .*\n", "", late.read_text(encoding="utf-8"), flags=re.M)
    late.unlink()
    with Session(engine) as session:
        sync_claims_dir(session, claims, now=SYNCED)
        session.commit()
    assert all(s.ok for s in load_bundled(engine, now=SYNCED).loaded)
    with Session(engine) as session:
        status.evaluate_claims(session, now=SYNCED)
        status.evaluate_claims(session, now=NEW_YEAR)
        session.commit()
    late.write_text(late_text, encoding="utf-8")
    with Session(engine) as session:
        sync_claims_dir(session, claims, now=ADDED_LATER)
        status.evaluate_claims(session, now=ADDED_LATER)
        session.commit()
    yield settings, engine


def _client(settings, engine, now: dt.datetime) -> TestClient:
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: now
    return TestClient(app)


# --- 1. the overview as reported on a past date ---


def test_overview_as_of_shows_each_claims_stored_status_then(real_db):
    settings, engine = real_db
    with _client(settings, engine, TODAY) as client:
        now_page = client.get("/").text
        assert "needs review" in _text(_row(now_page, "agi-2026"))

        r = client.get("/", params={"as_of": "2026-12-15"})
        assert r.status_code == 200
        page = r.text
        assert "What tracker reported on 2026-12-15" in _text(page)
        banner = re.search(r'<p class="replay-banner"[^>]*id="as-of-banner">.*?</p>', page, re.S)
        assert banner and '<a href="/">Back to now</a>' in banner[0]
        # before the deadline passed: agi-2026 was open, linked to its replay for that day
        row = _row(page, "agi-2026")
        assert 'href="/claims/agi-2026?as_of=2026-12-15#replay"' in row
        assert "open" in _text(row) and "needs review" not in _text(row)
        assert "(in 16 days)" in _text(row)  # countdowns count from that day
        # a claim added to tracker later is left out; 13 claims were known then: 11 open and 2
        # in review, their series' next release overdue past its grace (medical-boom's openFDA)
        assert LATE_SLUG not in page
        assert "13 claims known then" in _text(page)
        counts = page[page.index('id="counts-h"') : page.index('id="all-h"')]
        assert "open</span> <strong>11</strong>" in counts
        assert "needs review</span> <strong>2</strong>" in counts
        assert "needs review" in _text(_row(page, "medical-boom-2026-2035"))
        # present-day sections are not mixed in
        assert 'id="queue-h"' not in page and 'id="health-h"' not in page
        # the replay the row links to answers for that day
        replay = client.get("/claims/agi-2026", params={"as_of": "2026-12-15"})
        assert replay.status_code == 200

        after = client.get("/", params={"as_of": "2027-01-01"}).text
        assert "needs review" in _text(_row(after, "agi-2026"))
        assert LATE_SLUG not in after

        today = client.get("/", params={"as_of": "2027-01-10"})
        assert today.status_code == 200
        assert f'<div class="slug">{LATE_SLUG}</div>' in today.text
        assert "14 claims known then" in _text(today.text)


def test_overview_as_of_rejects_future_and_malformed_dates(real_db):
    settings, engine = real_db
    with _client(settings, engine, TODAY) as client:
        future = client.get("/", params={"as_of": "2027-01-11"})
        assert future.status_code == 422
        assert "as_of: 2027-01-11 is in the future (today is 2027-01-10)" in _text(future.text)
        assert 'role="alert"' in future.text and '<a href="/">' in future.text
        for bad in ("2026-13-01", "yesterday", "15/12/2026"):
            r = client.get("/", params={"as_of": bad})
            assert r.status_code == 422, bad
            assert f"as_of: '{bad}' is not a date; use YYYY-MM-DD" in _text(r.text)
        # no as_of (or an empty one): the ordinary overview
        assert client.get("/", params={"as_of": ""}).status_code == 200


def test_overview_as_of_reads_all_claims_in_a_fixed_number_of_queries(real_db):
    settings, engine = real_db
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with _client(settings, engine, TODAY) as client:
        client.get("/", params={"as_of": "2026-12-15"})  # warm up (templates, session key)
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/", params={"as_of": "2027-01-10"}).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    evaluation_reads = [s for s in statements if "FROM evaluation" in s]
    assert len(evaluation_reads) <= 2, evaluation_reads  # the page and the counts, not 14
    assert len(statements) <= 4, statements


# --- 2. dates at their stated precision ---


def test_dates_are_shown_at_their_stated_precision(real_db):
    assert date_at_precision(dt.date(2026, 1, 1), "month") == "2026-01"
    assert date_at_precision(dt.date(2026, 1, 1), "year") == "2026"
    assert date_at_precision(dt.date(2026, 1, 6), "day") == "2026-01-06"
    assert date_at_precision(None, "day") == "—"
    settings, engine = real_db
    with _client(settings, engine, TODAY) as client:
        overview = client.get("/").text
        stated = re.compile(r'<td data-label="Stated">([^<]*)</td>')
        # medical-boom is stated at month precision, china-power at day precision
        assert stated.findall(_row(overview, "medical-boom-2026-2035")) == ["2026-01"]
        assert stated.findall(_row(overview, "china-power-3x-us-2030")) == ["2026-01-06"]
        assert "2026-01-01" not in overview
        page = client.get("/claims/medical-boom-2026-2035").text
        assert '<span class="stated-on">2026-01</span>' in page
        # the essay's published date is month precision too (claims/sources.yaml)
        assert '<span class="published-on">2026-01</span>' in page
        assert "2026-01-01" not in page
        as_of = client.get("/", params={"as_of": "2026-12-15"}).text
        assert stated.findall(_row(as_of, "medical-boom-2026-2035")) == ["2026-01"]


# --- 3. provenance of bundled values ---


def test_shipped_manifest_names_upstream_retrieval_and_licence_for_every_indicator():
    entries = manifest()["indicators"]
    assert set(entries) == set(bundled_keys())
    for key in bundled_keys():
        entry = entries[key]
        for name in ("source_name", "upstream", "retrieved_on", "licence"):
            assert isinstance(entry.get(name), str) and entry[name].strip(), (key, name)
        dt.date.fromisoformat(entry["retrieved_on"])
        found = provenance(key)
        assert found is not None
        assert found.sentence.startswith(f"bundled snapshot of {entry['source_name']}, retrieved")
    assert provenance("fred.uspbs") is None  # not bundled
    # a load recorded before the manifest named its source: completed from the shipped one
    old = provenance(
        "owid.electricity_generation.chn",
        {"retrieved_on": "2026-11-28", "upstream": "owid/energy-data, recorded"},
    )
    assert old is not None and old.upstream == "owid/energy-data, recorded"
    assert old.source_name.startswith("OWID energy-data")


def test_evidence_and_data_table_name_the_upstream_of_bundled_values(real_db):
    settings, engine = real_db
    with _client(settings, engine, TODAY) as client:
        page = client.get("/claims/china-power-3x-us-2030").text
    evidence = _text(page[page.index('id="evidence-h"') :])
    expected = (
        "bundled snapshot of OWID energy-data (electricity generation, China), "
        "retrieved 2026-11-28, licence CC BY 4.0"
    )
    assert expected in evidence
    assert "United States), retrieved 2026-11-28" in evidence
    assert "Upstream: owid/energy-data, owid-energy-data.csv, column electricity_generation" in (
        evidence
    )
    assert "e7897aed55b514b8d16e0a3d8f1518789ac3de31" in evidence
    chart_table = page[page.index('class="data"') : page.index('id="timeline"')]
    listed = _text(chart_table[chart_table.index("Where these values come from") :])
    assert re.search(r"fetch run #\d+ : " + re.escape(expected), listed), listed


# --- 4. yearly reviews ---

YEARLY = ("ai-compute-demand-10x-per-year", "china-ai-compute-exceeds-world")


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (dt.datetime(2026, 12, 30, 12, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 12, 31, 0, 1, tzinfo=dt.UTC), True),
        (TODAY, True),
        (dt.datetime(2027, 1, 31, 23, tzinfo=dt.UTC), True),
        (dt.datetime(2027, 2, 1, 0, 1, tzinfo=dt.UTC), False),
    ],
)
def test_overview_lists_yearly_reviews_due_from_31_dec_through_31_jan(real_db, today, due):
    settings, engine = real_db
    with _client(settings, engine, today) as client:
        page = client.get("/").text
    queue = page[page.index('id="queue-h"') : page.index('id="changes-h"')]
    for slug in YEARLY:
        assert (f"/claims/{slug}" in queue) is due, (slug, today)
        assert ("yearly review due" in _text(_row(page, slug))) is due
    if due:
        assert "open-ended; review of 2026-12-31" in _text(queue)
    # a claim with a deadline is never reviewed yearly
    assert "yearly review due" not in _text(_row(page, "china-power-3x-us-2030"))


def test_claim_page_shows_the_next_yearly_review_the_calendar_also_lists(real_db):
    settings, engine = real_db
    slug = "ai-compute-demand-10x-per-year"
    with _client(settings, engine, dt.datetime(2026, 12, 20, tzinfo=dt.UTC)) as client:
        before = _text(client.get(f"/claims/{slug}").text)
        calendar = client.get("/api/v1/calendar.ics").text
    assert "next yearly review: 2026-12-31" in before and "is due" not in before
    [event] = [
        e
        for e in icalendar.Calendar.from_ical(calendar).walk("VEVENT")
        if str(e["uid"]) == f"review-{slug}@tracker"
    ]
    assert event.decoded("dtstart") == dt.date(2026, 12, 31)
    assert event["rrule"]["FREQ"] == ["YEARLY"]
    with _client(settings, engine, TODAY) as client:
        after = _text(client.get(f"/claims/{slug}").text)
        dated = _text(client.get("/claims/china-power-3x-us-2030").text)
    assert "next yearly review: 2027-12-31; the review of 2026-12-31 is due" in after
    assert "next yearly review" not in dated


# --- 5. trend badges that agree with the reason ---


def test_trend_badge_rule():
    assert band_straddles(2.87, 3.35, 3.0) and band_straddles(3.0, 3.35, 3.0)
    assert not band_straddles(2.39, 2.71, 3.0) and not band_straddles(None, 3.0, 3.0)
    uncertain = trend_badge("on_track", 2.87, 3.35, 3.0)
    assert uncertain is not None and uncertain.label == "on track (uncertain)"
    assert uncertain.uncertain_because and "could go either way" in uncertain.uncertain_because
    firm = trend_badge("off_track", 2.39, 2.71, 3.0)
    assert firm is not None and firm.label == "off track" and firm.uncertain_because is None
    # a projection too uncertain to call says so (the stored trend is insufficient_data);
    # never "(uncertain)", which is for a call that could go either way
    vague = trend_badge("insufficient_data", 0.0001, 3787.0, 2.0, 0.73)
    assert vague is not None and vague.label == "too uncertain to call"
    assert vague.trend == "insufficient_data" and "(uncertain)" not in vague.label
    assert vague.uncertain_because and "too wide" in vague.uncertain_because
    beyond_floats = trend_badge("insufficient_data", 0.0001, None, 2.0, 0.73)  # stored inf
    assert beyond_floats is not None and beyond_floats.label == "too uncertain to call"
    # no projection (too few points, no baseline yet): insufficient data, as before
    assert (badge := trend_badge("insufficient_data")) and badge.label == "insufficient data"
    assert (badge := trend_badge("insufficient_data", value=None)) is not None
    assert badge.label == "insufficient data"
    # a band narrow enough to call, the trend missing for another reason: insufficient data
    narrow = trend_badge("insufficient_data", 2.8, 3.2, 3.0, 3.0)
    assert narrow is not None and narrow.label == "insufficient data"
    assert trend_badge("not_applicable") is None


def test_a_projection_too_uncertain_to_call_is_badged_so(real_db):
    """china-ai-compute-exceeds-world has twelve years of data; its reason says "too uncertain
    to call", and so does its badge (it said "insufficient data")."""
    settings, engine = real_db
    slug = "china-ai-compute-exceeds-world"
    badge = re.compile(r'<span class="badge trend-(\w+)( uncertain)?"(?: title="([^"]*)")?>([^<]*)')
    with _client(settings, engine, TODAY) as client:
        overview = client.get("/").text
        page = client.get(f"/claims/{slug}").text
        api = client.get(f"/api/v1/claims/{slug}").json()
    row = _row(overview, slug)
    assert "too uncertain to call" in _text(row)  # the reason
    [(trend, _, title, text)] = badge.findall(row)
    assert (trend, text) == ("insufficient_data", "too uncertain to call")
    assert "too wide" in title
    status_card = page[page.index('id="status-h"') : page.index("</dl>")]
    assert [b[3] for b in badge.findall(status_card)] == ["too uncertain to call"]
    assert "insufficient data" not in _text(status_card)
    assert api["status"]["trend"] == "insufficient_data"  # the stored value is unchanged


def test_badges_say_uncertain_where_the_reason_says_either_way(real_db):
    settings, engine = real_db
    badge = re.compile(r'<span class="badge trend-(\w+)( uncertain)?"(?: title="([^"]*)")?>([^<]*)')
    with _client(settings, engine, TODAY) as client:
        overview = client.get("/").text
        pages = {
            slug: client.get(f"/claims/{slug}").text
            for slug in ("china-power-3x-us-2030", "medical-boom-2026-2035", LATE_SLUG)
        }
    # medical-boom waits for a person (its openFDA count is overdue past its grace): needs_review
    # carries no chance of coming true, but its uncertain trend is still neutral
    expected = {
        "china-power-3x-us-2030": ("on track (uncertain)", r" · \d+ % chance"),
        "medical-boom-2026-2035": ("off track (uncertain)", ""),
    }
    for slug, (label, chance) in expected.items():
        row = _row(overview, slug)
        assert "could go either way" in row  # the reason, as stored
        [(kind, uncertain, title, text)] = badge.findall(row)
        assert uncertain and "could go either way" in title
        # in a neutral badge, with its chance of coming true instead of green or red
        assert kind == "neutral" and re.fullmatch(rf"{re.escape(label)}{chance}", text)
        status_card = pages[slug][pages[slug].index('id="status-h"') : pages[slug].index("</dl>")]
        assert [b[3].split(" · ")[0] for b in badge.findall(status_card)] == [label]
        assert "includes the threshold" in _text(status_card)
        timeline = pages[slug][pages[slug].index('id="timeline"') :]
        assert label in [b[3].split(" · ")[0] for b in badge.findall(timeline)]
    # a band clear of the threshold: no "(uncertain)"
    row = _row(overview, LATE_SLUG)
    assert "could go either way" not in row
    late = pages[LATE_SLUG]
    # its own badges; the claim it is a variant reading of has its own, beside its link
    parent = late[late.index('id="variant-of"') : late.index("</p>", late.index('id="variant-of"'))]
    assert "on track (uncertain)" in parent
    assert "(uncertain)" not in row and "(uncertain)" not in late.replace(parent, "")
