"""A claim's own words in the reader's language: its title, deadline readings and criterion
descriptions as the claim file gives them in that language (its `ja:` block, stored with every
revision in the claim's normalised document), else in English, marked as such.

Pure: reads the stored document (`Claim.spec`, a revision's `content`), no database or clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from markupsafe import Markup, escape

from tracker.i18n import Lang, current_lang
from tracker.i18n.catalogs import gettext_in

CLAIM_FIELDS: Final = ("title", "deadline_interpretation", "deadline_alternative")


def _document(claim: Any) -> Mapping[str, Any]:
    if isinstance(claim, Mapping):
        spec = claim.get("spec", claim)
        return spec if isinstance(spec, Mapping) else {}
    spec = getattr(claim, "spec", None)
    return spec if isinstance(spec, Mapping) else {}


def _english(claim: Any, field: str) -> str | None:
    value = claim.get(field) if isinstance(claim, Mapping) else getattr(claim, field, None)
    if value is None:
        value = _document(claim).get(field)
    return None if value is None else str(value)


def translation(claim: Any, lang: Lang) -> Mapping[str, Any]:
    """The claim's block of words in `lang` (empty for English or when it gives none)."""
    if lang == "en":
        return {}
    block = _document(claim).get(lang)
    return block if isinstance(block, Mapping) else {}


def claim_text(claim: Any, field: str, lang: Lang | None = None) -> tuple[str | None, Lang]:
    """(the claim's `field` in `lang` where the claim gives it, else in English; the language
    of that text). `field`: title, deadline_interpretation or deadline_alternative."""
    language = lang or current_lang()
    translated = translation(claim, language).get(field)
    if isinstance(translated, str) and translated:
        return translated, language
    return _english(claim, field), "en"


def criterion_text(
    claim: Any, key: str, english: str | None, lang: Lang | None = None
) -> tuple[str | None, Lang]:
    """(a criterion's description in `lang` where the claim gives it, else `english`; its
    language)."""
    language = lang or current_lang()
    criteria = translation(claim, language).get("criteria")
    if isinstance(criteria, Mapping):
        translated = criteria.get(key)
        if isinstance(translated, str) and translated:
            return translated, language
    return english, "en"


def marked(text: str | None, text_lang: Lang, lang: Lang | None = None) -> Markup:
    """`text` for a page in `lang`: as is when in that language; else in a `lang="en"` span
    with a small marker saying it is English ("（英語）")."""
    language = lang or current_lang()
    if text is None:
        return Markup("")
    if text_lang == language:
        return escape(text)
    marker = gettext_in(language, "English", "reasons")
    return Markup('<span lang="{}">{}</span> <small class="untranslated">({})</small>').format(
        text_lang, text, marker
    )


def quote_order(claim: Any, lang: Lang | None = None) -> list[tuple[str, str]]:
    """The quote's texts as (text, language) pairs in reading order: the original first when
    the page is in its language or the page is English (as before), else the reader's
    language first (the English rendering first on a page in a third language)."""
    language = lang or current_lang()
    original = getattr(claim, "quote_original", None)
    original_lang = getattr(claim, "quote_language", None) or "und"
    english = getattr(claim, "quote_en", None)
    texts: list[tuple[str, str]] = []
    if original:
        texts.append((str(original), str(original_lang)))
    if english and english != original:
        texts.append((str(english), "en"))
    if language == "en" or not texts:
        return texts
    return sorted(texts, key=lambda t: 0 if t[1].split("-")[0] == language else 1)


__all__ = [
    "CLAIM_FIELDS",
    "claim_text",
    "criterion_text",
    "marked",
    "quote_order",
    "translation",
]
