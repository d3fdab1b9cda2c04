"""The `messages` catalog's template, extracted from the code and templates by Babel in-process
(the same as `pybabel extract -F tracker/i18n/babel.cfg tracker`), and a check that the `ja`
catalog holds every message translated. Used by the catalog test and by
`python -m tracker.i18n.extract` (writes tracker/i18n/locales/messages.pot, updates ja).

Only the `messages` domain: reason texts (`reasons`) are kept by their own tooling. Files
under tracker/i18n/ and the migrations are not scanned.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from tracker.i18n.catalogs import LOCALES_DIR, po_path

PACKAGE_DIR: Final = Path(__file__).resolve().parent.parent
MAPPING: Final = Path(__file__).parent / "babel.cfg"
POT_PATH: Final = LOCALES_DIR / "messages.pot"
SKIPPED_DIRS: Final = ("i18n", "migrations")
CREATED: Final = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)  # fixed: the file changes only with ids


def extract() -> Catalog:
    """Every `messages` id used in tracker/'s Python and templates, as a template catalog."""
    with MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(MAPPING))  # type: ignore[no-untyped-call]
    catalog = Catalog(
        project="tracker",
        domain="messages",
        charset="utf-8",
        creation_date=CREATED,
        header_comment="# The `messages` catalog's template (python -m tracker.i18n.extract).",
    )
    for path in sorted(PACKAGE_DIR.iterdir()):
        if not path.is_dir() or path.name in SKIPPED_DIRS or path.name.startswith(("_", ".")):
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(path), method_map, options_map, keywords=DEFAULT_KEYWORDS, strip_comment_tags=True
        ):
            location = (f"tracker/{path.name}/{filename}", lineno)
            catalog.add(message, None, [location], auto_comments=comments, context=context)
    for filename, lineno, message, comments, context in _top_level():
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _top_level() -> Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]]:
    """The modules directly in tracker/ (extract_from_dir walks directories only)."""
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        for lineno, message, comments, context in extract_from_file(
            "python", str(path), keywords=DEFAULT_KEYWORDS, strip_comment_tags=True
        ):
            yield f"tracker/{path.name}", lineno, message, comments, context


MessageId = str | tuple[str, ...]


def message_ids(catalog: Catalog) -> set[MessageId]:
    """The ids of `catalog` (a plural message: its (singular, plural) pair)."""
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def pot_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=100, include_lineno=False)
    return buffer.getvalue()


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain="messages")


def untranslated(catalog: Catalog, ids: set[MessageId]) -> list[str]:
    """The ids of `ids` missing from `catalog`, fuzzy, or with an empty translation."""
    missing: list[str] = []
    for mid in sorted(ids, key=str):
        message = catalog.get(mid[0] if isinstance(mid, tuple) else mid)
        strings = message.string if message is not None else None
        empty = not all(strings) if isinstance(strings, (tuple, list)) else not strings
        if message is None or message.fuzzy or empty:
            missing.append(str(mid))
    return missing


def main() -> int:
    """Write the template and merge it into the ja catalog (new ids untranslated, unused ids
    dropped as obsolete); print the ids still untranslated."""
    template = extract()
    POT_PATH.write_bytes(pot_bytes(template))
    ja_path = po_path("ja", "messages")
    ja = read_catalog(ja_path, "ja")
    ja.update(template, no_fuzzy_matching=True)
    ja.obsolete.clear()
    buffer = io.BytesIO()
    write_po(buffer, ja, sort_output=True, width=100, include_lineno=False, ignore_obsolete=True)
    ja_path.write_bytes(buffer.getvalue())
    missing = untranslated(ja, message_ids(template))
    for mid in missing:
        print(mid)
    print(f"{len(message_ids(template))} messages, {len(missing)} untranslated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
