"""The dashboard, feeds, calendar and problem details in Japanese (issue 18, the UI side):
rendered in-process against the seeded essay data; the language switch, its cookie, caching
headers, and the message catalog kept current with the code (Babel extraction in-process)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from dashboard_seed import NOW, seed_essay
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tracker.i18n.catalogs import po_path
from tracker.i18n.extract import (
    POT_PATH,
    extract,
    message_ids,
    read_catalog,
    untranslated,
)
from tracker.i18n.reasons import reason_text
from tracker.models import Claim, Evaluation
from tracker.web.app import create_app


@pytest.fixture
def client(settings, engine) -> Iterator[TestClient]:
    with Session(engine) as session:
        seed_essay(session)
        session.commit()
    app = create_app(settings, engine=engine)
    app.state.clock = lambda: NOW
    with TestClient(app) as c:
        yield c


# --- the catalog and the code agree ---


def test_every_message_id_in_code_and_templates_is_in_the_pot_and_translated_in_ja() -> None:
    """`pybabel extract` over tracker/ finds nothing the committed template lacks, and the
    ja catalog translates every id (no empty or fuzzy msgstr)."""
    extracted = message_ids(extract())
    assert len(extracted) > 300  # the templates and Python labels were found at all
    committed = message_ids(read_catalog(POT_PATH))
    assert sorted(map(str, extracted - committed)) == [], (
        "run `python -m tracker.i18n.extract` and translate the new ids"
    )
    assert sorted(map(str, committed - extracted)) == [], "the template holds ids no longer used"
    ja = read_catalog(po_path("ja", "messages"), "ja")
    assert untranslated(ja, extracted) == []


def test_translations_keep_every_placeholder() -> None:
    ja = read_catalog(po_path("ja", "messages"), "ja")
    placeholder = re.compile(r"%\([a-z_]+\)[sdr]|%%")
    for message in ja:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[-1]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert set(placeholder.findall(source)) == set(placeholder.findall(target)), message.id


# --- pages ---


def test_japanese_overview_lang_attribute_labels_dates_and_switch(client) -> None:
    r = client.get("/?lang=ja")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="ja">' in html
    assert "期限付きの予測を、公開データで確かめる" in html  # the h1
    assert "How the claims are doing" not in html
    assert "近づく期限" in html and "レビュー待ち" in html
    # dates in Japanese style, the countdown in Japanese
    assert "2026年11月28日" in html  # today, in the footer
    assert re.search(r"残り<strong>33</strong>日", html)
    # the feed and calendar links carry the page's language
    assert 'href="/api/v1/feed.atom?lang=ja"' in html
    assert 'href="/api/v1/calendar.ics?lang=ja"' in html
    # the switch back to English keeps the page
    assert 'href="/?lang=en"' in html and 'hreflang="en"' in html
    assert r.headers["content-language"] == "ja"
    # the ?lang= choice is remembered for a year
    cookie = r.headers["set-cookie"]
    assert "tracker_lang=ja" in cookie and "Max-Age=31536000" in cookie
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    # dynamic content is left as it is (the other helper's), state labels are translated
    assert "AGI arrives in 2026" in html


def test_english_stays_the_default_and_offers_japanese(client) -> None:
    r = client.get("/claims")
    assert '<html lang="en">' in r.text
    assert 'href="/claims?lang=ja"' in r.text and ">日本語</a>" in r.text
    assert r.headers["content-language"] == "en"
    assert 'href="/api/v1/feed.atom"' in r.text  # English: the plain feed URL
    assert "Accept-Language" in r.headers["vary"] and "Cookie" in r.headers["vary"]
    assert "set-cookie" not in r.headers or "tracker_lang" not in r.headers["set-cookie"]


def test_cookie_and_accept_language_choose_japanese(client) -> None:
    client.cookies.set("tracker_lang", "ja")
    assert '<html lang="ja">' in client.get("/track-record").text
    client.cookies.clear()
    r = client.get("/track-record", headers={"Accept-Language": "ja-JP,ja;q=0.9"})
    assert '<html lang="ja">' in r.text and "tracker自身の実績" in r.text


def test_switch_keeps_the_claims_filters(client) -> None:
    r = client.get("/claims?state=open&sort=-deadline&lang=ja")
    assert r.status_code == 200
    switch = re.search(r'<a class="lang-switch" href="([^"]+)"', r.text)
    assert switch is not None
    assert switch.group(1) == "/claims?state=open&amp;sort=-deadline&amp;lang=en"
    assert "条件に合う主張" in r.text  # the caption
    assert "期限の遠い順" in r.text  # the sort label, in the caption and the select


def test_japanese_claim_page_and_claimant_page(client) -> None:
    html = client.get("/claims/agi-2026?lang=ja").text
    assert "確認の方法" in html and "状態の履歴" in html and "判定" in html
    assert "How it is checked" not in html
    assert "2026年12月31日" in html  # the deadline, in Japanese style
    html = client.get("/claimants/elon-musk?lang=ja").text
    assert "実現率" in html and "ブライアスコア" in html


def test_japanese_404_page_and_problem_details(client) -> None:
    page = client.get("/claims/no-such-claim?lang=ja", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert '<html lang="ja">' in page.text and "見つかりません" in page.text
    problem = client.get("/api/v1/claims/no-such-claim", headers={"Accept-Language": "ja"})
    assert problem.status_code == 404
    body = problem.json()
    # title and detail in Japanese; the field names and the type URI never change
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["type"] == "/api/v1/problems/not-found"
    assert body["title"] == "見つかりません"
    assert body["detail"] == "スラッグ 'no-such-claim' の主張はありません"
    assert problem.headers["content-language"] == "ja"
    client.cookies.clear()  # the ?lang=ja page above remembered Japanese
    english = client.get("/api/v1/claims/no-such-claim").json()
    assert english["title"] == "Not Found" and english["type"] == body["type"]
    unrouted = client.get("/api/v1/nowhere", headers={"Accept-Language": "ja"}).json()
    assert unrouted["detail"] == "/api/v1/nowhere には何もありません"
    # a validation problem: its sentence in Japanese, the field names and types as they are
    invalid = client.get("/api/v1/claims?limit=abc", headers={"Accept-Language": "ja"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"].startswith("リクエストが無効です：limit")
    assert invalid.json()["errors"][0]["field"] == "limit"
    assert (
        client.get("/api/v1/claims?limit=abc")
        .json()["detail"]
        .startswith("the request is invalid: limit: ")
    )


def test_feed_and_calendar_in_japanese_with_lang_in_their_links(client) -> None:
    with Session(client.app.state.engine) as session:  # a claim file's ja: block, as synced
        agi = session.exec(select(Claim).where(Claim.slug == "agi-2026")).one()
        agi.spec = {**agi.spec, "ja": {"title": "AGIは2026年に到来する"}}
        session.add(agi)
        session.commit()
    feed = client.get("/api/v1/feed.atom?lang=ja")
    assert feed.status_code == 200
    assert 'xml:lang="ja"' in feed.text
    assert "tracker：主張の状態の変化" in feed.text
    assert "/claims/agi-2026?lang=ja" in feed.text
    # each entry's summary: the claim's title, then its reason as tracker.i18n.reasons renders
    # it in Japanese (these seeded rows carry no parts: their stored English, as on the pages)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(feed.content).findall("a:entry", ns)
    assert entries
    japanese_titles = 0
    with Session(client.app.state.engine) as session:
        for entry in entries:
            ev_id = int((entry.findtext("a:id", namespaces=ns) or "").rsplit(":", 1)[1])
            ev = session.get(Evaluation, ev_id)
            assert ev is not None
            summary = entry.findtext("a:summary", namespaces=ns) or ""
            assert summary.endswith(f". {reason_text(ev, 'ja')}")
            claim = session.get(Claim, ev.claim_id)
            assert claim is not None
            # the claim's Japanese title where its file gives one (title and summary alike)
            title = (claim.spec.get("ja") or {}).get("title") or claim.title
            assert summary.startswith(f"{title}. ")
            assert (entry.findtext("a:title", namespaces=ns) or "").startswith(title)
            japanese_titles += title != claim.title
    assert japanese_titles  # the essay's claims give theirs
    assert "Vary" not in feed.headers or "Cookie" not in feed.headers.get("vary", "")
    english = client.get("/api/v1/feed.atom?lang=en")
    assert "tracker: claim status changes" in english.text and "?lang=" not in english.text
    # a client holding the English copy is never told its copy is current for Japanese
    again = client.get(
        "/api/v1/feed.atom?lang=ja", headers={"If-None-Match": english.headers["etag"]}
    )
    assert again.status_code == 200 and "tracker：" in again.text
    cal = client.get("/api/v1/calendar.ics?lang=ja")
    assert cal.status_code == 200
    text = cal.text.replace("\r\n ", "")
    assert "期限：" in text and "/claims/agi-2026?lang=ja" in text
    assert cal.headers["content-language"] == "ja"


def test_negotiated_bodies_vary_and_keep_their_etags_apart(client) -> None:
    """The same URL answers English and Japanese by header: `Vary` names those headers, and an
    English ETag does not validate the Japanese body (nor the other way)."""
    en = client.get("/api/v1/feed.atom")
    ja = client.get("/api/v1/feed.atom", headers={"Accept-Language": "ja"})
    assert en.headers["etag"] != ja.headers["etag"]
    for r in (en, ja):
        vary = r.headers["vary"]
        assert "Accept-Language" in vary and "Cookie" in vary and "Accept-Encoding" in vary
    cross = client.get(
        "/api/v1/feed.atom", headers={"Accept-Language": "ja", "If-None-Match": en.headers["etag"]}
    )
    assert cross.status_code == 200
    same = client.get(
        "/api/v1/feed.atom", headers={"Accept-Language": "ja", "If-None-Match": ja.headers["etag"]}
    )
    assert same.status_code == 304
    assert "Accept-Language" in same.headers["vary"]
    # gzip: each language its own compressed body
    gz_en = client.get("/api/v1/feed.atom", headers={"Accept-Encoding": "gzip"})
    gz_ja = client.get(
        "/api/v1/feed.atom", headers={"Accept-Encoding": "gzip", "Accept-Language": "ja"}
    )
    assert "tracker：" in gz_ja.text and "tracker：" not in gz_en.text
