"""Reason texts in the reader's language, rendered from the structured parts an evaluation
stores (tracker.evaluation.text) with the `reasons` catalog.

`reason_text(evaluation_or_status, lang)` is the one entry point for pages, the API, the feed
and the calendar: it takes a stored `Evaluation` row, an `EvaluationResult` or
`CriterionResult`, a status dict or schema (anything with `reason` and, where stored, its
parts) and answers the reason in `lang`. English is the evaluator's own text, byte for byte; an
evaluation stored before reasons had parts shows its stored English text in every language.

Japanese numbers keep the digits of the English text (so both languages say the same numbers):
"124.0 million" reads "1億2,400万", "1.409 billion" "14億900万", "10,583" stays; rates read
"年+5.1%"; periods "2030年", "2026年7月", "2026年第3四半期"; days "2026年12月31日".
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tracker.evaluation.text import resolved
from tracker.i18n import Lang, current_lang, format_date
from tracker.i18n.catalogs import gettext_in

# the details keys an evaluation's parts are stored under (tracker.status)
PARTS_KEY: Final = "reason_parts"
CRITERIA_PARTS_KEY: Final = "criteria_reason_parts"

_SCALED = re.compile(r"^(-?)(\d+(?:\.\d+)?) (million|billion|trillion)$")
_SCALE_EXPONENT: Final = {"million": 6, "billion": 9, "trillion": 12}
_JA_UNITS: Final = ((10**12, "兆"), (10**8, "億"), (10**4, "万"))
_SEPARATORS_JA: Final = {"; ": "；", ", ": "、"}

# the outcome words of the dashboard's `messages` catalog (tracker.web.wording.OUTCOME_LABELS):
# one vocabulary for a verdict, in a reason as on the page
OUTCOME_NAMES_JA: Final = {
    "true": "実現",
    "false": "不実現",
    "partial": "一部実現",
    "void": "無効",
    "ambiguous": "判断不能",
}
_FUNCTIONS_JA: Final = {"mean": "平均", "sum": "合計"}


# --- numbers ---


def ja_number(text: str) -> str:
    """A number as tracker.numbers printed it, in Japanese style with the same digits: scaled
    words as 万/億/兆 ("123.97 million" → "1億2,397万"); anything else as printed ("10,583",
    "2.34", "5e+26")."""
    match = _SCALED.match(text)
    if match is None:
        return text
    sign, mantissa, word = match.groups()
    try:
        value = Decimal(mantissa).scaleb(_SCALE_EXPONENT[word])
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return text
    return sign + _ja_integer(value)


def _ja_integer(value: Decimal) -> str:
    if value != value.to_integral_value():  # more digits than a yen: in 万, as a decimal
        return f"{_plain(value.scaleb(-4))}万"
    rest = int(value)
    groups = []
    for size, unit in _JA_UNITS:
        part, rest = divmod(rest, size)
        if part:
            groups.append(f"{part:,}{unit}")
    if rest:
        groups.append(f"{rest:,}")
    return "".join(groups) or "0"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def ja_rate(text: str) -> str:
    """ "+5.1 %/yr" → "年+5.1%"; "2.5x/yr" → "年2.5倍"."""
    if text.endswith(" %/yr"):
        return f"年{text[:-5]}%"
    if text.endswith("x/yr"):
        return f"年{text[:-4]}倍"
    return text


def ja_period(value: str) -> str:
    """ "2030" → "2030年", "2026-07" → "2026年7月", "2026-Q3" → "2026年第3四半期",
    "2026-W05" → "2026年第5週", "2026-07-03" → "2026年7月3日", "2020..2030" → a range."""
    if ".." in value:
        start, _, end = value.partition("..")
        return f"{ja_period(start)}〜{ja_period(end)}"
    if re.fullmatch(r"\d{4}", value):
        return f"{value}年"
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if match:
        return f"{match[1]}年{int(match[2])}月"
    match = re.fullmatch(r"(\d{4})-Q([1-4])", value)
    if match:
        return f"{match[1]}年第{match[2]}四半期"
    match = re.fullmatch(r"(\d{4})-W(\d{2})", value)
    if match:
        return f"{match[1]}年第{int(match[2])}週"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return _ja_day(value)
    return value


def _ja_day(iso: str) -> str:
    try:
        return format_date(dt.date.fromisoformat(iso), "ja")
    except ValueError:
        return iso


def _leaf_ja(kind: str, text: str) -> str:
    if kind == "n":
        return ja_number(text)
    if kind in ("r", "x"):
        return ja_rate(text)
    if kind == "f":
        return f"{text[:-1]}倍" if text.endswith("x") else text
    if kind == "c":
        return text.replace(" %", "%")
    if kind == "p":
        return ja_period(text)
    if kind == "d":
        return _ja_day(text)
    if kind == "o":
        return OUTCOME_NAMES_JA.get(text, text)
    if kind == "a":
        return _FUNCTIONS_JA.get(text, text)
    return text


# --- rendering ---


def render(part: Any, lang: Lang) -> str:
    """Parts (tracker.evaluation.text) as text in `lang`."""
    if lang == "en":
        from tracker.evaluation.text import en

        return en(part)
    return _render(part, lang)


def _render(part: Any, lang: Lang) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, list):
        return _leaf_ja(part[0], part[1]) if len(part) == 2 else str(part)
    if "j" in part:
        separator: str = _SEPARATORS_JA.get(part["j"], part["j"])
        return separator.join(_render(p, lang) for p in part["i"])
    template = gettext_in(lang, part["m"], "reasons")
    args = {k: _render(v, lang) for k, v in part.items() if k != "m"}
    try:
        return template.format_map(args)
    except (KeyError, IndexError, ValueError):  # a broken translation: the English message
        return str(part["m"]).format_map(args)


def parts_of(item: Any) -> Any:
    """The parts of an evaluation's reason (a stored row, a result, a status dict or schema),
    their references to the criteria's parts resolved; None when it has none."""
    if isinstance(item, dict):
        details = item.get("details")
        if not (isinstance(details, dict) and PARTS_KEY in details):
            return item.get(PARTS_KEY)
    else:
        parts = getattr(item, PARTS_KEY, None)
        if parts is not None:
            return parts  # a result: its parts as built
        details = getattr(item, "details", None)
        if not isinstance(details, dict):
            return None
    parts = details.get(PARTS_KEY)
    if parts is None:
        return None
    criteria = details.get(CRITERIA_PARTS_KEY)
    return resolved(parts, criteria if isinstance(criteria, list) else [])


