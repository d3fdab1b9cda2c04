"""A claim's words in Japanese (a claim file's `ja:` block): validated naming file, line and
field; stored with the revision (append-only); shown on pages and in the API in the reader's
language, English marked where the claim gives no translation; reasons in the API follow the
reader's language with Content-Language and Vary, through the cached fast path too."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker import status
from tracker.auth import create_token
from tracker.claims import check_claims_path, sync_claims_dir
from tracker.clock import FixedClock, use_clock
from tracker.config import Settings
from tracker.i18n.content import claim_text, criterion_text, quote_order
from tracker.models import Claim, ClaimRevision
from tracker.web.app import create_app

VALID = Path(__file__).parent / "fixtures" / "claims" / "valid"
NOW = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
JA_BLOCK = """\
ja:
  title: 2030年に中国の発電量は米国の3倍になる
  deadline_interpretation: 2030年に。年間データは2031年に出る。
  criteria:
    ratio-2030: 2030年の中国の発電量を米国の発電量で割った値が3.0以上。
"""


def _claims(tmp_path: Path, ja_block: str = JA_BLOCK) -> Path:
    directory = tmp_path / "claim-files"
    shutil.copytree(VALID, directory)
    path = directory / "power-ratio.yaml"
    path.write_text(path.read_text("utf-8") + ja_block, "utf-8")
    return directory


def _line(path: Path, needle: str) -> int:
    lines = path.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


# --- validation ---


@pytest.mark.parametrize(
    ("block", "field", "needle", "message"),
    [
        ("ja:\n  titel: 中国\n", "ja.titel", "titel:", "unknown field"),
        ("ja:\n  title: [1, 2]\n", "ja.title", "title: [1, 2]", "string"),
        ("ja: 中国の発電量\n", "ja", "ja:", ""),
        (
            "ja:\n  criteria:\n    ratio-2031: 説明\n",
            "ja.criteria.ratio-2031",
            "ratio-2031:",
            "unknown criterion key 'ratio-2031': expected one of ratio-2030",
        ),
        (
            "ja:\n  deadline_alternative: 2030年までのいずれかの年\n",
            "ja.deadline_alternative",
            "deadline_alternative:",
            "which the claim does not give",
        ),
        ("ja:\n  criteria:\n    ratio-2030: 3\n", "ja.criteria.ratio-2030", "ratio-2030: 3", ""),
    ],
)
def test_a_bad_ja_block_is_refused_naming_file_line_and_field(
    tmp_path: Path, block: str, field: str, needle: str, message: str
) -> None:
    directory = _claims(tmp_path, block)
    path = directory / "power-ratio.yaml"
    errors = [e for e in check_claims_path(directory).errors if e.field == field]
    assert errors, [str(e) for e in check_claims_path(directory).errors]
    error = errors[0]
    assert error.file.endswith("power-ratio.yaml")
    assert error.line == _line(path, needle)
    assert message in error.message
    assert f"power-ratio.yaml:{error.line}: error: {field}" in str(error)


def test_a_good_ja_block_checks(tmp_path: Path) -> None:
    result = check_claims_path(_claims(tmp_path))
    assert result.errors == []
    claim = next(c for c in result.claims if c.slug == "power-ratio")
    assert claim.ja is not None and claim.ja.title == "2030年に中国の発電量は米国の3倍になる"


def test_the_ja_block_is_stored_with_each_revision_append_only(
    engine: Engine, tmp_path: Path
) -> None:
    directory = _claims(tmp_path)
    with use_clock(FixedClock(NOW)), Session(engine) as session:
        sync_claims_dir(session, directory, now=NOW)
        session.commit()
    path = directory / "power-ratio.yaml"
    path.write_text(
        path.read_text("utf-8").replace("3倍になる", "3倍に達する"), "utf-8"
    )  # a better translation: a new version, the old one kept as it was
    later = NOW + dt.timedelta(days=1)
    with use_clock(FixedClock(later)), Session(engine) as session:
        sync_claims_dir(session, directory, now=later)
        session.commit()
        claim = session.exec(select(Claim).where(Claim.slug == "power-ratio")).one()
        revisions = session.exec(
            select(ClaimRevision)
            .where(ClaimRevision.claim_id == claim.id)
            .order_by(col(ClaimRevision.version))
        ).all()
        assert [r.version for r in revisions] == [1, 2]
        assert revisions[0].content["ja"]["title"] == "2030年に中国の発電量は米国の3倍になる"
        assert revisions[1].content["ja"]["title"] == "2030年に中国の発電量は米国の3倍に達する"
        assert revisions[1].criteria_changed is False and revisions[1].change == "updated"
        assert claim.spec["ja"]["criteria"] == {
            "ratio-2030": "2030年の中国の発電量を米国の発電量で割った値が3.0以上。"
        }
        assert claim_text(claim, "title", "ja") == ("2030年に中国の発電量は米国の3倍に達する", "ja")
        assert claim_text(claim, "title", "en") == (claim.title, "en")
        assert claim_text(claim, "deadline_alternative", "ja") == (None, "en")
        assert criterion_text(claim, "ratio-2030", "English.", "ja")[1] == "ja"
        assert criterion_text(claim, "other", "English.", "ja") == ("English.", "en")


def test_every_essay_claim_has_its_japanese_title_and_reading() -> None:
    root = Path(__file__).resolve().parents[1] / "claims"
    result = check_claims_path(root)
    assert result.errors == []
    assert len(result.claims) == 14
    for claim in result.claims:
        assert claim.ja is not None and claim.ja.title, claim.slug
        assert re.search(r"[ぁ-んァ-ン一-龥]", claim.ja.title), claim.slug
        if claim.deadline_interpretation:
            assert claim.ja.deadline_interpretation, claim.slug
        if claim.deadline_alternative:
            assert claim.ja.deadline_alternative, claim.slug
        described = {c.key for c in claim.criteria if c.description}
        assert described <= set(claim.ja.criteria), claim.slug


# --- pages and the API ---


@pytest.fixture
def client(settings: Settings, engine: Engine, tmp_path: Path):
    directory = _claims(tmp_path)
    with use_clock(FixedClock(NOW)):
        with Session(engine) as session:
            sync_claims_dir(session, directory, now=NOW)
            session.commit()
        with Session(engine) as session:
            status.evaluate_claims(session, now=NOW)
            session.commit()
        with TestClient(create_app(settings, engine=engine)) as test_client:
            yield test_client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_claim_page_in_japanese_shows_its_japanese_words_and_marks_english(
    client: TestClient,
) -> None:
    page = client.get("/claims/power-ratio", params={"lang": "ja"}).text
    assert "<h1>2030年に中国の発電量は米国の3倍になる</h1>" in page
    assert "2030年に。年間データは2031年に出る。" in page
    assert "2030年の中国の発電量を米国の発電量で割った値が3.0以上。" in page
    # the reason, in Japanese with the same numbers
    assert re.search(r'class="reason"[^>]* lang="ja">データはまだない；2030年に3.0以上が必要', page)
    # a claim without a Japanese title: its English title, marked as English
    judged = client.get("/claims/judged-claim", params={"lang": "ja"}).text
    assert (
        '<h1><span lang="en">Something vague happens in 2026</span> '
        '<small class="untranslated">(英語)</small></h1>' in judged
    )
    # the English page is as before (asked for: the ?lang=ja visits set the language cookie)
    english = client.get("/claims/power-ratio", params={"lang": "en"}).text
    assert "<h1>China generates three times the US&#39;s electricity in 2030</h1>" in english
    assert "(英語)" not in english and "データ" not in english


def test_the_api_follows_the_readers_language_with_content_language_and_vary(
    client: TestClient,
) -> None:
    # twice each, in turns: the second answer of each language comes from its cache entry
    for _ in range(2):
        ja = client.get("/api/v1/claims/power-ratio", headers={"Accept-Language": "ja"})
        en = client.get("/api/v1/claims/power-ratio")
        assert ja.headers["content-language"] == "ja"
        assert en.headers["content-language"] == "en"
        for response in (ja, en):
            assert "accept-language" in response.headers["vary"].lower()
        assert ja.json()["title"] == "2030年に中国の発電量は米国の3倍になる"
        assert ja.json()["title_lang"] == "ja"
        assert ja.json()["status"]["reason"] == "データはまだない；2030年に3.0以上が必要"
        assert ja.json()["text_lang"] == {"deadline_interpretation": "ja"}
        assert ja.json()["translations"]["ja"]["criteria"]["ratio-2030"].endswith("3.0以上。")
        assert en.json()["title"] == "China generates three times the US's electricity in 2030"
        assert en.json()["title_lang"] == "en"
        assert en.json()["status"]["reason"] == "no data yet; needs >= 3.0 in 2030"
        assert ja.headers["etag"] != en.headers["etag"]
    # the route (a query string) answers alike; the stored parts never leak into details
    routed = client.get("/api/v1/claims/power-ratio", params={"lang": "ja"})
    assert routed.json()["status"]["reason"] == ja.json()["status"]["reason"]
    assert "reason_parts" not in routed.json()["status"]["details"]
    # conditional: a Japanese ETag is a 304 in Japanese
    again = client.get(
        "/api/v1/claims/power-ratio",
        headers={"Accept-Language": "ja", "If-None-Match": ja.headers["etag"]},
    )
    assert again.status_code == 304 and again.headers["content-language"] == "ja"
    # lists and history too
    listing = client.get("/api/v1/claims", headers={"Accept-Language": "ja"})
    assert listing.headers["content-language"] == "ja"
    item = next(i for i in listing.json()["items"] if i["slug"] == "power-ratio")
    assert item["status"]["reason"] == "データはまだない；2030年に3.0以上が必要"
    history = client.get("/api/v1/claims/power-ratio/history", headers={"Accept-Language": "ja"})
    assert history.json()["points"][-1]["reason"] == "データはまだない；2030年に3.0以上が必要"


def test_quotes_put_the_readers_language_first_on_a_page_in_it() -> None:
    class Quoted:
        quote_original = "AGIは2026年に到来する"
        quote_language = "ja"
        quote_en = "AGI will arrive in 2026"

    assert quote_order(Quoted(), "ja")[0] == ("AGIは2026年に到来する", "ja")
    assert quote_order(Quoted(), "en")[0] == ("AGIは2026年に到来する", "ja")  # as before

    class EnglishOriginal:
        quote_original = "China will make three times the US's power by 2030."
        quote_language = "en"
        quote_en = "China will make three times the US's power by 2030."

    assert quote_order(EnglishOriginal(), "ja") == [(EnglishOriginal.quote_original, "en")]


def test_the_api_takes_a_claim_with_a_ja_block_and_refuses_a_bad_one(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        token = create_token(session, "writer", ["claims:write"], now=NOW).plaintext
        session.commit()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"}
    text = (
        (VALID / "power-ratio.yaml")
        .read_text("utf-8")
        .replace("slug: power-ratio", "slug: power-ratio-ja")
    )
    bad = client.post("/api/v1/claims", content=text + "ja:\n  title: 5\n", headers=headers)
    assert bad.status_code == 422, bad.text
    assert any(e["field"] == "ja.title" for e in bad.json()["errors"]), bad.json()
    good = client.post("/api/v1/claims", content=text + JA_BLOCK, headers=headers)
    assert good.status_code == 201, good.text
    shown = client.get("/api/v1/claims/power-ratio-ja", headers={"Accept-Language": "ja"})
    assert shown.json()["title"] == "2030年に中国の発電量は米国の3倍になる"
