"""Message catalogs: gettext `.po` files under tracker/i18n/locales/<lang>/LC_MESSAGES/<domain>.po,
compiled with Babel when first used in a process (no binary `.mo` is committed or shipped).

Domains: `messages` — the dashboard, feed, calendar and problem details; `reasons` — reason
texts and other claim wording built from structured parts. English is the source language: an
English reader gets the message id itself.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tracker.i18n import Lang, current_lang

LOCALES_DIR: Final = Path(__file__).parent / "locales"
DOMAINS: Final = ("messages", "reasons")


def po_path(lang: Lang, domain: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(lang: Lang, domain: str = "messages") -> gettext.NullTranslations:
    """The compiled catalog of `domain` in `lang` (English: no translation). A missing `.po`
    is an error for a supported language, not a silent fallback to English."""
    if lang == "en":
        return gettext.NullTranslations()
    path = po_path(lang, domain)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_in(lang: Lang, message: str, domain: str = "messages") -> str:
    return translations(lang, domain).gettext(message)


def ngettext_in(lang: Lang, singular: str, plural: str, n: int, domain: str = "messages") -> str:
    return translations(lang, domain).ngettext(singular, plural, n)


def _(message: str) -> str:
    """`message` in the current request's language (domain `messages`)."""
    return gettext_in(current_lang(), message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return ngettext_in(current_lang(), singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it (module-level labels, translated
    where they are shown: `_(LABELS[key])`)."""
    return message


def lazy_(message: str) -> str:
    """`_` under another name, for code where `_` is a throwaway variable."""
    return _(message)


def reason_gettext(message: str) -> str:
    """`message` in the current language, domain `reasons`."""
    return gettext_in(current_lang(), message, "reasons")