def _reason_of(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("reason") or "")
    return str(getattr(item, "reason", "") or "")


def reason_text(item: Any, lang: Lang | None = None) -> str:
    """The reason of an evaluation (a stored row, a result, a status dict or schema) in `lang`
    (default: the current request's). English: the stored text as is. Another language: the
    reason rendered from its stored parts; without parts (stored before they were), the
    English text (see `reason_is_translated`)."""
    language = lang or current_lang()
    reason = _reason_of(item)
    if language == "en":
        return reason
    parts = parts_of(item)
    if parts is None:
        return reason
    return _render(parts, language)


def reason_is_translated(item: Any, lang: Lang | None = None) -> bool:
    """Whether `reason_text(item, lang)` is in `lang` (False: the English fallback)."""
    language = lang or current_lang()
    return language == "en" or parts_of(item) is not None


def criterion_reason_text(item: Any, index: int, lang: Lang | None = None) -> str | None:
    """The reason of an evaluation's `index`-th criterion in `lang`, from the stored parts
    (None when there are none: show the criterion's stored `reason`)."""
    language = lang or current_lang()
    details = item.get("details") if isinstance(item, dict) else getattr(item, "details", None)
    if not isinstance(details, dict):
        return None
    criteria = details.get(CRITERIA_PARTS_KEY)
    if not isinstance(criteria, list) or index >= len(criteria) or criteria[index] is None:
        return None
    return render(criteria[index], language)


def public_details(details: Any, lang: Lang | None = None) -> dict[str, Any]:
    """An evaluation's stored details as the API shows them: without the stored parts, each
    criterion's `reason` in `lang` (rendered from its parts where stored)."""
    if not isinstance(details, dict):
        return {}
    language = lang or current_lang()
    out = {k: v for k, v in details.items() if k != PARTS_KEY and k != CRITERIA_PARTS_KEY}
    parts = details.get(CRITERIA_PARTS_KEY)
    criteria = details.get("criteria")
    if language != "en" and isinstance(parts, list) and isinstance(criteria, list):
        out["criteria"] = [
            {**c, "reason": _render(p, language)} if isinstance(c, dict) and p is not None else c
            for c, p in zip(criteria, parts, strict=False)
        ] + criteria[len(parts) :]
    return out


__all__ = [
    "criterion_reason_text",
    "ja_number",
    "ja_period",
    "ja_rate",
    "public_details",
    "reason_is_translated",
    "reason_text",
    "render",
]
