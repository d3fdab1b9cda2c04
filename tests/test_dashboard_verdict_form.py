"""The verdict form as a reviewer meets it: each outcome in one vocabulary with the rubric's words
beside it, the note an early or overriding verdict needs said before submitting, a confirmation
showing what will be recorded, errors focused; and early / overriding verdicts marked on the
claim page, the lists, the API and the Atom feed (tracker.verdict_marks)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, clocked_app, make_claim, make_claimant, make_evaluation
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import Session
from test_dashboard import csrf_of, make_token, sign_in

from tracker.web.wording import OUTCOME_MEANINGS, state_label

EARLY = "agi-2026"  # judged, deadline 2026-12-31; NOW is 2026-11-28
PAST = "colossus2-grid-wait-one-year"  # needs review: deadline passed, no verdict yet
RUBRIC_TRUE = "A public system passes the agreed expert panel test."
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def client(settings, essay_engine) -> Iterator[TestClient]:
    with Session(essay_engine) as session:
        who = make_claimant(session, "rubric-writer", "Rubric Writer")
        claim = make_claim(
            session,
            who,
            "rubric-claim",
            deadline=NOW.date().replace(year=2026, month=1, day=31),
            kind="judged",
            criteria=[
                {
                    "key": "verdict",
                    "type": "judged",
                    "rubric": "Does a public system pass the panel's test?",
                    "outcomes": {"true": RUBRIC_TRUE, "false": "No system passes it."},
                }
            ],
        )
        make_evaluation(session, claim, "needs_review", "A reviewer decides.")
        session.commit()
    with TestClient(clocked_app(settings, essay_engine)) as c:
        sign_in(c, make_token(essay_engine, "resolve"))
        yield c


def _post(client: TestClient, slug: str, **fields: str):
    csrf = csrf_of(client.get(f"/claims/{slug}").text)
    return client.post(
        f"/claims/{slug}/resolve", data={"csrf_token": csrf, **fields}, follow_redirects=False
    )


def _choice(html: str, value: str) -> str:
    match = re.search(
        rf'<div class="outcome-choice">\s*<input type="radio" id="outcome-{value}".*?</div>',
        html,
        re.S,
    )
    assert match, value
    return match.group(0)


def test_each_outcome_is_one_word_with_its_meaning_beside_it(client):
    html = client.get("/claims/rubric-claim").text
    words = {"true": "kept", "false": "not kept", "partial": "partly kept"}
    for value, word in {**words, "void": "void", "ambiguous": "ambiguous"}.items():
        choice = _choice(html, value)
        assert f"<strong>{word}</strong>" in choice
        assert f'aria-describedby="outcome-{value}-means"' in choice
    assert RUBRIC_TRUE in _choice(html, "true") and "Rubric:" in _choice(html, "true")
    assert "No system passes it." in _choice(html, "false")
    # no rubric text for these: their general meaning, void and ambiguous explained
    for value in ("partial", "void", "ambiguous"):
        assert escape(OUTCOME_MEANINGS[value]) in _choice(html, value)
    assert "<select" not in html.split('id="verdict"')[1]


def test_the_early_note_is_asked_for_before_submitting(client):
    html = client.get(f"/claims/{EARLY}").text
    assert re.search(r'<input id="note" name="note" type="text" value="" required', html)
    assert "The deadline 2026-12-31 has not passed" in html and "early verdict" in html
    # past the deadline, with no verdict yet: no note needed, none asked for
    past = client.get(f"/claims/{PAST}").text
    assert 'id="note-why"' not in past
    assert not re.search(r'<input id="note" name="note" type="text" value="" required', past)


def test_review_shows_what_will_be_recorded_and_records_nothing(client, essay_engine):
    from dashboard_seed import verdicts_on

    before = len(verdicts_on(essay_engine, EARLY))
    r = _post(
        client,
        EARLY,
        step="review",
        outcome="false",
        rationale="The claimant withdrew the prediction.",
        evidence="https://example.org/a\nhttps://example.org/b",
        note="claimant conceded on 2026-11-27",
    )
    assert r.status_code == 200
    confirm = r.text[r.text.index('class="stack resolve-form confirm"') :]
    assert "Check the verdict before it is recorded" in confirm
    assert "<strong>not kept</strong>" in confirm and "<code>false</code>" in confirm
    assert "https://example.org/a" in confirm and "https://example.org/b" in confirm
    assert "early verdict" in confirm and "before the 2026-12-31 deadline" in confirm
    assert "data-focus-on-load" in confirm
    assert len(verdicts_on(essay_engine, EARLY)) == before
    # "Change it" gives the form back as typed; "Record" records exactly that
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm))
    edit = client.post(f"/claims/{EARLY}/resolve", data={**fields, "step": "edit"})
    assert re.search(r'id="outcome-false"[^>]* checked>', edit.text)
    done = client.post(
        f"/claims/{EARLY}/resolve", data={**fields, "step": "record"}, follow_redirects=False
    )
    assert done.status_code == 303
    rows = verdicts_on(essay_engine, EARLY)
    assert len(rows) == before + 1 and rows[-1].evidence == [
        "https://example.org/a",
        "https://example.org/b",
    ]


def test_a_refused_review_shows_the_error_beside_the_form_focused(client):
    r = _post(client, EARLY, step="review", outcome="false", rationale="Conceded in public.")
    assert r.status_code == 422
    form = r.text[r.text.index('id="verdict"') :]
    errors = re.search(
        r'<div class="error" role="alert" id="verdict-errors"[^>]*>(.*?)</div>', form, re.S
    )
    assert errors is not None
    assert "data-focus-on-load" in form[: form.index("</div>")]
    assert "deadline 2026-12-31 has not passed" in errors.group(1)
    assert 'action="/claims/agi-2026/resolve"' in r.text


def test_an_early_then_overriding_verdict_is_marked_everywhere(client):
    note = "claimant conceded on 2026-11-27"
    r = _post(client, EARLY, outcome="false", rationale="Conceded in public.", note=note)
    assert r.status_code == 303
    page = client.get(f"/claims/{EARLY}").text
    assert page.count("verdict-early") >= 2  # the status line and the verdict list
    assert "<strong>true</strong>" not in page and "<strong>false</strong>" not in page
    listed = client.get("/claims", params={"q": EARLY}).text
    assert "early verdict" in listed
    overview = client.get("/").text
    assert "early verdict" in overview
    changes = overview[overview.index('id="changes-h"') :]
    change = re.search(r"<li>.*?AGI arrives in 2026</a>:.*?</li>", changes, re.S)
    assert change is not None and "verdict-early" in change.group(0)  # the change it caused
    api = client.get(f"/api/v1/claims/{EARLY}").json()["resolution"]
    assert api["early"] is True and api["overrides"] is False and api["outcome"] == "false"

    r = _post(client, EARLY, outcome="ambiguous", rationale="Disputed again.", note="new facts")
    assert r.status_code == 303
    verdicts = client.get(f"/api/v1/claims/{EARLY}/resolutions").json()["resolutions"]
    assert [(v["outcome"], v["early"], v["overrides"]) for v in verdicts] == [
        ("false", True, False),
        ("ambiguous", True, True),
    ]
    assert "overrides an earlier verdict" in client.get("/claims", params={"q": EARLY}).text

    feed = ET.fromstring(client.get("/api/v1/feed.atom").content)
    # entries of this claim: their link is its page (titles are in words: the claim's title and
    # the change, feed_titles.change_title)
    entries = [
        e
        for e in feed.iter(f"{ATOM}entry")
        if any(
            (link.get("href") or "").endswith(f"/claims/{EARLY}") for link in e.iter(f"{ATOM}link")
        )
    ]
    marked = {
        e.findtext(f"{ATOM}title"): sorted(c.get("term") for c in e.iter(f"{ATOM}category"))
        for e in entries
    }
    assert any(
        f"→ {state_label('resolved_false')}" in t
        and "early: before the 2026-12-31 deadline" in t
        and terms == ["early-verdict"]
        for t, terms in marked.items()
    ), marked
    assert any(
        f"→ {state_label('ambiguous')}" in t and terms == ["early-verdict", "overriding-verdict"]
        for t, terms in marked.items()
    ), marked


def test_a_verdict_after_the_deadline_is_not_marked(client):
    r = _post(client, PAST, outcome="true", rationale="Reporting confirms it.")
    assert r.status_code == 303
    api = client.get(f"/api/v1/claims/{PAST}").json()["resolution"]
    assert api["early"] is False and api["overrides"] is False
    assert "verdict-early" not in client.get(f"/claims/{PAST}").text
