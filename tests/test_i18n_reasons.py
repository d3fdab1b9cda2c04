"""Reason texts in English and Japanese from the same structured parts: Japanese number, rate,
period and date style with the digits of the English text, and every claim of the essay
catalogue (claims/ and the bundled data, fixed clocks) saying the same numbers in both."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlmodel import Session, select

from tracker import status
from tracker.bundled import load_bundled
from tracker.claims import sync_claims_dir
from tracker.clock import FixedClock, use_clock
from tracker.criteria import Criterion
from tracker.evaluation import ClaimFacts, SeriesData, SeriesPoint, evaluate
from tracker.evaluation.text import en
from tracker.i18n import format_date
from tracker.i18n.catalogs import gettext_in, translations
from tracker.i18n.reasons import (
    ja_number,
    ja_period,
    ja_rate,
    parts_of,
    reason_is_translated,
    reason_text,
    render,
)
from tracker.models import Claim, Evaluation
from tracker.numbers import format_number, format_pair
from tracker.sources.base import period_start

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_DIR = ROOT / "claims"
CRITERION: TypeAdapter[Any] = TypeAdapter(Criterion)
UTC = dt.UTC


# --- Japanese numbers, rates, periods and dates ---


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("123.97 million", "1億2,397万"),  # the issue's own example: 1億2,397万人
        ("124.0 million", "1億2,400万"),
        ("1.409 billion", "14億900万"),
        ("1.2 billion", "12億"),
        ("1.0 million", "100万"),
        ("2.345 million", "234万5,000"),
        ("-2.345 million", "-234万5,000"),
        ("5.3 trillion", "5兆3,000億"),
        ("999.9 trillion", "999兆9,000億"),
        ("1.23456789 million", "123.456789万"),  # finer than one: in 万 with decimals
        ("10,583", "10,583"),  # below a million: as printed (10,583 TWh)
        ("2.34", "2.34"),
        ("0.0302", "0.0302"),
        ("5e+26", "5e+26"),
        ("4.8e-05", "4.8e-05"),
        ("0", "0"),
        ("—", "—"),
    ],
)
def test_japanese_numbers_keep_the_english_digits(english: str, japanese: str) -> None:
    assert ja_number(english) == japanese
    assert _numbers_ja(japanese) == _numbers_en(english)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123_970_000, "1億2,400万"),  # four significant figures, as in English ("124.0 million")
        (123_949_999, "1億2,390万"),
        (1_408_975_000, "14億900万"),
        (999_999_999, "10億"),  # "1.0 billion", never "1000 million"
        (10_583.4, "10,583"),
    ],
)
def test_japanese_numbers_round_as_the_english_formatter(value: float, expected: str) -> None:
    assert ja_number(format_number(value)) == expected


@pytest.mark.parametrize(
    ("value", "threshold"),
    [
        (69_630_000, 69_620_000),
        (123_456_789, 123_456_700),
        (1_234_567.89, 1_234_567.8),
        (3.002, 3.0),
        (2.998e9, 3.0e9),
    ],
)
def test_near_threshold_values_differ_from_the_threshold_in_both_languages(
    value: float, threshold: float
) -> None:
    value_text, threshold_text = format_pair(value, threshold)
    assert value_text != threshold_text
    assert ja_number(value_text) != ja_number(threshold_text)
    # and each still reads as the number it stands for, to the digits shown
    assert _numbers_ja(ja_number(value_text)) == _numbers_en(value_text)


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("+5.1 %/yr", "年+5.1%"),
        ("-0.04 %/yr", "年-0.04%"),
        ("4.37x/yr", "年4.37倍"),
    ],
)
def test_japanese_rates(english: str, japanese: str) -> None:
    assert ja_rate(english) == japanese


@pytest.mark.parametrize(
    ("period", "japanese"),
    [
        ("2030", "2030年"),
        ("2026-07", "2026年7月"),
        ("2026-Q3", "2026年第3四半期"),
        ("2026-W05", "2026年第5週"),
        ("2026-07-03", "2026年7月3日"),
        ("2020..2030", "2020年〜2030年"),
        ("2025-01..2025-12", "2025年1月〜2025年12月"),
    ],
)
def test_japanese_periods(period: str, japanese: str) -> None:
    assert ja_period(period) == japanese


def test_japanese_dates() -> None:
    assert format_date(dt.date(2026, 12, 31), "ja") == "2026年12月31日"
    assert format_date(dt.date(2027, 1, 6), "ja") == "2027年1月6日"
    assert format_date(dt.date(2026, 12, 31), "en") == "2026-12-31"


# --- rendering reasons ---


def _series(key: str, values: dict[str, float], unit: str) -> SeriesData:
    known = dt.datetime(2026, 3, 1, tzinfo=UTC)
    points = tuple(
        SeriesPoint(p, period_start(p), v, i + 1, 7, known)
        for i, (p, v) in enumerate(sorted(values.items()))
    )
    return SeriesData(key, unit, "annual", 180, 365, points)


def test_a_population_reason_in_both_languages_with_the_same_numbers() -> None:
    population = {"2021": 125_500_000.0, "2022": 124_950_000.0, "2023": 124_350_000.0}
    population["2024"] = 123_970_000.0
    criterion = CRITERION.validate_python(
        {
            "key": "japan-population",
            "type": "threshold",
            "series": {"indicator": "wb.population.jpn"},
            "comparator": "<",
            "threshold": 100_000_000,
            "mode": "at_period",
            "period": "2030",
        }
    )
    result = evaluate(
        ClaimFacts("japan-population", deadline=dt.date(2030, 12, 31)),
        [criterion],
        {"wb.population.jpn": _series("wb.population.jpn", population, "persons")},
        now=dt.datetime(2026, 6, 1, 9, tzinfo=UTC),
    )
    english = reason_text(result, "en")
    japanese = reason_text(result, "ja")
    assert english == result.reason == en(result.reason_parts)
    assert english.startswith(
        "124.0 million in 2024; needs -3.5 %/yr to reach 100.0 million by 2030"
    )
    assert japanese.startswith("2024年は1億2,400万；2030年までに1億に達するには年-3.5%が必要")
    assert "projected 120.9 million (119.7 million–122.0 million)" in english
    assert "予測は1億2,090万（1億1,970万〜1億2,200万）" in japanese
    assert _numbers_ja(japanese) == _numbers_en(english)


def test_a_reason_stored_without_parts_shows_its_english_text_marked() -> None:
    old = Evaluation(
        claim_id=1,
        claim_version=1,
        evaluated_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
        as_of=dt.datetime(2026, 1, 1, tzinfo=UTC),
        state="open",
        reason="2.34 in 2025; needs +28.1 %/yr to reach 3.0 by 2026",
        fingerprint="0" * 64,
        details={"criteria": []},
        evaluator_version="1.4.0",
    )
    assert reason_text(old, "ja") == old.reason
    assert not reason_is_translated(old, "ja")
    assert reason_is_translated(old, "en")


# --- every message id has its Japanese ---


def _message_ids() -> set[str]:
    """The message ids the evaluator and the dashboard build reasons from (their source)."""
    found: set[str] = set()
    files = [*(ROOT / "tracker" / "evaluation").glob("*.py"), ROOT / "tracker/web/wording.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg"):
                continue
            first = node.args[0]
            options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            for option in options:
                value = ast.literal_eval(option)
                assert isinstance(value, str), f"{path}: a msg() id that is not a literal"
                found.add(value)
    found |= {f"{c} {{x}}" for c in (">=", ">", "<=", "<")}  # text.rule's messages
    return found


def test_every_reason_message_has_a_japanese_translation_with_the_same_slots() -> None:
    ids = _message_ids()
    assert len(ids) > 60
    catalog = translations("ja", "reasons")._catalog  # type: ignore[attr-defined]
    for msgid in sorted(ids):
        translated = gettext_in("ja", msgid, "reasons")
        assert msgid in catalog, f"no Japanese for {msgid!r}"
        if _has_words(msgid):
            assert translated != msgid, f"{msgid!r} left in English"
        slots = set(re.findall(r"\{(\w+)\}", msgid))
        assert set(re.findall(r"\{(\w+)\}", translated)) == slots, msgid


# --- the essay catalogue, in both languages ---


def _has_words(msgid: str) -> bool:
    return re.search(r"[A-Za-z]", re.sub(r"\{\w+\}", "", msgid)) is not None


def _walk_msgids(part: Any) -> list[str]:
    if isinstance(part, dict):
        out = [part["m"]] if "m" in part else []
        for key, value in part.items():
            if key == "i":
                for item in value:
                    out += _walk_msgids(item)
            elif key not in ("m", "j"):
                out += _walk_msgids(value)
        return out
    return []


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 12, 7, 9, tzinfo=UTC),
        dt.datetime(2027, 7, 1, 9, tzinfo=UTC),
        dt.datetime(2031, 7, 1, 9, tzinfo=UTC),
        dt.datetime(2036, 7, 1, 9, tzinfo=UTC),
    ],
    ids=lambda d: d.date().isoformat(),
)
def test_every_essay_claim_says_the_same_numbers_in_both_languages(engine, now) -> None:
    with use_clock(FixedClock(now)):
        with Session(engine) as session:
            sync_claims_dir(session, CLAIMS_DIR, now=now)
            session.commit()
        assert all(s.ok for s in load_bundled(engine, now=now).loaded)
        with Session(engine) as session:
            status.evaluate_claims(session, now=now)
            session.commit()
            claims = session.exec(select(Claim).order_by(Claim.slug)).all()
            assert len(claims) == 14
            for claim in claims:
                row = session.get(Evaluation, claim.status_evaluation_id)
                assert row is not None, claim.slug
                stored = row.details["reason_parts"]
                parts = parts_of(row)  # references to the criteria's parts resolved
                # a criterion's parts are stored once, the claim's reason referring to them
                assert len(json.dumps(stored)) <= len(json.dumps(parts))
                if claim.kind == "hard" and row.state != "error":
                    assert '{"c": ' in json.dumps(stored), (claim.slug, stored)
                assert render(parts, "en") == row.reason  # the stored English, byte for byte
                for msgid in _walk_msgids(parts):
                    if _has_words(msgid):
                        assert gettext_in("ja", msgid, "reasons") != msgid, (claim.slug, msgid)
                english, japanese = reason_text(row, "en"), reason_text(row, "ja")
                assert english == row.reason
                assert japanese != english and reason_is_translated(row, "ja")
                assert _numbers_ja(japanese) == _numbers_en(english), (claim.slug, japanese)
                # every criterion's reason too
                for index, criterion in enumerate(row.details["criteria"]):
                    stored = row.details["criteria_reason_parts"][index]
                    assert render(stored, "en") == criterion["reason"]
                    assert _numbers_ja(render(stored, "ja")) == _numbers_en(criterion["reason"])


# --- comparing the numbers of two texts ---

_ISO = re.compile(r"\b(\d{4})-(?:Q|W)?(\d{1,2})(?:-(\d{2}))?\b")
_SCALES = {"million": 6, "billion": 9, "trillion": 12}
_NUMBER = re.compile(r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")


def _decimals(text: str) -> Counter[Decimal]:
    return Counter(
        Decimal(m.replace(",", "")).normalize() for m in _NUMBER.findall(text.replace("−", "-"))
    )


def _numbers_en(text: str) -> Counter[Decimal]:
    """The numbers of an English reason: dates and periods as their parts (2026-07-03 → 2026,
    7, 3; 2026-Q3 → 2026, 3), scaled words as their values (124.0 million → 124000000)."""
    text = _ISO.sub(r" \1 \2 \3 ", text)
    text = re.sub(
        r"(-?\d+(?:\.\d+)?) (million|billion|trillion)",
        lambda m: format(Decimal(m[1]).scaleb(_SCALES[m[2]]), "f"),
        text,
    )
    return _decimals(text.replace("..", " ").replace("–", " "))


_JA_GROUPED = re.compile(r"(-?)((?:[\d,]+兆)?(?:[\d,]+億)?(?:[\d,.]+万)?)([\d,]*)")


def _numbers_ja(text: str) -> Counter[Decimal]:
    """The numbers of a Japanese reason, 万/億/兆 forms as their values (1億2,397万 →
    123970000); dates and periods (2026年7月3日, 2026年第3四半期) as their parts."""

    def value(match: re.Match[str]) -> str:
        sign, grouped, rest = match.groups()
        if not grouped:
            return match[0]
        total = Decimal(0)
        for amount, unit in re.findall(r"([\d,.]+)([兆億万])", grouped):
            total += Decimal(amount.replace(",", "")).scaleb({"兆": 12, "億": 8, "万": 4}[unit])
        if rest:
            total += Decimal(rest.replace(",", ""))
        return f" {sign}{format(total, 'f')} "

    text = _ISO.sub(r" \1 \2 \3 ", text)  # verbatim text (a rubric) keeps its ISO dates
    text = _JA_GROUPED.sub(value, text)
    text = re.sub(r"[年月日第〜]", " ", text)
    return _decimals(text)


def test_a_reason_names_an_outcome_as_the_dashboard_does() -> None:
    """One vocabulary for a verdict: the Japanese outcome words inside reasons are the
    dashboard catalog's translations of its outcome labels."""
    from tracker.i18n.catalogs import gettext_in
    from tracker.i18n.reasons import OUTCOME_NAMES_JA
    from tracker.web.wording import OUTCOME_LABELS

    assert set(OUTCOME_NAMES_JA) == set(OUTCOME_LABELS)
    for outcome, label in OUTCOME_LABELS.items():
        assert OUTCOME_NAMES_JA[outcome] == gettext_in("ja", label)
